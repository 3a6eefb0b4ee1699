"""Cell values between the Sheets API's JSON and the engine, and A1 notation.

The backend reads with `valueRenderOption=UNFORMATTED_VALUE` and
`dateTimeRenderOption=SERIAL_NUMBER`, so the answer never depends on the
spreadsheet's locale: numbers are JSON numbers and dates are serial numbers, days
since 1899-12-30 in the spreadsheet's wall-clock time. Which numbers are dates the
API does not say without a far larger request; the layout does: a number in a column
whose field is a datetime, date or time becomes one (`typed_rows`). A number too
small or too large to be a plausible date stays a number, and the engine's parser
reports it as it would any other bad date.

Known limit: without the cell's format, a date and a date-time of exactly midnight
are the same number. In a column people type, a whole number is read as a date
alone, because that is what people type; in a "by" column that means the end of the
day. Someone who means midnight has to type 00:01 or 23:59 of the day before.

The backend writes with `valueInputOption=RAW` (`cell_json`): text stays text, so a
customer named `=IMPORTXML(...)` can never become a formula, and dates are written as
serial numbers, the same value whatever the locale; `init` gives those columns a date
format so that people see dates.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Final

from automation.layout import FieldSpec
from automation.model import BoundTable, CellValue, Formula
from automation.parsing import SERIAL_EPOCH, SERIAL_MAX, SERIAL_MIN

JsonCell = str | int | float | bool
DATE_TYPES: Final = frozenset({"datetime", "date", "time"})
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # Sheets refuses these in text


# Serial numbers


def to_serial(value: datetime | date | time) -> float:
    """Days since 1899-12-30 of a naive wall-clock value; a time alone is a fraction."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise ValueError(
                f"{value.isoformat()} carries a time zone; a spreadsheet keeps naive "
                "wall-clock times, convert it before writing"
            )
        delta = value - SERIAL_EPOCH
        return delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400
    if isinstance(value, date):
        return float((value - SERIAL_EPOCH.date()).days)
    seconds = value.hour * 3600 + value.minute * 60 + value.second
    return seconds / 86400


def from_serial(number: float) -> datetime:
    """The wall-clock datetime of a serial number, rounded to the second."""
    # Serial fractions carry binary noise (0.58333… for 14:00): round, then add.
    return SERIAL_EPOCH + timedelta(seconds=round(number * 86400))


def date_value(number: float, spec: FieldSpec, *, typed: bool) -> CellValue:
    """What a number in a date, datetime or time column means, or the number itself.

    A whole number in a column people type (`typed`) is a date typed without a
    time, as in a workbook; in a column the service writes it stays a datetime at
    midnight, so an unchanged due time compares equal to the one the engine computes.
    """
    if spec.type == "time":
        if 0 <= number < 1:
            return from_serial(number).time()
        return number
    if not math.isfinite(number) or not SERIAL_MIN <= number <= SERIAL_MAX:
        return number
    moment = from_serial(number)
    if spec.type == "date":
        return moment.date()
    if float(number).is_integer() and typed:
        return moment.date()
    return moment


def typed_rows(rows: list[list[CellValue]], table: BoundTable) -> None:
    """Turn serial numbers into dates in place, in the columns whose field is a date."""
    columns = [
        (index, spec, table.spec.kind != "output" and not spec.owned)
        for key, index in table.columns.items()
        if (spec := table.spec.field(key)).type in DATE_TYPES
    ]
    if not columns:
        return
    for row in rows[1:]:
        width = len(row)
        for index, spec, typed in columns:
            if index < width:
                value = row[index]
                if isinstance(value, int | float) and not isinstance(value, bool):
                    row[index] = date_value(value, spec, typed=typed)


# Writing


def cell_json(value: CellValue) -> JsonCell:
    """One value as sent with `valueInputOption=RAW`; "" clears the cell.

    Raises `ValueError` for a datetime with a time zone and `TypeError` for a
    formula: the service writes values, never formulas, to a spreadsheet.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return _CONTROL.sub("", value)
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value} to a spreadsheet cell")
        return value
    if isinstance(value, datetime | date | time):
        return to_serial(value)
    if isinstance(value, Formula):
        raise TypeError(
            f"refusing to write the formula {value.text!r}: the service writes values"
        )
    raise TypeError(f"cannot write a {type(value).__name__} to a spreadsheet cell")


# A1 notation


def quote_title(title: str) -> str:
    """A tab's title as it appears in a range: always quoted, quotes doubled."""
    return "'" + title.replace("'", "''") + "'"


def column_letters(index: int) -> str:
    """The letters of a 0-based column: 0 is A, 26 is AA."""
    letters = ""
    number = index + 1
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def a1_range(title: str, row: int, column: int, rows: int, columns: int) -> str:
    """The range of `rows` x `columns` cells from 1-based `row`, 0-based `column`."""
    first = f"{column_letters(column)}{row}"
    last = f"{column_letters(column + columns - 1)}{row + rows - 1}"
    return f"{quote_title(title)}!{first}:{last}"


def pad(values: Sequence[JsonCell | None], width: int) -> list[JsonCell | None]:
    """A row of values extended with nulls (cells a write leaves alone) to `width`."""
    return [*values, *([None] * (width - len(values)))]
