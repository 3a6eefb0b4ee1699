"""The local workbook backend: the spreadsheet is one `.xlsx` file, through openpyxl.

This is the embedded default: no credentials, a file on disk or on a shared drive.
`read` loads every tab in openpyxl's read-only mode; `write` reloads the file for
editing, checks that it is still the one that was read, writes only the cells whose
value differs, and replaces the file atomically, keeping rotated backups. What a
plan does to the loaded workbook is in `workbook_plan`, what `init` adds to it in
`workbook_layout`, and how cells are read and written in `cells`.

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
import stat
import warnings
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from io import BytesIO
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from automation.backends.base import NO_LISTS, InitReport, by_column, no_tab
from automation.backends.cells import (
    bind_header,
    cell_value,
    find_sheet,
    last_used_row,
    put_value,
)
from automation.backends.workbook_layout import lay_out
from automation.backends.workbook_plan import PlanWriter
from automation.errors import BackendError, ConflictError
from automation.files import write_atomically
from automation.layout import Language, Layout
from automation.model import (
    CellValue,
    Grid,
    Snapshot,
    WritePlan,
    WriteReport,
    is_blank,
)

logger = logging.getLogger(__name__)

PLAIN = frozenset({"s", "n", "b"})  # openpyxl's types of a value kept as read
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
        writer = PlanWriter(book, layout, language)
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

        report = lay_out(book, layout, defaults, language, lists)
        if report.changed or expected is None:
            self._save(book, expected=expected)
        logger.info("init of %s: %s", self.name, report.summary())
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
        sheet = find_sheet(book, spec)
        if sheet is None:
            raise no_tab(self.name, spec, language)
        columns = bind_header(spec, sheet).columns
        next_row = last_used_row(sheet) + 1
        for offset, row in enumerate(by_column(rows, columns, sheet.title)):
            for column, value in row.items():
                put_value(sheet.cell(next_row + offset, column + 1), value)
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

        def last_look(temporary: Path) -> None:
            # A last look narrows the window in which someone else's save is lost.
            current = self._current()
            self._check_version(current, expected)
            if current is not None:
                _copy_mode(self.path, temporary)
                self._rotate_backups(current)

        write_atomically(self.path, book.save, before_replace=last_look)
        _sync_folder(self.path.parent)

    def _rotate_backups(self, previous: bytes) -> None:
        """Keep the file as it was in `.1`, shifting older copies up to `.N`."""
        if not self.backups:
            return
        for number in range(self.backups, 1, -1):
            older = self._backup(number - 1)
            if older.exists():
                older.replace(self._backup(number))
        write_atomically(self._backup(1), lambda stream: stream.write(previous))

    def _backup(self, number: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{number}")


# Reading a tab


def _read_grid(sheet: Any) -> Grid:
    """One read-only tab as rows of values; row `i` of the list is sheet row `i + 1`."""
    sheet.reset_dimensions()  # a wrong <dimension> would pad every row with blanks
    rows: list[list[CellValue]] = []
    for cells in sheet.iter_rows():
        # Text, numbers and booleans pass as they are; this loop runs per cell.
        row = [c.value if c.data_type in PLAIN else cell_value(c) for c in cells]
        while row and is_blank(row[-1]):
            row.pop()
        rows.append(row)
    while rows and not rows[-1]:
        rows.pop()
    return Grid(title=sheet.title, rows=rows)


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
