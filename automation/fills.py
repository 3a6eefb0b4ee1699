"""The blanks the service fills in a row: its id, its start time, its done time.

It fills a cell only while it is blank and never overwrites what a person typed; the
backend checks that again at write time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from automation.config import Config, Meaning
from automation.layout import TableSpec
from automation.model import BoundTable, CellValue, is_blank
from automation.parsing import as_text
from automation.validation import Record


def plan_fills(
    table: BoundTable, records: Sequence[Record], config: Config, now: datetime
) -> dict[int, dict[str, CellValue]]:
    """Blank ids, start times and done times the service fills, by sheet row."""
    spec = table.spec
    fills: dict[int, dict[str, CellValue]] = {}
    local_now = now.replace(tzinfo=None)
    next_number = _next_number(table, config)
    prefix = config.settings.get(f"id_prefix_{spec.key}", "")
    for record in records:
        cells: dict[str, CellValue] = {}
        if (
            spec.id_key
            and spec.field(spec.id_key).fill
            and _blank(table, record, spec.id_key)
        ):
            cells[spec.id_key] = f"{prefix}{next_number:05d}"
            next_number += 1
        if (
            spec.start
            and spec.field(spec.start).fill
            and _blank(table, record, spec.start)
        ):
            # Seen now for the first time, but begun no later than anything done.
            cells[spec.start] = min([now, *_event_times(record, spec)]).replace(
                tzinfo=None
            )
        if (
            spec.has_field("done_at")
            and record.meaning is Meaning.DONE
            and _blank(table, record, "done_at")
        ):
            cells["done_at"] = local_now
        if cells:
            fills[record.row] = cells
    return fills


def _event_times(record: Record, spec: TableSpec) -> list[datetime]:
    """Times already typed in a row of things that happened (keys ending in _at)."""
    return [
        value
        for key, value in record.values.items()
        if key.endswith("_at") and key != spec.start and isinstance(value, datetime)
    ]


def _blank(table: BoundTable, record: Record, key: str) -> bool:
    if key not in table.columns:
        return False
    return is_blank(table.value(table.grid.rows[record.row - 1], key))


_NUMBER = re.compile(r"(\d+)$")


def _next_number(table: BoundTable, config: Config) -> int:
    key = table.spec.id_key
    if key is None or key not in table.columns:
        return 1
    prefix = config.settings.get(f"id_prefix_{table.spec.key}", "")
    highest = 0
    for _, row in table.data_rows():
        text = as_text(table.value(row, key))
        if prefix and not text.startswith(prefix):
            continue
        match = _NUMBER.search(text)
        if match:
            highest = max(highest, int(match.group(1)))
    return highest + 1
