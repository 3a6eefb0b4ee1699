"""A write to a spreadsheet worked out from a plan: which cells, in which requests.

`SheetChanges` takes the engine's row edits against the people's tabs as read just
before the write, where each row is found by its id (or, for a row without one, by its
number) and edited only while its fingerprint still matches; and the service tabs'
whole contents against the snapshot, writing only the cells that differ. It then
packs the changed cells into value ranges (one per run of rows changing the same
columns, untouched cells inside sent as null, which the API leaves alone) and into
parts of a bounded size, and lists the tabs that must be created or grown first.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from automation.backends.base import (
    id_rows,
    needs_writing,
    row_of,
    writable_field,
)
from automation.backends.sheets_api import Json
from automation.backends.sheets_check import Written, identity
from automation.backends.sheets_requests import (
    NEW_TAB_COLUMNS,
    NEW_TAB_ROWS,
    Tab,
    add_sheet,
    append_dimension,
    date_formats,
    new_sheet_id,
)
from automation.backends.sheets_values import JsonCell, a1_range, cell_json, pad
from automation.layout import FieldSpec, Language, TableSpec
from automation.model import (
    BoundTable,
    CellValue,
    Grid,
    RowEdit,
    Snapshot,
    TabContent,
    WriteReport,
    bind,
    fingerprint,
    same_value,
)

logger = logging.getLogger(__name__)

GROWTH = 500  # rows added beyond what a service tab needs, so it rarely grows
BLOCK_ROWS = 500  # rows in one value range at most, so that parts can split anywhere
BODY_OVERHEAD = 200  # bytes of a values:batchUpdate body around its ranges


@dataclass
class Fresh:
    """A people's tab as read just before the write, with its rows found by id."""

    table: BoundTable
    ids: dict[str, list[int]] | None = None

    def locate(self, edit: RowEdit) -> tuple[int, list[CellValue]] | None:
        """The row to edit now and its cells: by id when it has one, else by number."""
        rows = self.table.grid.rows
        if edit.item_id is None:
            number: int | None = edit.row if 2 <= edit.row <= len(rows) else None
        else:
            if self.ids is None:
                self.ids = _ids(self.table)
            number = row_of(self.ids, edit)
        return None if number is None else (number, rows[number - 1])


@dataclass
class SheetChanges:
    """The cells one write changes, tab by tab, and the tabs it must create or grow."""

    language: Language
    cells: dict[str, dict[int, dict[int, JsonCell]]] = field(default_factory=dict)
    structure: list[Json] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    tables: dict[str, str] = field(default_factory=dict)  # title -> table key
    fresh: dict[str, Fresh | None] = field(default_factory=dict)
    missing_columns: set[tuple[str, str]] = field(default_factory=set)
    sheet_ids: set[int] = field(default_factory=set)  # in use, for new tabs' ids
    written: dict[str, list[Written]] = field(default_factory=dict)  # by table key

    def edit(self, edit: RowEdit, spec: TableSpec, fresh_read: Snapshot) -> None:
        fresh = self._fresh(spec, fresh_read)
        found = fresh.locate(edit) if fresh else None
        if fresh is None or found is None:
            self.skipped.append(f"{edit.table}:{edit.row}")
            return
        number, row = found
        if fingerprint(fresh.table, row) != edit.fingerprint:
            logger.info(
                "row %d of %s was edited while the cycle ran; left for the next cycle",
                edit.row,
                edit.table,
            )
            self.skipped.append(f"{edit.table}:{edit.row}")
            return
        title = fresh.table.grid.title
        cells: dict[str, CellValue] = {}
        fills: set[str] = set()
        for key, value in edit.cells.items():
            field_spec = writable_field(spec, key)
            if field_spec is None:
                continue
            column = fresh.table.columns.get(key)
            if column is None:
                if (spec.key, key) not in self.missing_columns:
                    self.missing_columns.add((spec.key, key))
                    logger.warning(
                        "tab %s has no column %s: run `automation init` to add it",
                        title,
                        field_spec.label(self.language),
                    )
                continue
            old = row[column] if column < len(row) else None
            if needs_writing(field_spec, old, value):
                self._put(title, spec.key, number, column, value)
                cells[key] = value
                if not field_spec.owned:
                    fills.add(key)
        if cells:
            mark = identity(fresh.table, row)
            written = Written(number, mark, cells, frozenset(fills))
            self.written.setdefault(spec.key, []).append(written)

    def replace(
        self,
        content: TabContent,
        spec: TableSpec,
        tab: Tab | None,
        grid: Grid | None,
    ) -> None:
        """Make a service tab hold exactly `content.rows`, writing only what differs."""
        width = max((len(row) for row in content.rows), default=0)
        if tab is None:
            tab = self._add_tab(spec, content, width)
            old: list[list[CellValue]] = []
        else:
            old = grid.rows if grid is not None else []
            self._grow(tab, spec, content, width)
        for number in range(1, max(len(content.rows), len(old)) + 1):
            new_row = content.rows[number - 1] if number <= len(content.rows) else []
            old_row = old[number - 1] if number <= len(old) else []
            for column in range(max(len(new_row), len(old_row))):
                new = new_row[column] if column < len(new_row) else None
                was = old_row[column] if column < len(old_row) else None
                if not same_value(was, new):
                    self._put(tab.title, content.table, number, column, new)

    def _fresh(self, spec: TableSpec, fresh_read: Snapshot) -> Fresh | None:
        if spec.key not in self.fresh:
            grid = fresh_read.grid(spec)
            if grid is None:
                logger.warning(
                    "tab %s is missing: its service columns wait for `automation init`",
                    spec.title(self.language),
                )
            self.fresh[spec.key] = Fresh(bind(spec, grid)) if grid else None
        return self.fresh[spec.key]

    def _add_tab(self, spec: TableSpec, content: TabContent, width: int) -> Tab:
        tab = Tab(
            new_sheet_id(self.sheet_ids),
            spec.title(self.language),
            max(NEW_TAB_ROWS, len(content.rows) + GROWTH),
            max(NEW_TAB_COLUMNS, width),
        )
        self.structure.append(add_sheet(tab))
        columns = _fields(spec, content)
        self.structure += date_formats(tab.sheet_id, columns, 1, tab.rows)
        return tab

    def _grow(self, tab: Tab, spec: TableSpec, content: TabContent, width: int) -> None:
        rows = len(content.rows)
        if rows > tab.rows:
            extra = rows - tab.rows + GROWTH
            self.structure.append(append_dimension(tab.sheet_id, "ROWS", extra))
            columns = _fields(spec, content)
            self.structure += date_formats(
                tab.sheet_id, columns, tab.rows, tab.rows + extra
            )
        if width > tab.columns:
            more = width - tab.columns
            self.structure.append(append_dimension(tab.sheet_id, "COLUMNS", more))

    def _put(
        self, title: str, table: str, row: int, column: int, value: CellValue
    ) -> None:
        self.cells.setdefault(title, {}).setdefault(row, {})[column] = cell_json(value)
        self.tables[title] = table

    # What to send

    def report(self) -> WriteReport:
        count = sum(len(row) for rows in self.cells.values() for row in rows.values())
        tabs = tuple(dict.fromkeys(self.tables[title] for title in self.cells))
        return WriteReport(count, tuple(self.skipped), tabs)

    def parts(self, max_payload: int) -> list[list[Json]]:
        """Value ranges in parts whose request body stays under `max_payload` bytes.

        Sizes are counted as the request is sent (JSON with non-ASCII escaped, so a
        Chinese character costs six bytes). A range too large for a part is cut
        between its rows; only a single row larger than a part goes alone.
        """
        room = max_payload - BODY_OVERHEAD
        parts: list[list[Json]] = []
        current: list[Json] = []
        size = 0
        pending = list(value_ranges(self.cells))[::-1]
        while pending:
            value_range = pending.pop()
            length = len(json.dumps(value_range)) + 2  # ", " between ranges
            if length > room and len(value_range["values"]) > 1:
                pending.extend(reversed(_halves(value_range)))
                continue
            if current and size + length > room:
                parts.append(current)
                current, size = [], 0
            current.append(value_range)
            size += length
        if current:
            parts.append(current)
        return parts


def value_ranges(cells: dict[str, dict[int, dict[int, JsonCell]]]) -> Iterable[Json]:
    """One range per run of rows that change the same span of columns.

    `cells` maps tab title to 1-based row to 0-based column to value. Cells inside a
    span that do not change are sent as null, which the API leaves alone.
    """
    for title, rows in cells.items():
        block: list[list[JsonCell | None]] = []
        start = span = None
        previous = 0
        for number in sorted(rows):
            row = rows[number]
            first, last = min(row), max(row)
            values = [row.get(column) for column in range(first, last + 1)]
            if (
                block
                and (first, last) == span
                and number == previous + 1
                and len(block) < BLOCK_ROWS
            ):
                block.append(values)
            else:
                if block:
                    yield _range(title, start, span, block)
                block, start, span = [values], number, (first, last)
            previous = number
        if block:
            yield _range(title, start, span, block)


def _range(
    title: str,
    row: int | None,
    span: tuple[int, int] | None,
    block: list[list[JsonCell | None]],
) -> Json:
    assert row is not None and span is not None
    width = span[1] - span[0] + 1
    return {
        "range": a1_range(title, row, span[0], len(block), width),
        "values": [pad(values, width) for values in block],
    }


_A1 = re.compile(r"(?P<tab>.*)!(?P<left>[A-Z]+)(?P<top>\d+):(?P<right>[A-Z]+)\d+")


def _halves(value_range: Json) -> tuple[Json, Json]:
    """A range of several rows cut into its top and bottom halves."""
    found = _A1.fullmatch(value_range["range"])
    assert found is not None, value_range["range"]
    values = value_range["values"]
    middle = len(values) // 2
    top = int(found["top"])
    tab, left, right = found["tab"], found["left"], found["right"]
    return (
        {
            "range": f"{tab}!{left}{top}:{right}{top + middle - 1}",
            "values": values[:middle],
        },
        {
            "range": f"{tab}!{left}{top + middle}:{right}{top + len(values) - 1}",
            "values": values[middle:],
        },
    )


def _fields(spec: TableSpec, content: TabContent) -> list[tuple[int, FieldSpec]]:
    """(column, field) of a service tab's content, from its header row."""
    header = content.rows[0] if content.rows else []
    found = [
        (column, spec.match_header(str(label))) for column, label in enumerate(header)
    ]
    return [(column, field_spec) for column, field_spec in found if field_spec]


def _ids(table: BoundTable) -> dict[str, list[int]]:
    column = table.columns.get(table.spec.id_key or "")
    if column is None:
        return {}
    rows = enumerate(table.grid.rows[1:], start=2)
    return id_rows((n, row[column]) for n, row in rows if column < len(row))
