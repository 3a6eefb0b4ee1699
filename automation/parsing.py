"""Cells people typed, turned into typed values.

One function per field type. Each takes a `CellValue` and returns the typed value,
None for a blank cell, or an `Invalid` that names a problem code and the parameters
of its message ("found", "expected", "example"). Text is normalised first: full-width
characters become their plain forms (Unicode NFKC) and surrounding spaces go.

Known limits: two-digit years, day-first or month-first dates ("15/3/2025"), dates
without a year and Chinese numerals ("三月") are refused rather than guessed. A whole
Excel serial number counts as a date, so a serial for exactly midnight reads as a date
(with `end_of_day`, as 23:59 of that day). A local time that a daylight-saving change
skips is kept as typed.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Final

from automation.model import CellValue, Formula

EXAMPLE_DATETIME: Final = "2025-03-15 14:00"
EXAMPLE_DATE: Final = "2025-03-15"
EXAMPLE_MONTH: Final = "2025-03"
EXAMPLE_NUMBER: Final = "12.5"
EXAMPLE_INTEGER: Final = "12"
EXAMPLE_BOOL: Final = "是"
EXAMPLE_EMAIL: Final = "zhang.san@example.com"

# Excel and Google Sheets count days from 1899-12-30; outside this window a number in
# a date column is far more likely a typo than a date (20000 is 1954, 80000 is 2119).
SERIAL_EPOCH: Final = datetime(1899, 12, 30)  # noqa: DTZ001 - naive on purpose
SERIAL_MIN: Final = 20000
SERIAL_MAX: Final = 80000
FOUND_LIMIT: Final = 40


@dataclass(frozen=True)
class Invalid:
    """A cell that could not be read as its type: a problem code and its parameters."""

    code: str
    params: Mapping[str, str] = field(default_factory=dict)


def _invalid(code: str, value: CellValue, expected: str, example: str) -> Invalid:
    return Invalid(
        code, {"found": format_found(value), "expected": expected, "example": example}
    )


def normalise(text: str) -> str:
    """Full-width characters to plain ones (NFKC), surrounding spaces removed."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.strip()


# --- showing what was typed -----------------------------------------------------------


def format_found(value: object) -> str:
    """How a cell's value reads inside a message: short, plain, as a person typed it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.12g}"
    if isinstance(value, datetime):
        return (
            f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
            f"{value.hour:02d}:{value.minute:02d}"
        )
    if isinstance(value, date):
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    if isinstance(value, time):
        return f"{value.hour:02d}:{value.minute:02d}"
    if isinstance(value, Formula):
        return _shorten(value.text)
    return _shorten(str(value))


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= FOUND_LIMIT:
        return text
    return text[: FOUND_LIMIT - 1] + "…"


# --- dates and times ------------------------------------------------------------------

_DATETIME_TEXT = re.compile(
    r"""
    (?P<y>\d{4}) \s* (?:[-/.]|年) \s* (?P<m>\d{1,2}) \s* (?:[-/.]|月) \s*
    (?P<d>\d{1,2}) \s* [日号]?
    (?:
        (?: \s*T\s* | \s+ | (?<=[日号]) )
        (?P<ap1>上午|早上|凌晨|中午|下午|晚上|am|pm)? \s*
        (?P<H>\d{1,2})
        (?:
            : (?P<M>\d{2}) (?: : (?P<S>\d{2}) (?:\.\d+)? )?
          | \s* [点时] (?: \s* (?P<half>半) | \s* (?P<M2>\d{1,2}) \s* 分?
                         (?: \s* (?P<S2>\d{1,2}) \s* 秒 )? )?
        )
        \s* (?P<ap2>am|pm)?
        \s* (?P<tz>z|[+-]\d{2}:?\d{2})?
    )?
    """,
    re.VERBOSE | re.IGNORECASE,
)
_MONTH_TEXT = re.compile(r"(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*月?")
_AFTERNOON = frozenset({"下午", "晚上", "pm"})
_MORNING = frozenset({"上午", "早上", "凌晨", "am"})


def parse_datetime(
    value: CellValue, tz: tzinfo, *, end_of_day: bool = False
) -> datetime | Invalid | None:
    """A point in time, aware in `tz`; a date alone means 00:00 (23:59 at end of day).

    Naive datetimes and text without an offset are read in `tz`; aware ones and text
    with an offset ("+08:00") are converted to it.
    """
    if value is None:
        return None
    try:
        if isinstance(value, str):
            text = normalise(value)
            if not text:
                return None
            result = _from_text(text, tz, end_of_day)
        else:
            result = _from_cell(value, tz, end_of_day)
    except (ValueError, OverflowError):
        result = None
    if result is not None:
        return result
    return _invalid("bad-datetime", value, "YYYY-MM-DD HH:MM", EXAMPLE_DATETIME)


def _from_cell(value: CellValue, tz: tzinfo, end_of_day: bool) -> datetime | None:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=tz)
        return value.astimezone(tz)
    if isinstance(value, date):
        return _day_time(value, tz, end_of_day)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_serial(value, tz, end_of_day)
    return None


def _day_time(day: date, tz: tzinfo, end_of_day: bool) -> datetime:
    moment = time(23, 59) if end_of_day else time(0, 0)
    return datetime.combine(day, moment, tzinfo=tz)


def _from_serial(number: float, tz: tzinfo, end_of_day: bool) -> datetime | None:
    if not math.isfinite(number) or not SERIAL_MIN <= number <= SERIAL_MAX:
        return None
    if float(number).is_integer():
        day = (SERIAL_EPOCH + timedelta(days=int(number))).date()
        return _day_time(day, tz, end_of_day)
    # Rounded to the second: serial fractions carry binary noise (0.58333… for 14:00).
    moment = SERIAL_EPOCH + timedelta(seconds=round(number * 86400))
    return moment.replace(tzinfo=tz)


# Lengths of "2025-03-15", "2025-03-15 14:00" and "2025-03-15 14:00:00": the shapes
# the standard library reads fast; every other spelling goes through the pattern.
_ISO_LENGTHS: Final = frozenset({10, 16, 19})


def _from_text(text: str, tz: tzinfo, end_of_day: bool) -> datetime | None:
    size = len(text)
    if size in _ISO_LENGTHS and text[4] == "-" and text[7] == "-":
        try:
            if size == 10:
                return _day_time(date.fromisoformat(text), tz, end_of_day)
            if text[13] == ":":
                moment = datetime.fromisoformat(text)
                if moment.tzinfo is None:
                    return moment.replace(tzinfo=tz)
                return moment.astimezone(tz)
        except ValueError:
            pass  # "2025-03-15 24:00" and the like: the pattern knows them
    match = _DATETIME_TEXT.fullmatch(text)
    if match is None:
        return None
    day = date(int(match["y"]), int(match["m"]), int(match["d"]))
    if match["H"] is None:
        return _day_time(day, tz, end_of_day)
    hour, minute, second = _clock(match)
    moment = datetime.combine(day, time(0, 0)) + timedelta(
        hours=hour, minutes=minute, seconds=second
    )
    if match["tz"] is None:
        return moment.replace(tzinfo=tz)
    return moment.replace(tzinfo=_offset(match["tz"])).astimezone(tz)


def _clock(match: re.Match[str]) -> tuple[int, int, int]:
    hour = int(match["H"])
    minute = int(match["M"] or match["M2"] or (30 if match["half"] else 0))
    second = int(match["S"] or match["S2"] or 0)
    marker = (match["ap1"] or match["ap2"] or "").lower()
    if marker in _AFTERNOON and hour < 12:
        hour += 12
    elif marker in _MORNING and hour == 12:
        hour = 0
    elif marker == "中午" and hour < 6:
        hour += 12
    # "24:00" is how people write the end of a day; anything later is a typo.
    if minute > 59 or second > 59 or hour > 24 or (hour == 24 and minute + second):
        raise ValueError("time of day out of range")
    return hour, minute, second


def _offset(text: str) -> tzinfo:
    if text.upper() == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(-delta if text[0] == "-" else delta)


def parse_date(value: CellValue, tz: tzinfo) -> date | Invalid | None:
    """A calendar day; a datetime, or a date typed with a time, gives its day in tz."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    moment = parse_datetime(value, tz)
    if isinstance(moment, datetime):
        return moment.date()
    if moment is None:
        return None
    return _invalid("bad-date", value, "YYYY-MM-DD", EXAMPLE_DATE)


def parse_month(value: CellValue, tz: tzinfo) -> date | Invalid | None:
    """A month, as its first day: "2025-03", "2025/3", "2025年3月" or any date in it."""
    if isinstance(value, str):
        text = normalise(value)
        if not text:
            return None
        match = _MONTH_TEXT.fullmatch(text)
        if match is not None:
            month = int(match[2])
            if 1 <= month <= 12:
                return date(int(match[1]), month, 1)
            return _invalid("bad-month", value, "YYYY-MM", EXAMPLE_MONTH)
    day = parse_date(value, tz)
    if isinstance(day, date):
        return day.replace(day=1)
    if day is None:
        return None
    return _invalid("bad-month", value, "YYYY-MM", EXAMPLE_MONTH)


# --- numbers --------------------------------------------------------------------------

_NUMBER_TEXT = re.compile(
    r"(?P<sign>[+-])?\s*[¥$€]?\s*"
    r"(?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+(?:\.\d*)?|\.\d+)"
    r"\s*(?:元)?\s*(?P<percent>%)?"
)
# Minus signs that NFKC leaves alone.
_MINUS = str.maketrans({"−": "-", "–": "-", "﹣": "-"})


def parse_number(value: CellValue) -> float | Invalid | None:
    """A number: 12, "1,234.5", "¥1,234", "12%" (0.12)."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number):
            return number
    elif isinstance(value, str):
        text = normalise(value).translate(_MINUS)
        if not text:
            return None
        read = _number_text(text)
        if read is not None and math.isfinite(read):
            return read
    return _invalid("bad-number", value, "12.5", EXAMPLE_NUMBER)


def _number_text(text: str) -> float | None:
    match = _NUMBER_TEXT.fullmatch(text)
    if match is None:
        return None
    number = float(match["digits"].replace(",", ""))
    if match["sign"] == "-":
        number = -number
    return number / 100 if match["percent"] else number


def parse_integer(value: CellValue) -> int | Invalid | None:
    """A whole number; 12.0 and "1,200" are fine, 12.5 is not."""
    number = parse_number(value)
    if number is None:
        return None
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return _invalid("bad-integer", value, "12", EXAMPLE_INTEGER)


# --- yes or no, email -----------------------------------------------------------------

_TRUE: Final = frozenset({"true", "yes", "y", "是", "对", "1", "√", "✓", "✔"})
_FALSE: Final = frozenset({"false", "no", "n", "否", "错", "0", "×", "✗", "✘"})


def parse_bool(value: CellValue) -> bool | Invalid | None:
    """Yes or no: TRUE/FALSE, 是/否, 对/错, yes/no, y/n, 1/0, √/×, ✓/✗."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return value == 1
    if isinstance(value, str):
        text = normalise(value).casefold()
        if not text:
            return None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return _invalid("bad-bool", value, "是/否, yes/no", EXAMPLE_BOOL)


_EMAIL_TEXT = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]+")


def parse_email(value: CellValue) -> str | Invalid | None:
    """An email address, as typed but trimmed; a "mailto:" in front is dropped."""
    if value is None:
        return None
    if isinstance(value, str):
        text = normalise(value)
        if not text:
            return None
        if text.lower().startswith("mailto:"):
            text = text[7:].strip()
        if _EMAIL_TEXT.fullmatch(text):
            return text
    return _invalid("bad-email", value, "name@example.com", EXAMPLE_EMAIL)


# --- text and ids ---------------------------------------------------------------------


def parse_text(value: CellValue) -> str | None:
    """Free text, trimmed; other cell types as they read in the sheet."""
    return as_text(value) or None


def as_text(value: object) -> str:
    """Any cell or typed value as the text a person reads there; "" when blank."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, Formula):
        return value.text.strip()
    return format_found(value)


def parse_id(value: CellValue) -> str | None:
    """An id as text: "007" stays "007", a number cell 7.0 becomes "7"."""
    if isinstance(value, str):
        return normalise(value) or None
    return parse_text(value)
