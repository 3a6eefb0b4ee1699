"""Applying a write plan to a loaded workbook: row edits and the service's own tabs.

`PlanWriter` edits a row only while its fingerprint still matches the one the plan was
made from, finds a row by its id when it has one, never overwrites what people typed
in a column the service only fills, and counts every cell it writes. Loading, the
version check and saving are `WorkbookBackend`'s part.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from automation.backends.base import (
    id_rows,
    needs_writing,
    row_of,
    writable_field,
)
from automation.backends.cells import bind_header, cell_value, find_sheet, put_value
from automation.layout import FieldSpec, Language, Layout, TableSpec
from automation.model import (
    BoundTable,
    CellValue,
    RowEdit,
    TabContent,
    WriteReport,
    fingerprint,
    is_blank,
    same_value,
)

logger = logging.getLogger(__name__)


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
class PlanWriter:
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
            cell_value(table.sheet.cell(number, column + 1))
            for column in range(table.width)
        ]
        if fingerprint(table.bound, current) != edit.fingerprint:
            logger.info(
                "row %d of %s was edited while the cycle ran; left for the next cycle",
                edit.row,
                edit.table,
            )
            self.skipped.append(f"{edit.table}:{edit.row}")
            return

        for key, value in edit.cells.items():
            self._edit_cell(table, number, key, value)

    def _edit_cell(
        self, table: _Table, number: int, key: str, value: CellValue
    ) -> None:
        spec = writable_field(table.spec, key)
        if spec is None:
            return

        column = table.columns.get(key)
        if column is None:
            column = self._add_column(table, spec)
        cell = table.sheet.cell(number, column + 1)
        if needs_writing(spec, cell_value(cell), value):
            put_value(cell, value)
            self._count(table.spec.key)

    def _add_column(self, table: _Table, spec: FieldSpec) -> int:
        column = table.width
        header = table.sheet.cell(1, column + 1)
        put_value(header, spec.label(self.language))
        header.font = Font(bold=True)
        table.columns[spec.key] = column
        table.width += 1
        self._count(table.spec.key)
        logger.info("added column %s.%s", table.spec.key, spec.key)
        return column

    def _table(self, key: str) -> _Table | None:
        if key not in self.tables:
            spec = self.layout.table(key)
            sheet = find_sheet(self.book, spec)
            if sheet is None:
                logger.warning(
                    "tab %s is missing: its service columns wait for `automation init`",
                    spec.title(self.language),
                )
                self.tables[key] = None
            else:
                bound = bind_header(spec, sheet)
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
        return row_of(table.ids, edit)

    def apply_content(self, content: TabContent) -> None:
        """Make a tab the service owns hold exactly `content.rows`."""
        spec = self.layout.table(content.table)
        sheet = find_sheet(self.book, spec)
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
                if not same_value(cell_value(cell), new):
                    put_value(cell, new)
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
    if column is None:
        return {}
    cells = table.sheet.iter_rows(min_row=2, min_col=column + 1, max_col=column + 1)
    return id_rows((n, cell_value(cell)) for n, (cell,) in enumerate(cells, start=2))
