from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automation.calendar import BusinessCalendar
from automation.clocks import Due, Pause, clock_hours, due_time
from automation.config import CalendarSettings, Clock

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")

CHINA = BusinessCalendar(CalendarSettings())
GERMANY = BusinessCalendar(
    CalendarSettings(
        time_zone=BERLIN, country="DE", working_hours=((time(8, 0), time(16, 30)),)
    )
)


def sh(
    month: int, day: int, hour: int, minute: int = 0, year: int = 2025, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def be(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, second, tzinfo=BERLIN)


def due(start: datetime, within: float, clock: Clock, *pauses: Pause) -> datetime:
    return due_time(CHINA, start, within, clock, pauses).at


# China's National Day 2025: 10-01..10-08 off, Sunday 09-28 and Saturday 10-11 worked.


def test_working_days_count_the_make_up_sunday() -> None:
    assert due(sh(9, 26, 10), 3, Clock.WORKING_DAYS) == sh(9, 30, 18)


def test_working_days_jump_the_national_day_break() -> None:
    assert due(sh(9, 30, 10), 3, Clock.WORKING_DAYS) == sh(10, 11, 18)


def test_working_hours_cross_the_national_day_break() -> None:
    assert due(sh(9, 30, 17), 4, Clock.WORKING_HOURS) == sh(10, 9, 12)
    assert due(sh(9, 30, 17), 5, Clock.WORKING_HOURS) == sh(10, 9, 14, 30)
    assert due(sh(9, 27, 10), 2, Clock.WORKING_HOURS) == sh(9, 28, 11)
    assert (
        clock_hours(CHINA, sh(9, 30, 17), sh(10, 9, 14, 30), Clock.WORKING_HOURS) == 5
    )


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (sh(6, 9, 10), sh(6, 12, 18)),  # Monday 10:00 -> end of Thursday
        (sh(6, 14, 10), sh(6, 18, 18)),  # Saturday -> end of Wednesday
        (sh(6, 15, 23, 59), sh(6, 18, 18)),  # late Sunday -> end of Wednesday
        (sh(6, 9, 8), sh(6, 12, 18)),  # before opening still counts from Tuesday
    ],
)
def test_working_days(start: datetime, expected: datetime) -> None:
    assert due(start, 3, Clock.WORKING_DAYS) == expected


def test_working_days_round_up_and_need_at_least_one() -> None:
    assert due(sh(6, 9, 10), 0, Clock.WORKING_DAYS) == sh(6, 10, 18)
    assert due(sh(6, 9, 10), 0.5, Clock.WORKING_DAYS) == sh(6, 10, 18)
    assert due(sh(6, 9, 10), 2.2, Clock.WORKING_DAYS) == sh(6, 12, 18)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (sh(6, 10, 7), 2, sh(6, 10, 11)),  # before 09:00
        (sh(6, 10, 12, 30), 1, sh(6, 10, 14, 30)),  # at lunch
        (sh(6, 10, 19), 1, sh(6, 11, 10)),  # after 18:00
        (sh(6, 15, 10), 1, sh(6, 16, 10)),  # on Sunday
        (sh(6, 10, 9), 3, sh(6, 10, 12)),  # ends exactly at the lunch break
        (sh(6, 10, 9), 7.5, sh(6, 10, 18)),  # ends exactly at closing time
        (sh(6, 10, 19), 0, sh(6, 11, 9)),  # nothing to do: next working instant
        (sh(6, 10, 10, 15), 0, sh(6, 10, 10, 15)),
    ],
)
def test_working_hours_from_any_start(
    start: datetime, hours: float, expected: datetime
) -> None:
    assert due(start, hours, Clock.WORKING_HOURS) == expected


def test_working_hours_cross_a_night_and_a_weekend() -> None:
    # Friday 17:00-18:00 is one hour; Monday 09:00-12:00 are the other three.
    assert due(sh(6, 13, 17), 4, Clock.WORKING_HOURS) == sh(6, 16, 12)
    assert due(sh(6, 13, 17), 4.5, Clock.WORKING_HOURS) == sh(6, 16, 14)
    # Friday 11:00-12:00 and 13:30-18:00, Monday 09:00-12:00, then 1.5 h more.
    assert due(sh(6, 13, 11), 10, Clock.WORKING_HOURS) == sh(6, 16, 15)


def test_calendar_hours_and_days() -> None:
    assert due(sh(6, 13, 17), 24, Clock.CALENDAR_HOURS) == sh(6, 14, 17)
    assert due(sh(9, 30, 22), 2, Clock.CALENDAR_HOURS) == sh(10, 1, 0)
    # The due is the last second of the Nth day: the sheet shows 23:59.
    assert due(sh(6, 9, 10), 1, Clock.CALENDAR_DAYS) == sh(6, 10, 23, 59, second=59)
    assert due(sh(6, 9, 23, 59), 1, Clock.CALENDAR_DAYS) == sh(6, 10, 23, 59, second=59)
    assert due(sh(6, 9, 10), 0, Clock.CALENDAR_DAYS) == sh(6, 9, 23, 59, second=59)
    assert due(sh(6, 9, 10), 1.5, Clock.CALENDAR_DAYS) == sh(6, 11, 23, 59, second=59)


# Pauses: a status that waits for the customer or for sales, then a resume.


def test_calendar_hours_pause() -> None:
    start = sh(6, 10, 10)
    assert due(start, 24, Clock.CALENDAR_HOURS, (sh(6, 10, 12), sh(6, 10, 15))) == sh(
        6, 11, 13
    )
    overlapping = ((sh(6, 10, 12), sh(6, 10, 15)), (sh(6, 10, 14), sh(6, 10, 16)))
    assert due(start, 24, Clock.CALENDAR_HOURS, *overlapping) == sh(6, 11, 14)
    after_due = (sh(6, 11, 14), sh(6, 11, 15))
    assert due(start, 24, Clock.CALENDAR_HOURS, after_due) == sh(6, 11, 10)
    at_due = (sh(6, 11, 10), sh(6, 11, 15))
    assert due(start, 24, Clock.CALENDAR_HOURS, at_due) == sh(6, 11, 10)
    before_start = (sh(6, 10, 9), sh(6, 10, 11))
    assert due(start, 24, Clock.CALENDAR_HOURS, before_start) == sh(6, 11, 11)


def test_working_hours_pause() -> None:
    start = sh(6, 10, 9)
    assert due(start, 4, Clock.WORKING_HOURS) == sh(6, 10, 14, 30)
    assert due(start, 4, Clock.WORKING_HOURS, (sh(6, 10, 10), sh(6, 10, 11))) == sh(
        6, 10, 15, 30
    )
    lunch = (sh(6, 10, 12), sh(6, 10, 13, 30))
    assert due(start, 4, Clock.WORKING_HOURS, lunch) == sh(6, 10, 14, 30)
    # The accumulated time reaches 1 h exactly where the pause begins.
    assert due(start, 1, Clock.WORKING_HOURS, (sh(6, 10, 10), sh(6, 10, 11))) == sh(
        6, 10, 10
    )


def test_working_days_pause_moves_by_its_working_hours() -> None:
    start = sh(6, 9, 10)
    assert due(start, 2, Clock.WORKING_DAYS) == sh(6, 11, 18)
    # Tuesday 16:00-18:00 and Wednesday 09:00-10:00 are 3 working hours held.
    held = (sh(6, 10, 16), sh(6, 11, 10))
    assert due(start, 2, Clock.WORKING_DAYS, held) == sh(6, 12, 12)
    night = (sh(6, 10, 19), sh(6, 11, 8))
    assert due(start, 2, Clock.WORKING_DAYS, night) == sh(6, 11, 18)


def test_calendar_days_pause_moves_by_its_real_length() -> None:
    pause = (sh(6, 10, 8), sh(6, 10, 10, 30))
    assert due(sh(6, 9, 10), 1, Clock.CALENDAR_DAYS, pause) == sh(
        6, 11, 2, 29, second=59
    )


@pytest.mark.parametrize(
    ("clock", "hours"),
    [
        (Clock.CALENDAR_HOURS, 3.0),
        (Clock.CALENDAR_DAYS, 3.0),
        (Clock.WORKING_HOURS, 1.5),
        (Clock.WORKING_DAYS, 1.5),
    ],
)
def test_clock_hours_after_pause_and_resume(clock: Clock, hours: float) -> None:
    # Paused at 11:00, resumed at 12:00; now is 14:00 (lunch 12:00-13:30).
    pause = (sh(6, 10, 11), sh(6, 10, 12))
    assert clock_hours(CHINA, sh(6, 10, 10), sh(6, 10, 14), clock, [pause]) == hours
    unpaused = clock_hours(CHINA, sh(6, 10, 10), sh(6, 10, 14), clock)
    assert unpaused == hours + 1


def test_clock_hours_is_negative_when_reversed() -> None:
    early, late = sh(6, 10, 9), sh(6, 10, 18)
    assert clock_hours(CHINA, early, late, Clock.WORKING_HOURS) == 7.5
    assert clock_hours(CHINA, late, early, Clock.WORKING_HOURS) == -7.5
    assert clock_hours(CHINA, late, early, Clock.CALENDAR_HOURS) == -9
    assert clock_hours(CHINA, sh(6, 13, 17), sh(6, 16, 12), Clock.WORKING_DAYS) == 4


# Provisional: the library has no 2027 make-up days, so 2027 is a guess.


def test_working_clock_into_2027_is_provisional() -> None:
    start = sh(12, 30, 10, year=2026)
    result = due_time(CHINA, start, 3, Clock.WORKING_DAYS)
    assert result == Due(sh(1, 5, 18, year=2027), provisional=True)
    assert due_time(CHINA, start, 1, Clock.WORKING_DAYS).provisional is False
    assert due_time(CHINA, start, 24 * 9, Clock.CALENDAR_HOURS).provisional is False
    # 6.5 h on Dec 30, 7.5 h on Dec 31, then Jan 1 is off and Jan 4 is a guess.
    guessed = due_time(CHINA, start, 16, Clock.WORKING_HOURS)
    assert guessed == Due(sh(1, 4, 11, year=2027), provisional=True)


# Daylight-saving time in Berlin: calendar hours are real hours.


def test_calendar_hours_across_dst_are_real_hours() -> None:
    spring = due_time(GERMANY, be(3, 29, 12), 24, Clock.CALENDAR_HOURS).at
    assert spring == be(3, 30, 13)
    assert spring.utcoffset() == timedelta(hours=2)
    autumn = due_time(GERMANY, be(10, 25, 12), 24, Clock.CALENDAR_HOURS).at
    assert autumn == be(10, 26, 11)
    assert autumn.utcoffset() == timedelta(hours=1)
    assert (
        clock_hours(GERMANY, be(3, 29, 12), be(3, 30, 12), Clock.CALENDAR_HOURS) == 23
    )
    assert (
        clock_hours(GERMANY, be(10, 25, 12), be(10, 26, 12), Clock.CALENDAR_HOURS) == 25
    )


def test_calendar_days_end_at_local_midnight_across_dst() -> None:
    result = due_time(GERMANY, be(3, 29, 10), 1, Clock.CALENDAR_DAYS).at
    assert result == be(3, 30, 23, 59, 59)
    hours = clock_hours(GERMANY, be(3, 29, 10), result, Clock.CALENDAR_HOURS)
    assert hours == pytest.approx(37 - 1 / 3600)


def test_working_hours_keep_wall_clock_across_dst() -> None:
    result = due_time(GERMANY, be(3, 28, 16), 2, Clock.WORKING_HOURS).at
    assert result == be(3, 31, 9, 30)
    assert result.utcoffset() == timedelta(hours=2)
    assert clock_hours(GERMANY, be(3, 28, 16), result, Clock.WORKING_HOURS) == 2
    assert due_time(GERMANY, be(10, 24, 16), 1, Clock.WORKING_HOURS).at == be(
        10, 27, 8, 30
    )


# Inputs.


def test_result_is_in_the_calendar_time_zone() -> None:
    start = datetime(2025, 6, 10, 1, tzinfo=UTC)  # 09:00 in Shanghai
    result = due_time(CHINA, start, 1, Clock.WORKING_HOURS).at
    assert result.tzinfo == SHANGHAI
    assert result == sh(6, 10, 10)


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2025, 6, 10, 9)
    with pytest.raises(
        ValueError, match=r"must carry a time zone \(e.g. Asia/Shanghai"
    ):
        due_time(CHINA, naive, 1, Clock.WORKING_HOURS)
    with pytest.raises(ValueError, match="time zone"):
        clock_hours(CHINA, sh(6, 10, 9), naive, Clock.CALENDAR_HOURS)
    with pytest.raises(ValueError, match="pause start"):
        due_time(CHINA, sh(6, 10, 9), 1, Clock.CALENDAR_HOURS, [(naive, sh(6, 10, 10))])


@pytest.mark.parametrize("within", [-0.5, float("nan"), float("inf")])
def test_bad_durations_are_refused(within: float) -> None:
    with pytest.raises(ValueError, match="within must be"):
        due_time(CHINA, sh(6, 10, 9), within, Clock.CALENDAR_HOURS)


# Properties over random starts and durations.

starts = st.datetimes(
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2027, 12, 31),
    timezones=st.just(UTC),
)
calendars = st.sampled_from([CHINA, GERMANY])
working_clocks = st.sampled_from([Clock.WORKING_HOURS, Clock.WORKING_DAYS])
durations = st.floats(min_value=0, max_value=120, allow_nan=False)


def in_working_time(calendar: BusinessCalendar, moment: datetime) -> bool:
    periods = calendar.working_periods(moment.astimezone(calendar.tz).date())
    return any(low <= moment <= high for low, high in periods)


@settings(max_examples=150, deadline=None)
@given(calendars, starts, durations, durations, working_clocks)
def test_working_due_is_working_time_and_monotone(
    calendar: BusinessCalendar,
    start: datetime,
    first: float,
    second: float,
    clock: Clock,
) -> None:
    short, long = sorted((first, second))
    early = due_time(calendar, start, short, clock).at
    late = due_time(calendar, start, long, clock).at
    assert in_working_time(calendar, early)
    assert in_working_time(calendar, late)
    assert start <= early <= late


@settings(max_examples=150, deadline=None)
@given(calendars, starts, durations)
def test_working_hours_round_trip(
    calendar: BusinessCalendar, start: datetime, hours: float
) -> None:
    result = due_time(calendar, start, hours, Clock.WORKING_HOURS).at
    counted = clock_hours(calendar, start, result, Clock.WORKING_HOURS)
    assert counted == pytest.approx(hours, abs=1e-6)


@settings(max_examples=100, deadline=None)
@given(
    calendars,
    starts,
    durations,
    st.floats(min_value=-24, max_value=96, allow_nan=False),
    st.floats(min_value=0, max_value=72, allow_nan=False),
)
def test_working_hours_round_trip_with_a_pause(
    calendar: BusinessCalendar,
    start: datetime,
    hours: float,
    offset: float,
    length: float,
) -> None:
    pause_start = start + timedelta(hours=offset)
    pause = (pause_start, pause_start + timedelta(hours=length))
    result = due_time(calendar, start, hours, Clock.WORKING_HOURS, [pause]).at
    counted = clock_hours(calendar, start, result, Clock.WORKING_HOURS, [pause])
    assert counted == pytest.approx(hours, abs=1e-6)
    assert result >= due_time(calendar, start, hours, Clock.WORKING_HOURS).at
