"""The spreadsheets.batchUpdate requests that both `init` and the write send.

What a tab is according to the metadata (`Tab`), and the requests that add a tab,
grow one, and show date columns as dates: `sheets_layout` (init) and `sheets_plan`
(the write, for the service's own tabs) build them the same way from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from automation.backends.sheets_api import Json
from automation.layout import FieldSpec

NEW_TAB_ROWS = 1000  # what Google gives a new tab
NEW_TAB_COLUMNS = 26
NUMBER_FORMATS: dict[str, tuple[str, str]] = {
    "datetime": ("DATE_TIME", "yyyy-mm-dd hh:mm"),
    "date": ("DATE", "yyyy-mm-dd"),
    "time": ("TIME", "hh:mm"),
}


@dataclass
class Tab:
    """What the metadata says of one tab."""

    sheet_id: int
    title: str
    rows: int
    columns: int

    @classmethod
    def of(cls, sheet: Mapping[str, Any]) -> Tab:
        properties = sheet.get("properties", sheet)
        grid = properties.get("gridProperties", {})
        return cls(
            sheet_id=int(properties["sheetId"]),
            title=str(properties["title"]),
            rows=int(grid.get("rowCount", NEW_TAB_ROWS)),
            columns=int(grid.get("columnCount", NEW_TAB_COLUMNS)),
        )


def new_sheet_id(used: set[int]) -> int:
    """The lowest sheet id not in `used`, taken: chosen here rather than by Google,
    so that later requests of the same batch can name the new tab."""
    sheet_id = 1
    while sheet_id in used:
        sheet_id += 1
    used.add(sheet_id)
    return sheet_id


def add_sheet(tab: Tab) -> Json:
    """addSheet for `tab`, its header row frozen."""
    size = {"rowCount": tab.rows, "columnCount": tab.columns, "frozenRowCount": 1}
    properties = {"sheetId": tab.sheet_id, "title": tab.title, "gridProperties": size}
    return {"addSheet": {"properties": properties}}


def append_dimension(sheet_id: int, dimension: str, length: int) -> Json:
    """appendDimension: `length` more ROWS or COLUMNS at the end of a tab."""
    return {
        "appendDimension": {
            "sheetId": sheet_id,
            "dimension": dimension,
            "length": length,
        }
    }


def format_runs(
    by_column: Iterable[tuple[int, FieldSpec]],
) -> list[tuple[int, int, str, str]]:
    """(first, last + 1, type, pattern) of adjacent columns sharing a date format."""
    runs: list[tuple[int, int, str, str]] = []
    for column, field_spec in by_column:
        shown = NUMBER_FORMATS.get(field_spec.type)
        if shown is None:
            continue
        if runs and runs[-1][1] == column and runs[-1][2:] == shown:
            first = runs.pop()[0]
            runs.append((first, column + 1, *shown))
        else:
            runs.append((column, column + 1, *shown))
    return runs


def number_format(grid: Json, kind: str, pattern: str) -> Json:
    """repeatCell that shows the serial numbers of a GridRange as dates."""
    return {
        "repeatCell": {
            "range": grid,
            "cell": {
                "userEnteredFormat": {
                    "numberFormat": {"type": kind, "pattern": pattern}
                }
            },
            "fields": "userEnteredFormat.numberFormat",
        }
    }


def date_formats(
    sheet_id: int,
    columns: Iterable[tuple[int, FieldSpec]],
    first_row: int,
    end_row: int,
) -> list[Json]:
    """Requests that show date columns as dates on 0-based rows [first_row, end_row).

    `columns` is (0-based column, field) in column order.
    """
    requests = []
    for first, last, kind, pattern in format_runs(columns):
        grid = {
            "sheetId": sheet_id,
            "startRowIndex": first_row,
            "endRowIndex": end_row,
            "startColumnIndex": first,
            "endColumnIndex": last,
        }
        requests.append(number_format(grid, kind, pattern))
    return requests
