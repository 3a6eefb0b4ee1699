"""The Problems tab the service writes whole, and whether a tab's content changed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from automation.layout import Language, Layout, TableSpec
from automation.model import (
    CellValue,
    Snapshot,
    TabContent,
    bind,
    is_blank,
    same_value,
)
from automation.parsing import as_text
from automation.problems import Problem

ITEM_TABLES = ("requests", "orders", "returns")
ITEM_ORDER = {key: index for index, key in enumerate(ITEM_TABLES)}


def problems_tab(
    snapshot: Snapshot,
    layout: Layout,
    problems: Sequence[Problem],
    language: Language,
    now: datetime,
) -> TabContent:
    """Every problem, keeping the time it was first seen from the tab as it was."""
    spec = layout.table("problems")
    header = [f.label(language) for f in spec.fields]
    since = _previous_since(snapshot, spec)
    rows: list[list[CellValue]] = [list(header)]
    ordered = sorted(
        problems, key=lambda p: (ITEM_ORDER.get(p.table, 99), p.row or 0, p.field or "")
    )
    for problem in ordered:
        table = layout.table(problem.table)
        column = problem.column_label(language, layout)
        key = (
            table.title(language),
            problem.item_id or str(problem.row),
            column,
            problem.code,
        )
        rows.append(
            [
                table.title(language),
                problem.row,
                problem.item_id or "",
                column,
                problem.code,
                problem.message(language, layout),
                since.get(key) or now.replace(tzinfo=None),
            ]
        )
    return TabContent("problems", rows)


def _previous_since(
    snapshot: Snapshot, spec: TableSpec
) -> dict[tuple[str, str, str, str], datetime]:
    grid = snapshot.grid(spec)
    if grid is None:
        return {}
    table = bind(spec, grid)
    found = {}
    for _, row in table.data_rows():
        since = table.value(row, "since")
        if not isinstance(since, datetime):
            continue
        key = (
            as_text(table.value(row, "tab")),
            as_text(table.value(row, "item")) or as_text(table.value(row, "row")),
            as_text(table.value(row, "column")),
            as_text(table.value(row, "code")),
        )
        found[key] = since
    return found


def same_content(
    snapshot: Snapshot, spec: TableSpec, rows: list[list[CellValue]]
) -> bool:
    grid = snapshot.grid(spec)
    if grid is None:
        return False
    current = grid.rows
    if len(_trim(current)) != len(_trim(rows)):
        return False
    for old, new in zip(_trim(current), _trim(rows), strict=True):
        width = max(len(old), len(new))
        for index in range(width):
            a = old[index] if index < len(old) else None
            b = new[index] if index < len(new) else None
            if not same_value(a, b):
                return False
    return True


def _trim(rows: list[list[CellValue]]) -> list[list[CellValue]]:
    trimmed = list(rows)
    while trimmed and all(is_blank(cell) for cell in trimmed[-1]):
        trimmed.pop()
    return trimmed
