"""Cells as people type them, read as typed values or refused with a problem code."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automation.model import CellValue, Formula
from automation.parsing import (
    Invalid,
    format_found,
    normalise,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_email,
    parse_id,
    parse_integer,
    parse_month,
    parse_number,
    parse_text,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


# --- datetimes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2025-03-15", local(2025, 3, 15)),
        ("2025/3/15", local(2025, 3, 15)),
        ("2025.3.15", local(2025, 3, 15)),
        ("2025年3月15日", local(2025, 3, 15)),
        ("2025年3月15号", local(2025, 3, 15)),
        ("  2025-03-15  ", local(2025, 3, 15)),
        ("2025-03-15 14:00", local(2025, 3, 15, 14)),
        ("2025-03-15 14:00:30", local(2025, 3, 15, 14, 0, 30)),
        ("2025-03-15 9:05", local(2025, 3, 15, 9, 5)),
        ("2025/3/15 14:00", local(2025, 3, 15, 14)),
        ("2025年3月15日14点", local(2025, 3, 15, 14)),
        ("2025年3月15日 14点30分", local(2025, 3, 15, 14, 30)),
        ("2025年3月15号14时30分", local(2025, 3, 15, 14, 30)),
        ("2025年3月15日14点半", local(2025, 3, 15, 14, 30)),
        ("2025年3月15日下午2点", local(2025, 3, 15, 14)),
        ("2025年3月15日上午9点", local(2025, 3, 15, 9)),
        ("2025-03-15 2:30 PM", local(2025, 3, 15, 14, 30)),
        ("2025-03-15T14:00", local(2025, 3, 15, 14)),
        ("2025-03-15T14:00:00+08:00", local(2025, 3, 15, 14)),
        ("2025-03-15T06:00Z", local(2025, 3, 15, 14)),
        ("2025-03-15 14:00 +0000", local(2025, 3, 15, 22)),
        ("2025-03-15 24:00", local(2025, 3, 16)),
        ("2025-03-15 14:00+00", local(2025, 3, 15, 22)),
        ("２０２５－０３－１５　１４：００", local(2025, 3, 15, 14)),
        ("２０２５年３月１５日", local(2025, 3, 15)),
    ],
)
def test_parse_datetime_accepts(cell: str, expected: datetime) -> None:
    result = parse_datetime(cell, SHANGHAI)

    assert result == expected
    assert isinstance(result, datetime)
    assert result.tzinfo is SHANGHAI


@pytest.mark.parametrize(
    "cell",
    [
        "garbage",
        "2025-02-30",
        "2025-13-01",
        "2025-03-15 25:00",
        "2025-03-15 14:60",
        "2025-03-15 24:30",
        "2025-03-15 14",
        "2025-03-1514:00",
        "15/03/2025",
        "3月15日",
        "45731",
        "2025-03-15 14:00 +99:00",
        True,
        12,
        19999.5,
        80001,
        float("nan"),
        time(14, 0),
        Formula("=NOW()"),
    ],
)
def test_parse_datetime_refuses(cell: CellValue) -> None:
    result = parse_datetime(cell, SHANGHAI)

    assert isinstance(result, Invalid)
    assert result.code == "bad-datetime"
    assert result.params["found"] == format_found(cell)
    assert result.params["example"] == "2025-03-15 14:00"


@pytest.mark.parametrize("cell", [None, "", "   ", "\u3000"])
def test_blank_cells_are_none(cell: CellValue) -> None:
    assert parse_datetime(cell, SHANGHAI) is None
    assert parse_date(cell, SHANGHAI) is None
    assert parse_month(cell, SHANGHAI) is None
    assert parse_number(cell) is None
    assert parse_integer(cell) is None
    assert parse_bool(cell) is None
    assert parse_email(cell) is None
    assert parse_text(cell) is None
    assert parse_id(cell) is None


def test_date_only_means_end_of_day_when_asked() -> None:
    assert parse_datetime("2025-03-15", SHANGHAI, end_of_day=True) == local(
        2025, 3, 15, 23, 59
    )
    assert parse_datetime(date(2025, 3, 15), SHANGHAI, end_of_day=True) == local(
        2025, 3, 15, 23, 59
    )
    # A time typed by a person wins over the end of the day.
    assert parse_datetime("2025-03-15 10:00", SHANGHAI, end_of_day=True) == local(
        2025, 3, 15, 10
    )


def test_naive_datetime_cell_is_read_in_the_zone() -> None:
    result = parse_datetime(datetime(2025, 3, 15, 14, 0), NEW_YORK)

    assert result == datetime(2025, 3, 15, 14, 0, tzinfo=NEW_YORK)
    assert isinstance(result, datetime)
    assert result.utcoffset() == timedelta(hours=-4)  # daylight saving time


def test_aware_datetime_cell_is_converted_to_the_zone() -> None:
    result = parse_datetime(datetime(2025, 3, 15, 6, 0, tzinfo=UTC), SHANGHAI)

    assert isinstance(result, datetime)
    assert result.tzinfo is SHANGHAI
    assert (result.hour, result.minute) == (14, 0)


def test_date_cell_is_midnight_in_the_zone() -> None:
    assert parse_datetime(date(2025, 3, 15), NEW_YORK) == datetime(
        2025, 3, 15, tzinfo=NEW_YORK
    )


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        (45731, local(2025, 3, 15)),
        (45731.0, local(2025, 3, 15)),
        (45731.5, local(2025, 3, 15, 12)),
        (45731 + 14 / 24, local(2025, 3, 15, 14)),
        (45731.999999999, local(2025, 3, 16)),
        (20000, local(1954, 10, 3)),
        (80000, local(2119, 1, 11)),
    ],
)
def test_serial_numbers_count_days_from_1899_12_30(
    serial: float, expected: datetime
) -> None:
    assert parse_datetime(serial, SHANGHAI) == expected


def test_serial_is_read_in_the_zone() -> None:
    assert parse_datetime(45731.5, NEW_YORK) == datetime(
        2025, 3, 15, 12, tzinfo=NEW_YORK
    )


def test_whole_serial_is_a_date_for_end_of_day() -> None:
    assert parse_datetime(45731, SHANGHAI, end_of_day=True) == local(
        2025, 3, 15, 23, 59
    )


# --- dates and months ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2025-03-15", date(2025, 3, 15)),
        ("2025年3月15日", date(2025, 3, 15)),
        ("２０２５/３/１５", date(2025, 3, 15)),
        ("2025-03-15 23:30", date(2025, 3, 15)),
        ("2025-03-15T20:00Z", date(2025, 3, 16)),
        (date(2025, 3, 15), date(2025, 3, 15)),
        (datetime(2025, 3, 15, 23, 0), date(2025, 3, 15)),
        (datetime(2025, 3, 15, 20, 0, tzinfo=UTC), date(2025, 3, 16)),
        (45731, date(2025, 3, 15)),
    ],
)
def test_parse_date_accepts(cell: CellValue, expected: date) -> None:
    assert parse_date(cell, SHANGHAI) == expected


@pytest.mark.parametrize("cell", ["tomorrow", "2025-02-29", 7, False, time(9, 0)])
def test_parse_date_refuses(cell: CellValue) -> None:
    result = parse_date(cell, SHANGHAI)

    assert result == Invalid(
        "bad-date",
        {
            "found": format_found(cell),
            "expected": "YYYY-MM-DD",
            "example": "2025-03-15",
        },
    )


@pytest.mark.parametrize(
    "cell",
    [
        "2025-03",
        "2025/3",
        "2025.3",
        "2025年3月",
        "2025年03月",
        "２０２５－０３",
        "2025-03-01",
        "2025-03-31",
        date(2025, 3, 15),
        datetime(2025, 3, 15, 10, 0),
        45731,
    ],
)
def test_parse_month_accepts(cell: CellValue) -> None:
    assert parse_month(cell, SHANGHAI) == date(2025, 3, 1)


@pytest.mark.parametrize("cell", ["2025-13", "2025-0", "March", "2025", "3月", 3.5])
def test_parse_month_refuses(cell: CellValue) -> None:
    result = parse_month(cell, SHANGHAI)

    assert isinstance(result, Invalid)
    assert result.code == "bad-month"
    assert result.params["example"] == "2025-03"


# --- numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (12, 12.0),
        (0, 0.0),
        ("0", 0.0),
        ("0%", 0.0),
        (12.5, 12.5),
        (-3, -3.0),
        ("12", 12.0),
        (" 12 ", 12.0),
        ("12.5", 12.5),
        (".5", 0.5),
        ("1,234.5", 1234.5),
        ("1,234,567", 1234567.0),
        ("¥1,234", 1234.0),
        ("￥1,234", 1234.0),
        ("$12", 12.0),
        ("1234元", 1234.0),
        ("12%", 0.12),
        ("12.5%", 0.125),
        ("１２．５", 12.5),
        ("-12", -12.0),
        ("−12", -12.0),
        ("+12", 12.0),
    ],
)
def test_parse_number_accepts(cell: CellValue, expected: float) -> None:
    result = parse_number(cell)

    assert result == pytest.approx(expected)
    assert isinstance(result, float)


@pytest.mark.parametrize(
    "cell",
    [
        "abc",
        "12abc",
        "1,2",
        "1,23",
        "12,34.5",
        "1.2.3",
        "1.2万",
        "--1",
        "9" * 400,
        True,
        float("inf"),
        float("nan"),
        date(2025, 3, 15),
        Formula("=A1"),
    ],
)
def test_parse_number_refuses(cell: CellValue) -> None:
    result = parse_number(cell)

    assert result == Invalid(
        "bad-number",
        {"found": format_found(cell), "expected": "12.5", "example": "12.5"},
    )


@pytest.mark.parametrize(
    ("cell", "expected"),
    [(12, 12), (12.0, 12), ("12", 12), ("1,200", 1200), ("１２", 12), ("-3", -3)],
)
def test_parse_integer_accepts(cell: CellValue, expected: int) -> None:
    result = parse_integer(cell)

    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize("cell", [12.5, "12.5", "12%", "twelve", False])
def test_parse_integer_refuses(cell: CellValue) -> None:
    result = parse_integer(cell)

    assert isinstance(result, Invalid)
    assert result.code == "bad-integer"
    assert result.params == {
        "found": format_found(cell),
        "expected": "12",
        "example": "12",
    }


# --- yes or no, email, text ----------------------------------------------------------

TRUE_SPELLINGS = [True, 1, 1.0, "TRUE", "true", "Yes", "y", "是", "对", "1", "√", "✓"]
FALSE_SPELLINGS = [
    False,
    0,
    0.0,
    "FALSE",
    "false",
    "No",
    "N",
    "否",
    "错",
    "0",
    "×",
    "✗",
]


@pytest.mark.parametrize("cell", TRUE_SPELLINGS)
def test_parse_bool_true(cell: CellValue) -> None:
    assert parse_bool(cell) is True


@pytest.mark.parametrize("cell", FALSE_SPELLINGS)
def test_parse_bool_false(cell: CellValue) -> None:
    assert parse_bool(cell) is False


def test_parse_bool_full_width() -> None:
    assert parse_bool("ＹＥＳ") is True
    assert parse_bool("１") is True


@pytest.mark.parametrize("cell", ["maybe", "是的吧", 2, 0.5, date(2025, 3, 15)])
def test_parse_bool_refuses(cell: CellValue) -> None:
    result = parse_bool(cell)

    assert isinstance(result, Invalid)
    assert result.code == "bad-bool"
    assert result.params["found"] == format_found(cell)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("zhang.san@example.com", "zhang.san@example.com"),
        ("  Li.Si@Example.COM ", "Li.Si@Example.COM"),
        ("mailto:wang@example.cn", "wang@example.cn"),
        ("ｗａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ", "wang@example.com"),
    ],
)
def test_parse_email_accepts(cell: str, expected: str) -> None:
    assert parse_email(cell) == expected


@pytest.mark.parametrize(
    "cell", ["zhang.san", "a@b", "a b@example.com", "a@@example.com", "@example.com", 5]
)
def test_parse_email_refuses(cell: CellValue) -> None:
    result = parse_email(cell)

    assert isinstance(result, Invalid)
    assert result.code == "bad-email"
    assert result.params["example"] == "zhang.san@example.com"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("007", "007"),
        (" REQ-1 ", "REQ-1"),
        ("ＲＥＱ－１", "REQ-1"),
        (7, "7"),
        (7.0, "7"),
    ],
)
def test_parse_id(cell: CellValue, expected: str) -> None:
    assert parse_id(cell) == expected


def test_parse_text_keeps_full_width_punctuation() -> None:
    assert parse_text(" 请尽快，谢谢！ ") == "请尽快，谢谢！"
    assert parse_text(12.5) == "12.5"


def test_normalise() -> None:
    assert normalise("\u3000ＡＢＣ１２３ ") == "ABC123"


# --- showing what was typed ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, ""),
        (12.0, "12"),
        (12.5, "12.5"),
        (0.1 + 0.2, "0.3"),
        (7, "7"),
        (1e40, "1e+40"),
        (10**50, "1" + "0" * 38 + "…"),
        (True, "TRUE"),
        (datetime(2025, 3, 5, 9, 7, 30), "2025-03-05 09:07"),
        (
            datetime(2025, 3, 5, 9, 7, tzinfo=timezone(timedelta(hours=8))),
            "2025-03-05 09:07",
        ),
        (date(2025, 3, 5), "2025-03-05"),
        (time(9, 5), "09:05"),
        (Formula("=A1+1"), "=A1+1"),
        ("  two\n lines ", "two lines"),
        ("x" * 40, "x" * 40),
        ("x" * 41, "x" * 39 + "…"),
        ("长" * 50, "长" * 39 + "…"),
    ],
)
def test_format_found(value: object, shown: str) -> None:
    assert format_found(value) == shown


# --- anything at all -----------------------------------------------------------------

ANY_CELL = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=st.sampled_from([UTC, SHANGHAI, NEW_YORK])),
    st.times(),
    st.builds(Formula, st.text(max_size=10)),
)


@given(ANY_CELL)
def test_every_parser_answers_a_value_none_or_invalid(cell: CellValue) -> None:
    answers: dict[type, list[object]] = {
        datetime: [
            parse_datetime(cell, SHANGHAI),
            parse_datetime(cell, NEW_YORK, end_of_day=True),
        ],
        date: [parse_date(cell, SHANGHAI), parse_month(cell, SHANGHAI)],
        float: [parse_number(cell)],
        int: [parse_integer(cell)],
        bool: [parse_bool(cell)],
        str: [parse_email(cell)],
    }
    for kind, results in answers.items():
        for result in results:
            assert result is None or isinstance(result, kind | Invalid)
            if isinstance(result, Invalid):
                assert result.params["found"] == format_found(cell)
                assert len(result.params["found"]) <= 40
            if isinstance(result, datetime):
                assert result.tzinfo in (SHANGHAI, NEW_YORK)
