"""A backend that keeps the spreadsheet in memory, for engine and service tests.

It applies a WritePlan the way the real backends must: rows found by id (or by row
number when the row had no id), skipped when their fingerprint changed, owned cells
written, fill cells only while blank, and whole tabs replaced.
"""

from __future__ import annotations

import copy

from automation.layout import Language, Layout
from automation.model import (
    CellValue,
    Grid,
    Snapshot,
    WritePlan,
    WriteReport,
    bind,
)


class MemoryBackend:
    name = "memory"

    def __init__(self, grids: dict[str, list[list[CellValue]]]) -> None:
        self.grids = {title: Grid(title, rows) for title, rows in grids.items()}
        self.reads = 0
        self.writes = 0

    def read(self) -> Snapshot:
        self.reads += 1
        return Snapshot(grids=copy.deepcopy(self.grids), version=str(self.writes))

    def write(
        self, snapshot: Snapshot, plan: WritePlan, layout: Layout, language: Language
    ) -> WriteReport:
        if not plan:
            return WriteReport()
        self.writes += 1
        cells = 0
        skipped = []
        for edit in plan.edits:
            spec = layout.table(edit.table)
            grid = next(g for g in self.grids.values() if spec.matches_title(g.title))
            table = bind(spec, grid)
            index = _locate(table, edit.item_id, edit.row)
            row = grid.rows[index] if index is not None else None
            if row is None or table.fingerprint(row) != edit.fingerprint:
                skipped.append(f"{edit.table}:{edit.row}")
                continue
            for key, value in edit.cells.items():
                field = spec.field(key)
                column = table.columns[key]
                row.extend([None] * (column + 1 - len(row)))
                if field.fill and row[column] not in (None, ""):
                    continue
                if not (field.owned or field.fill):
                    continue
                row[column] = value
                cells += 1
        for output in plan.outputs:
            spec = layout.table(output.table)
            title = next(
                (t for t, g in self.grids.items() if spec.matches_title(g.title)),
                spec.title(language),
            )
            self.grids[title] = Grid(title, [list(r) for r in output.rows])
            cells += sum(len(r) for r in output.rows)
        return WriteReport(cells_written=cells, rows_skipped=tuple(skipped))


def _locate(table, item_id: str | None, row: int) -> int | None:  # type: ignore[no-untyped-def]
    if item_id and table.spec.id_key in table.columns:
        column = table.columns[table.spec.id_key]
        for index, cells in enumerate(table.grid.rows[1:], start=1):
            if column < len(cells) and str(cells[column] or "").strip() == item_id:
                return index
        return None
    return row - 1 if 0 < row <= len(table.grid.rows) else None
