"""Cells and tabs of a loaded openpyxl workbook, as the engine sees them.

Shared by the workbook backend (reading, writing) and by its layout step (`init`):
how a cell's value is read and written, and how a tab and its header are found.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment
from openpyxl.worksheet.worksheet import Worksheet

from automation.layout import TableSpec
from automation.model import BoundTable, CellValue, Formula, Grid, bind, is_blank

DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
TIME_FORMAT = "hh:mm"
WRAP = Alignment(wrap_text=True, vertical="top")


# Cell values


def cell_value(cell: Any) -> CellValue:
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


def put_value(cell: Any, value: CellValue) -> None:
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


# Tabs and headers


def find_sheet(book: Workbook, spec: TableSpec) -> Worksheet | None:
    """The tab that holds `spec`'s table under any of its titles, if there is one."""
    for sheet in book.worksheets:
        if spec.matches_title(sheet.title):
            return sheet
    return None


def read_header(sheet: Worksheet) -> list[CellValue]:
    """The first row of a tab, without blank cells at its end."""
    cells = next(sheet.iter_rows(min_row=1, max_row=1), ())
    header = [cell_value(cell) for cell in cells]
    while header and is_blank(header[-1]):
        header.pop()
    return header


def bind_header(spec: TableSpec, sheet: Worksheet) -> BoundTable:
    """`spec` bound to a tab's header alone: where its columns are, what is missing."""
    return bind(spec, Grid(title=sheet.title, rows=[read_header(sheet)]))


def last_used_row(sheet: Worksheet) -> int:
    """The number of the last row with a value in it, 0 for an empty tab."""
    last = 0
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if any(not is_blank(value) for value in values):
            last = number
    return last
