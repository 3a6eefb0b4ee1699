"""The local workbook backend: the spreadsheet is one `.xlsx` file, through openpyxl.

This is the embedded default: no credentials, a file on disk or on a shared drive.
`read` loads every tab in openpyxl's read-only mode; `write` reloads the file for
editing, checks that it is still the one that was read, writes only the cells whose
value differs, and replaces the file atomically, keeping rotated backups.

Known limits: openpyxl drops what it does not understand when it saves a workbook
(charts, pictures, pivot tables, some Excel extensions), so keep those in another
file. Loading for editing is slow on large files (100,000 rows take tens of seconds).
A plain file offers no compare-and-swap: someone who saves the file in the instant
between the last version check and the replace loses that save.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import stat
import tempfile
import warnings
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from automation.backends.base import NO_LISTS, InitReport
from automation.errors import BackendError, ConflictError, LayoutError
from automation.flags import LABELS, Flag
from automation.layout import FieldSpec, Language, Layout, TableSpec
from automation.model import (
    BoundTable,
    CellValue,
    Formula,
    Grid,
    RowEdit,
    Snapshot,
    TabContent,
    WritePlan,
    WriteReport,
    bind,
    fingerprint,
    is_blank,
    same_value,
)

logger = logging.getLogger(__name__)

DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
TIME_FORMAT = "hh:mm"
LAST_ROW = 1_048_576
PLAIN = frozenset({"s", "n", "b"})  # openpyxl's types of a value kept as read
MAX_LIST_TEXT = 255  # Excel refuses a longer literal list in a data validation

RED = ("FFC7CE", "9C0006")  # Excel's own "light red fill, dark red text"
AMBER = ("FFEB9C", "9C5700")
PICK_FROM_LIST: dict[Language, tuple[str, str]] = {
    "zh": ("请选择", "请从下拉列表中选择一个值。"),
    "en": ("Pick a value", "Please pick a value from the list."),
}
LOAD_ERRORS = (OSError, zipfile.BadZipFile, InvalidFileException, KeyError, ValueError)


class WorkbookBackend:
    """A workbook file read and written whole; see the module docstring for limits."""

    def __init__(self, path: Path, *, backups: int = 3) -> None:
        if backups < 0:
            raise ValueError(f"backups must be 0 or more, not {backups}")
        self.path = Path(path)
        self.backups = backups
        self.name = f"workbook {self.path}"

    # Reading

    def read(self) -> Snapshot:
        """Every tab's values (formulas as `Formula`), trimmed of empty edges."""
        data = self._bytes()
        book = _load(data, self.path, read_only=True)
        try:
            grids = {sheet.title: _read_grid(sheet) for sheet in book.worksheets}
        finally:
            book.close()
        logger.info("read %d tabs from %s", len(grids), self.name)
        return Snapshot(grids=grids, version=_version(data))

    # Writing a plan

    def write(
        self,
        snapshot: Snapshot,
        plan: WritePlan,
        layout: Layout,
        language: Language,
    ) -> WriteReport:
        """Apply a plan made from `snapshot`; write nothing if the file changed since.

        Raises `ConflictError` when the file is no longer the one read, and
        `ValueError` for a datetime that carries a time zone.
        """
        if not plan:
            return WriteReport()

        data = self._bytes()
        self._check_version(data, snapshot.version)
        book = _load(data, self.path, read_only=False)
        writer = _PlanWriter(book, layout, language)
        for edit in plan.edits:
            writer.apply_edit(edit)
        for content in plan.outputs:
            writer.apply_content(content)

        if writer.cells_written:
            self._save(book, expected=snapshot.version)
        report = writer.report()
        logger.info(
            "wrote %d cells in %d tabs of %s, skipped %d changed rows",
            report.cells_written,
            len(report.tabs_written),
            self.name,
            len(report.rows_skipped),
        )
        return report

    # Laying out the tabs

    def init(
        self,
        layout: Layout,
        defaults: dict[str, list[dict[str, object]]],
        language: Language,
        lists: Mapping[str, Sequence[str]] = NO_LISTS,
    ) -> InitReport:
        """Create the file, missing tabs, header cells, default rows and drop-downs.

        Never moves or deletes a column, a row or a value; a second run changes
        nothing and leaves the file untouched.
        """
        if self.path.exists():
            data = self._bytes()
            book = _load(data, self.path, read_only=False)
            expected: str | None = _version(data)
        else:
            book = Workbook()
            book.remove(book.active)
            expected = None

        builder = _Initializer(book, language, lists)
        for spec in layout.tables:
            builder.lay_out(spec, defaults.get(spec.key, []))
        report = builder.report()
        if report.changed or expected is None:
            self._save(book, expected=expected)
        logger.info(
            "init of %s: %d tabs created, %d columns and %d rows added, %d formats",
            self.name,
            len(report.tabs_created),
            report.columns_added,
            report.rows_added,
            report.formats_added,
        )
        return report

    def append_rows(
        self,
        layout: Layout,
        language: Language,
        table_key: str,
        rows: list[dict[str, CellValue]],
    ) -> None:
        """Write rows (field key to value) under the last used row of a tab.

        Raises `LayoutError` when the tab or a column a row needs is missing.
        """
        data = self._bytes()
        book = _load(data, self.path, read_only=False)
        spec = layout.table(table_key)
        sheet = _find_sheet(book, spec)
        if sheet is None:
            raise LayoutError(
                f"{self.name} has no tab {spec.title(language)!r}: "
                "run `automation init` first"
            )

        columns = _columns(spec, sheet)
        next_row = _last_used_row(sheet) + 1
        for offset, row in enumerate(rows):
            for key, value in row.items():
                if key not in columns:
                    raise LayoutError(
                        f"tab {sheet.title!r} has no column for {key!r}: "
                        "run `automation init` to add it"
                    )
                _put(sheet.cell(next_row + offset, columns[key] + 1), value)
        self._save(book, expected=_version(data))
        logger.info("appended %d rows to %s of %s", len(rows), table_key, self.name)

    # The file

    def _bytes(self) -> bytes:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            raise BackendError(
                f"no workbook at {self.path}: run `automation init` to create it"
            ) from None
        except OSError as error:
            raise BackendError(
                f"cannot read {self.path}: {error.strerror}; check the path and "
                "that no program holds the file locked"
            ) from error

    def _check_version(self, data: bytes | None, expected: str | None) -> None:
        found = None if data is None else _version(data)
        if found != expected:
            raise ConflictError(
                f"{self.name} changed while the cycle ran; nothing was written, "
                "the next cycle will retry"
            )

    def _current(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def _save(self, book: Workbook, *, expected: str | None) -> None:
        """Replace the file with `book` so that a crash leaves the old or the new."""
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=folder
        )
        temp = Path(temp_name)
        try:
            with os.fdopen(handle, "wb") as stream:
                book.save(stream)
                stream.flush()
                os.fsync(stream.fileno())

            # A last look narrows the window in which someone else's save is lost.
            current = self._current()
            self._check_version(current, expected)
            if current is not None:
                _copy_mode(self.path, temp)
                self._rotate_backups(current)
            temp.replace(self.path)
            _sync_folder(folder)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def _rotate_backups(self, previous: bytes) -> None:
        """Keep the file as it was in `.1`, shifting older copies up to `.N`."""
        if not self.backups:
            return
        for number in range(self.backups, 1, -1):
            older = self._backup(number - 1)
            if older.exists():
                older.replace(self._backup(number))
        _write_atomically(self._backup(1), previous)

    def _backup(self, number: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{number}")


# Cell values


def _read_grid(sheet: Any) -> Grid:
    """One read-only tab as rows of values; row `i` of the list is sheet row `i + 1`."""
    sheet.reset_dimensions()  # a wrong <dimension> would pad every row with blanks
    rows: list[list[CellValue]] = []
    for cells in sheet.iter_rows():
        # Text, numbers and booleans pass as they are; this loop runs per cell.
        row = [c.value if c.data_type in PLAIN else _value(c) for c in cells]
        while row and is_blank(row[-1]):
            row.pop()
        rows.append(row)
    while rows and not rows[-1]:
        rows.pop()
    return Grid(title=sheet.title, rows=rows)


def _value(cell: Any) -> CellValue:
    """A cell's value as the engine sees it: formulas kept, dates without a time."""
    value = cell.value
    if cell.data_type == "f":
        text = value if isinstance(value, str) else getattr(value, "text", None)
        return Formula(text or "")
    if isinstance(value, datetime):
        if value.time() == time() and _date_only(cell.number_format):
            return value.date()
        return value
    if isinstance(value, timedelta):
        return value.total_seconds() / 86400
    if isinstance(value, str | int | float | bool | date | time) or value is None:
        return value
    return str(value)


@cache
def _date_only(number_format: str) -> bool:
    """True for a date format that shows no hour, minute or second."""
    shown = re.sub(r'"[^"]*"|\\.|\[[^\]]*\]', "", number_format).lower()
    return "h" not in shown and "s" not in shown


WRAP = Alignment(wrap_text=True, vertical="top")


def _put(cell: Any, value: CellValue) -> None:
    """Write one value the way the engine means it: text stays text."""
    if isinstance(value, Formula):
        text = value.text if value.text.startswith("=") else f"={value.text}"
        cell.value = text
    elif isinstance(value, str):
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.data_type = "s"  # openpyxl would take "=..." for a formula
        if "\n" in value:
            cell.alignment = WRAP  # a check column lists one problem a line
    elif isinstance(value, datetime):
        if value.tzinfo is not None:
            raise ValueError(
                f"cell {cell.coordinate}: {value.isoformat()} carries a time zone; "
                "a workbook keeps naive local times, convert it before writing"
            )
        cell.value = value
        cell.number_format = DATETIME_FORMAT
    elif isinstance(value, date):
        cell.value = value
        cell.number_format = DATE_FORMAT
    elif isinstance(value, time):
        cell.value = value
        cell.number_format = TIME_FORMAT
    elif value is None or isinstance(value, bool | int | float):
        cell.value = value
    else:
        raise TypeError(f"cell {cell.coordinate}: cannot write {type(value).__name__}")


def _id_text(value: object) -> str | None:
    """An id as text, so that 1001 typed as a number matches "1001"."""
    if value is None or isinstance(value, Formula):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


# Tabs and headers


def _find_sheet(book: Workbook, spec: TableSpec) -> Worksheet | None:
    for sheet in book.worksheets:
        if spec.matches_title(sheet.title):
            return sheet
    return None


def _header(sheet: Worksheet) -> list[CellValue]:
    cells = next(sheet.iter_rows(min_row=1, max_row=1), ())
    header = [_value(cell) for cell in cells]
    while header and is_blank(header[-1]):
        header.pop()
    return header


def _bound(spec: TableSpec, sheet: Worksheet) -> BoundTable:
    return bind(spec, Grid(title=sheet.title, rows=[_header(sheet)]))


def _columns(spec: TableSpec, sheet: Worksheet) -> dict[str, int]:
    return dict(_bound(spec, sheet).columns)


def _last_used_row(sheet: Worksheet) -> int:
    last = 0
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if any(not is_blank(value) for value in values):
            last = number
    return last


# Applying a plan


@dataclass
class _Table:
    """A people's tab being edited: its header as read, and where its columns are."""

    spec: TableSpec
    sheet: Worksheet
    bound: BoundTable  # the header as read: fingerprints are taken against it
    columns: dict[str, int]
    width: int
    rows: int  # the last row as loaded; openpyxl's max_row scans every cell
    ids: dict[str, list[int]] | None = None


@dataclass
class _PlanWriter:
    """Applies one plan to a loaded workbook and counts what it wrote."""

    book: Workbook
    layout: Layout
    language: Language
    cells_written: int = 0
    skipped: list[str] = field(default_factory=list)
    tabs: list[str] = field(default_factory=list)
    tables: dict[str, _Table | None] = field(default_factory=dict)

    def report(self) -> WriteReport:
        return WriteReport(self.cells_written, tuple(self.skipped), tuple(self.tabs))

    def apply_edit(self, edit: RowEdit) -> None:
        table = self._table(edit.table)
        number = self._locate(table, edit) if table else None
        if table is None or number is None:
            self.skipped.append(f"{edit.table}:{edit.row}")
            return

        # sheet.cell() per column: sheet[number] recomputes max_column by scanning
        # every cell, which made a 100,000-row write take hours.
        current = [
            _value(table.sheet.cell(number, column + 1))
            for column in range(table.width)
        ]
        if fingerprint(table.bound, current) != edit.fingerprint:
            logger.info("row %s:%d changed since it was read", edit.table, edit.row)
            self.skipped.append(f"{edit.table}:{edit.row}")
            return

        for key, value in edit.cells.items():
            self._edit_cell(table, number, key, value)

    def _edit_cell(
        self, table: _Table, number: int, key: str, value: CellValue
    ) -> None:
        spec = table.spec.field(key) if table.spec.has_field(key) else None
        if spec is None or not (spec.owned or spec.fill):
            logger.warning("refused to write %s.%s: people own it", table.spec.key, key)
            return

        column = table.columns.get(key)
        if column is None:
            column = self._add_column(table, spec)
        cell = table.sheet.cell(number, column + 1)
        old = _value(cell)
        if spec.fill and not spec.owned and not is_blank(old):
            return  # never overwrite what a person typed
        if not same_value(old, value):
            _put(cell, value)
            self._count(table.spec.key)

    def _add_column(self, table: _Table, spec: FieldSpec) -> int:
        column = table.width
        header = table.sheet.cell(1, column + 1)
        _put(header, spec.label(self.language))
        header.font = Font(bold=True)
        table.columns[spec.key] = column
        table.width += 1
        self._count(table.spec.key)
        logger.info("added column %s.%s", table.spec.key, spec.key)
        return column

    def _table(self, key: str) -> _Table | None:
        if key not in self.tables:
            spec = self.layout.table(key)
            sheet = _find_sheet(self.book, spec)
            if sheet is None:
                logger.warning("tab %s is missing: its edits wait for init", key)
                self.tables[key] = None
            else:
                bound = _bound(spec, sheet)
                width = len(bound.grid.header)
                self.tables[key] = _Table(
                    spec, sheet, bound, dict(bound.columns), width, sheet.max_row
                )
        return self.tables[key]

    def _locate(self, table: _Table, edit: RowEdit) -> int | None:
        """The row to edit now: by id when it has one, else by its row number."""
        if edit.item_id is None:
            in_range = 2 <= edit.row <= table.rows
            return edit.row if in_range else None
        if table.ids is None:
            table.ids = _id_index(table)
        found = table.ids.get(_id_text(edit.item_id) or "", [])
        if len(found) != 1:
            logger.info("id of %s:%d found %d times", edit.table, edit.row, len(found))
            return None
        return found[0]

    def apply_content(self, content: TabContent) -> None:
        """Make a tab the service owns hold exactly `content.rows`."""
        spec = self.layout.table(content.table)
        sheet = _find_sheet(self.book, spec)
        if sheet is None:
            sheet = self.book.create_sheet(spec.title(self.language))
        old_rows, old_width = sheet.max_row, sheet.max_column
        if old_rows == 1 and old_width == 1 and sheet.cell(1, 1).value is None:
            old_rows = old_width = 0

        for number, values in enumerate(content.rows, start=1):
            width = max(len(values), old_width if number <= old_rows else 0)
            for column in range(1, width + 1):
                new = values[column - 1] if column <= len(values) else None
                cell = sheet.cell(number, column)
                if not same_value(_value(cell), new):
                    _put(cell, new)
                    self._count(content.table)

        beyond = len(content.rows) + 1
        if old_rows >= beyond:
            cleared = sum(
                not is_blank(value)
                for values in sheet.iter_rows(min_row=beyond, values_only=True)
                for value in values
            )
            if cleared:
                sheet.delete_rows(beyond, old_rows - beyond + 1)
                self._count(content.table, cleared)

    def _count(self, table_key: str, cells: int = 1) -> None:
        self.cells_written += cells
        if table_key not in self.tabs:
            self.tabs.append(table_key)


def _id_index(table: _Table) -> dict[str, list[int]]:
    column = table.columns.get(table.spec.id_key or "")
    index: dict[str, list[int]] = {}
    if column is None:
        return index
    cells = table.sheet.iter_rows(min_row=2, min_col=column + 1, max_col=column + 1)
    for number, (cell,) in enumerate(cells, start=2):
        text = _id_text(_value(cell))
        if text is not None:
            index.setdefault(text, []).append(number)
    return index


# Laying out tabs


@dataclass
class _Initializer:
    """Brings a loaded workbook up to a layout, adding only what is missing."""

    book: Workbook
    language: Language
    lists: Mapping[str, Sequence[str]]
    created: list[str] = field(default_factory=list)
    columns_added: int = 0
    rows_added: int = 0
    formats_added: int = 0

    def report(self) -> InitReport:
        return InitReport(
            tabs_created=tuple(self.created),
            columns_added=self.columns_added,
            rows_added=self.rows_added,
            formats_added=self.formats_added,
        )

    def lay_out(self, spec: TableSpec, defaults: list[dict[str, object]]) -> None:
        sheet = _find_sheet(self.book, spec)
        if sheet is None:
            sheet = self.book.create_sheet(spec.title(self.language))
            sheet.freeze_panes = "A2"
            self.created.append(spec.key)

        columns = self._add_headers(spec, sheet)
        if spec.kind == "config" and defaults and _last_used_row(sheet) <= 1:
            self._add_defaults(spec, sheet, columns, defaults)
        for key, column in columns.items():
            self._add_drop_down(spec.field(key), sheet, column)
        if "flag" in columns:
            self._add_flag_colours(sheet, columns["flag"])

    def _add_headers(self, spec: TableSpec, sheet: Worksheet) -> dict[str, int]:
        bound = _bound(spec, sheet)
        columns = dict(bound.columns)
        width = len(bound.grid.header)
        for missing in bound.missing:
            cell = sheet.cell(1, width + 1)
            _put(cell, missing.label(self.language))
            cell.font = Font(bold=True)
            letter = get_column_letter(width + 1)
            sheet.column_dimensions[letter].width = _width(missing, self.language)
            columns[missing.key] = width
            width += 1
            self.columns_added += 1
        return columns

    def _add_defaults(
        self,
        spec: TableSpec,
        sheet: Worksheet,
        columns: Mapping[str, int],
        defaults: list[dict[str, object]],
    ) -> None:
        for number, row in enumerate(defaults, start=2):
            for key, value in row.items():
                if key not in columns:
                    logger.warning("default for %s.%s has no column", spec.key, key)
                    continue
                _put(sheet.cell(number, columns[key] + 1), _default_value(value))
            self.rows_added += 1

    def _add_drop_down(self, spec: FieldSpec, sheet: Worksheet, column: int) -> None:
        name = {"choice": spec.choices, "status": "statuses", "person": "people"}.get(
            spec.type
        )
        values = list(self.lists.get(name or "", ()))
        if not values:
            return
        if any("," in value for value in values):
            logger.warning("list %s holds a comma: no drop-down for it", name)
            return
        joined = ",".join(value.replace('"', '""') for value in values)
        if len(joined) > MAX_LIST_TEXT:
            logger.info("list %s is too long for a drop-down", name)
            return

        letter = get_column_letter(column + 1)
        area, formula = f"{letter}2:{letter}{LAST_ROW}", f'"{joined}"'
        for existing in sheet.data_validations.dataValidation:
            if str(existing.sqref) == area:
                if existing.formula1 != formula:
                    existing.formula1 = formula
                    self.formats_added += 1
                return
        title, message = PICK_FROM_LIST[self.language]
        rule = DataValidation(
            type="list",
            formula1=formula,
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="warning",
            errorTitle=title,
            error=message,
        )
        rule.add(area)
        sheet.add_data_validation(rule)
        self.formats_added += 1

    def _add_flag_colours(self, sheet: Worksheet, column: int) -> None:
        letter = get_column_letter(column + 1)
        area = f"{letter}2:{letter}{LAST_ROW}"
        present = {
            formula
            for colouring in sheet.conditional_formatting
            for rule in colouring.rules
            for formula in rule.formula or ()
        }
        for flag, (fill, text) in ((Flag.OVERDUE, RED), (Flag.AT_RISK, AMBER)):
            tests = ",".join(f'${letter}2="{label}"' for label in LABELS[flag].values())
            formula = f"OR({tests})"
            if formula in present:
                continue
            rule = FormulaRule(
                formula=[formula],
                fill=PatternFill(start_color=fill, end_color=fill, fill_type="solid"),
                font=Font(color=text),
            )
            sheet.conditional_formatting.add(area, rule)
            self.formats_added += 1


def _default_value(value: object) -> CellValue:
    if value is None or isinstance(
        value, str | int | float | bool | datetime | date | time
    ):
        return value
    return str(value)


# Columns whose content is longer than their label: free text and messages.
WIDE = {"content": 32, "progress": 28, "issue": 32, "comment": 32, "check": 48}
WIDE.update({"message": 70, "customer": 18, "note": 40, "value": 40, "subject": 48})


def _width(spec: FieldSpec, language: Language) -> float:
    """A column width that fits the label and what the column usually holds."""
    label = spec.label(language)
    shown = sum(2 if ord(char) > 0x2E80 else 1 for char in label) + 4
    least = {"datetime": 18, "date": 12, "person": 14, "choice": 14}.get(spec.type, 10)
    return float(min(max(shown, least, WIDE.get(spec.key, 0)), 70))


# Files


def _version(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@contextlib.contextmanager
def _quiet_openpyxl() -> Iterator[None]:
    """Turn openpyxl's warnings about parts it drops into log lines."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        logger.warning("openpyxl: %s", warning.message)


def _load(data: bytes, path: Path, *, read_only: bool) -> Workbook:
    try:
        with _quiet_openpyxl():
            return load_workbook(BytesIO(data), read_only=read_only)
    except LOAD_ERRORS as error:
        raise BackendError(
            f"cannot open {path} as a workbook ({error}); restore it from "
            f"{path.name}.1 or run `automation init` on a new path"
        ) from error


def _write_atomically(target: Path, data: bytes) -> None:
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        temp.replace(target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _copy_mode(source: Path, target: Path) -> None:
    # mkstemp makes the file private; a shared workbook keeps its permissions.
    with contextlib.suppress(OSError):
        target.chmod(stat.S_IMODE(source.stat().st_mode))


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable, where the system allows it."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
