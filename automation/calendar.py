"""Which days and hours count as working time, from the Calendar tab's settings.

A working day is Monday to Friday minus the country's public holidays, plus the
country's make-up working days (China's 调休), then the Calendar tab's own extra
holidays and extra working days. Holiday data for a year the library has no official
notice for is a guess: such days are "provisional" (see `is_provisional`).

Known limits: working hours are the same on every working day; a period whose local
start or end falls in a daylight-saving gap or fold is read with the offset before the
change (Python's fold=0); working periods cannot cross midnight.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

from automation.config import CalendarSettings
from automation.errors import ConfigurationError

logger = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
MICROS_PER_HOUR = 3_600_000_000

# A working span is a pair of instants in microseconds since the Unix epoch: integer
# arithmetic keeps sums of many spans exact and is several times faster than datetimes.
Span = tuple[int, int]


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    return (moment - EPOCH) // MICROSECOND


def from_micros(micros: int, tz: ZoneInfo) -> datetime:
    """The aware datetime in `tz` of a count of microseconds since the Unix epoch."""
    return (EPOCH + timedelta(microseconds=micros)).astimezone(tz)


def _country_holidays(country: str, years: range) -> holidays.HolidayBase:
    """The holidays library's data for `country` over `years`."""
    try:
        return holidays.country_holidays(country, years=years)
    except NotImplementedError as error:
        raise ConfigurationError(
            f"The holidays library does not know the country {country!r}; use an "
            "ISO 3166 code such as CN or DE on the Calendar tab."
        ) from error


@cache
def _year_days(country: str, year: int) -> tuple[frozenset[date], frozenset[date]]:
    """The public holidays and make-up working days of `country` in `year`."""
    # Make-up days for a holiday early in a year can be announced with the year
    # before, so the neighbours are asked for too; the filter keeps only `year`.
    data = _country_holidays(country, range(year - 1, year + 2))
    public = frozenset(day for day in data if day.year == year)
    makeup = frozenset(
        day for day in getattr(data, "weekend_workdays", ()) if day.year == year
    )
    return public, makeup


@cache
def _library_confirmed_through(country: str) -> int | None:
    """The last year with make-up working days in the library, None if it has none.

    A country without make-up days has holidays fixed by rule, so every year counts as
    confirmed. Old odd dates in the library are harmless: only the latest year matters.
    """
    probe = _country_holidays(country, range(0))
    first = getattr(probe, "start_year", 1950)
    last = getattr(probe, "end_year", 2100)
    full = _country_holidays(country, range(first, last + 1))
    years = [day.year for day in getattr(full, "weekend_workdays", ())]
    return max(years) if years else None


def _check_hours(hours: tuple[tuple[time, time], ...]) -> None:
    """Refuse working hours that are empty, reversed or overlapping."""
    if not hours:
        raise ConfigurationError(
            "The Calendar tab has no working hours; add at least one period "
            "such as 09:00-18:00."
        )
    previous_end: time | None = None
    for begin, end in hours:
        if begin >= end or (previous_end is not None and begin < previous_end):
            raise ConfigurationError(
                f"The working period {begin:%H:%M}-{end:%H:%M} is reversed or overlaps "
                "the one before; list periods in order within one day."
            )
        previous_end = end


class BusinessCalendar:
    """Working days and working periods of one Calendar tab, cached per day."""

    def __init__(self, settings: CalendarSettings) -> None:
        _check_hours(settings.working_hours)
        self.settings = settings
        self.tz: ZoneInfo = settings.time_zone
        self.country = settings.country.upper() if settings.country else None
        if settings.confirmed_through is not None:
            self.confirmed_through: int | None = settings.confirmed_through
        elif self.country is not None:
            self.confirmed_through = _library_confirmed_through(self.country)
        else:
            self.confirmed_through = None
        self._working: dict[date, bool] = {}
        self._spans: dict[date, tuple[Span, ...]] = {}
        logger.debug(
            "calendar %s in %s confirmed through %s",
            self.country,
            self.tz.key,
            self.confirmed_through,
        )

    def is_working_day(self, day: date) -> bool:
        """Whether `day` has working hours at all."""
        known = self._working.get(day)
        if known is None:
            known = self._decide(day)
            self._working[day] = known
        return known

    def _decide(self, day: date) -> bool:
        # The tab's own days win over the country's; an extra working day wins over
        # an extra holiday listed for the same date.
        if day in self.settings.extra_working_days:
            return True
        if day in self.settings.extra_holidays:
            return False
        if self.country is None:
            return day.weekday() < 5
        public, makeup = _year_days(self.country, day.year)
        if day in makeup:
            return True
        return day.weekday() < 5 and day not in public

    def is_provisional(self, day: date) -> bool:
        """Whether the holiday data for `day` is a guess (no official notice yet)."""
        return self.confirmed_through is not None and day.year > self.confirmed_through

    def spans(self, day: date) -> tuple[Span, ...]:
        """The working periods of `day` in epoch microseconds, for the clocks."""
        known = self._spans.get(day)
        if known is None:
            known = self._build_spans(day) if self.is_working_day(day) else ()
            self._spans[day] = known
        return known

    def _build_spans(self, day: date) -> tuple[Span, ...]:
        spans = []
        for begin, end in self.settings.working_hours:
            low = to_micros(datetime.combine(day, begin, tzinfo=self.tz))
            high = to_micros(datetime.combine(day, end, tzinfo=self.tz))
            if low < high:
                spans.append((low, high))
        return tuple(spans)

    def working_periods(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working periods of `day` as aware datetimes; empty on a day off."""
        return [
            (from_micros(low, self.tz), from_micros(high, self.tz))
            for low, high in self.spans(day)
        ]

    def end_of_working_day(self, day: date) -> datetime:
        """The end of the last working period of `day`."""
        spans = self.spans(day)
        if not spans:
            raise ValueError(f"{day.isoformat()} is not a working day; it has no end.")
        return from_micros(spans[-1][1], self.tz)

    def local_date(self, micros: int) -> date:
        """The local date of an instant given in epoch microseconds."""
        return from_micros(micros, self.tz).date()
