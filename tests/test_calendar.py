from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from automation.calendar import BusinessCalendar
from automation.config import CalendarSettings
from automation.errors import ConfigurationError

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def china() -> BusinessCalendar:
    return BusinessCalendar(CalendarSettings())


@pytest.fixture(scope="module")
def germany() -> BusinessCalendar:
    return BusinessCalendar(
        CalendarSettings(
            time_zone=BERLIN,
            country="DE",
            working_hours=((time(8, 0), time(16, 30)),),
        )
    )


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 9, 26), True),  # Friday before the break
        (date(2025, 9, 27), False),  # Saturday
        (date(2025, 9, 28), True),  # make-up Sunday
        (date(2025, 9, 30), True),
        (date(2025, 10, 1), False),  # National Day
        (date(2025, 10, 6), False),  # Monday inside the break
        (date(2025, 10, 8), False),  # last day of the break
        (date(2025, 10, 9), True),
        (date(2025, 10, 11), True),  # make-up Saturday
        (date(2025, 10, 12), False),  # ordinary Sunday
        (date(2026, 2, 14), True),  # make-up Saturday of 2026
        (date(2026, 2, 17), False),  # Spring Festival 2026
    ],
)
def test_china_national_day_break(
    china: BusinessCalendar, day: date, working: bool
) -> None:
    assert china.is_working_day(day) is working


def test_confirmed_through_comes_from_the_library(china: BusinessCalendar) -> None:
    assert china.confirmed_through == 2026
    assert china.is_provisional(date(2027, 10, 1))
    assert not china.is_provisional(date(2026, 12, 31))
    assert not china.is_provisional(date(2025, 10, 1))


def test_confirmed_through_from_settings_wins() -> None:
    calendar = BusinessCalendar(CalendarSettings(confirmed_through=2025))
    assert calendar.confirmed_through == 2025
    assert calendar.is_provisional(date(2026, 1, 5))


def test_country_without_make_up_days_is_always_confirmed(
    germany: BusinessCalendar,
) -> None:
    assert germany.confirmed_through is None
    assert not germany.is_provisional(date(2040, 1, 2))


def test_extra_days_from_settings_override_the_country() -> None:
    calendar = BusinessCalendar(
        CalendarSettings(
            extra_holidays=frozenset({date(2025, 6, 10), date(2025, 9, 28)}),
            extra_working_days=frozenset({date(2025, 6, 14), date(2025, 10, 2)}),
        )
    )
    assert not calendar.is_working_day(date(2025, 6, 10))  # a plain Tuesday
    assert not calendar.is_working_day(date(2025, 9, 28))  # a make-up Sunday
    assert calendar.is_working_day(date(2025, 6, 14))  # a plain Saturday
    assert calendar.is_working_day(date(2025, 10, 2))  # National Day


def test_no_country_means_weekends_and_extra_days_only() -> None:
    calendar = BusinessCalendar(
        CalendarSettings(country=None, extra_holidays=frozenset({date(2025, 6, 11)}))
    )
    assert calendar.confirmed_through is None
    assert calendar.is_working_day(date(2025, 10, 1))
    assert not calendar.is_working_day(date(2025, 9, 28))
    assert not calendar.is_working_day(date(2025, 6, 11))


def test_working_periods_are_local_and_aware(china: BusinessCalendar) -> None:
    periods = china.working_periods(date(2025, 9, 28))
    assert periods == [
        (
            datetime(2025, 9, 28, 9, tzinfo=SHANGHAI),
            datetime(2025, 9, 28, 12, tzinfo=SHANGHAI),
        ),
        (
            datetime(2025, 9, 28, 13, 30, tzinfo=SHANGHAI),
            datetime(2025, 9, 28, 18, tzinfo=SHANGHAI),
        ),
    ]
    assert all(moment.tzinfo == SHANGHAI for period in periods for moment in period)
    assert china.working_periods(date(2025, 10, 1)) == []


def test_end_of_working_day(china: BusinessCalendar) -> None:
    end = china.end_of_working_day(date(2025, 10, 11))
    assert end == datetime(2025, 10, 11, 18, tzinfo=SHANGHAI)
    with pytest.raises(ValueError, match="not a working day"):
        china.end_of_working_day(date(2025, 10, 1))


def test_working_periods_keep_wall_clock_across_dst(germany: BusinessCalendar) -> None:
    before = germany.working_periods(date(2025, 3, 28))
    after = germany.working_periods(date(2025, 3, 31))
    assert [(a.time(), b.time()) for a, b in before + after] == [
        (time(8, 0), time(16, 30)),
        (time(8, 0), time(16, 30)),
    ]
    assert before[0][0].utcoffset() == timedelta(hours=1)
    assert after[0][0].utcoffset() == timedelta(hours=2)
    autumn = germany.working_periods(date(2025, 10, 27))
    assert autumn[0][0].utcoffset() == timedelta(hours=1)
    assert autumn[0][0].time() == time(8, 0)


def test_german_public_holiday(germany: BusinessCalendar) -> None:
    assert not germany.is_working_day(date(2025, 10, 3))  # Day of German Unity
    assert germany.is_working_day(date(2025, 10, 2))


def test_unknown_country_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="does not know the country 'XX'"):
        BusinessCalendar(CalendarSettings(country="XX"))


@pytest.mark.parametrize(
    "hours",
    [
        (),
        ((time(12, 0), time(9, 0)),),
        ((time(9, 0), time(12, 0)), (time(11, 0), time(18, 0))),
    ],
)
def test_bad_working_hours_are_refused(hours: tuple[tuple[time, time], ...]) -> None:
    with pytest.raises(ConfigurationError):
        BusinessCalendar(CalendarSettings(working_hours=hours))
