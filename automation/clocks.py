"""Deadline arithmetic: when a stage is due, and how much of a clock has run.

Four clocks (`automation.config.Clock`) count time differently: calendar hours and
calendar days count real time, working hours count only the working periods of a
`BusinessCalendar`, working days end at the close of the Nth working day, and calendar
days at the last second (23:59:59) of the Nth calendar day. Paused
time (a status such as "waiting for customer") does not count. All arithmetic runs on
integer microseconds since the epoch, so daylight-saving changes are real time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from automation.calendar import (
    MICROS_PER_HOUR,
    BusinessCalendar,
    Span,
    from_micros,
    to_micros,
)
from automation.config import Clock

MICROS_PER_SECOND = 1_000_000
Pause = tuple[datetime, datetime]

# A calendar without any working day for ten years is misconfigured; stop scanning.
_MAX_IDLE_DAYS = 3660
_WORKING_CLOCKS = (Clock.WORKING_HOURS, Clock.WORKING_DAYS)


@dataclass(frozen=True)
class Due:
    """When a stage is due; `provisional` when it rests on guessed holiday data."""

    at: datetime
    provisional: bool


def due_time(
    calendar: BusinessCalendar,
    start: datetime,
    within: float,
    clock: Clock,
    pauses: Sequence[Pause] = (),
) -> Due:
    """The instant a stage started at `start` is due, `within` units of `clock` later.

    Working days with pauses are an approximation: the unpaused due (end of the Nth
    working day) moves later by the working hours that fall inside the pauses, counted
    like the working-hours clock from that due.
    """
    _require_aware(start, "start")
    if not math.isfinite(within) or within < 0:
        raise ValueError(f"within must be a finite number of at least 0, not {within}.")
    begin = to_micros(start)
    paused = _merge(pauses, begin)

    if clock is Clock.CALENDAR_HOURS:
        due = _advance_real(begin, _hours(within), paused)
    elif clock is Clock.CALENDAR_DAYS:
        last_day = calendar.local_date(begin) + timedelta(days=math.ceil(within))
        # The last second of the day, so the sheet shows 23:59 of that day rather
        # than 00:00 of the next, which people read as a day early.
        end = _midnight_after(calendar, last_day) - MICROS_PER_SECOND
        due = _advance_real(begin, max(end - begin, 0), paused)
    elif clock is Clock.WORKING_HOURS:
        due = _advance_working(calendar, begin, _hours(within), paused)
    else:
        due = _working_days_due(calendar, begin, within, paused)

    # Provisional years only ever follow confirmed ones, so the due date decides.
    at = from_micros(due, calendar.tz)
    provisional = clock in _WORKING_CLOCKS and calendar.is_provisional(at.date())
    return Due(at, provisional)


def clock_hours(
    calendar: BusinessCalendar,
    start: datetime,
    end: datetime,
    clock: Clock,
    pauses: Sequence[Pause] = (),
) -> float:
    """Hours of `clock` between `start` and `end`, minus pauses; negative if reversed.

    Calendar clocks count real hours; working clocks count hours inside working
    periods only. Used for the share of time left and for hours late.
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    low, high = to_micros(start), to_micros(end)
    sign = 1
    if high < low:
        low, high, sign = high, low, -1
    paused = _merge(pauses, low, high)

    if clock in _WORKING_CLOCKS:
        counted = _working_between(calendar, low, high, paused)
    else:
        counted = (
            high
            - low
            - sum(pause_end - pause_start for pause_start, pause_end in paused)
        )
    return sign * counted / MICROS_PER_HOUR


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"The {name} {moment.isoformat()} has no time zone; the datetime must "
            "carry a time zone (e.g. Asia/Shanghai)."
        )


def _hours(hours: float) -> int:
    return round(hours * MICROS_PER_HOUR)


def _merge(pauses: Sequence[Pause], low: int, high: int | None = None) -> list[Span]:
    """Pauses as sorted, non-overlapping spans, clipped to [low, high]."""
    spans = []
    for pause_start, pause_end in pauses:
        _require_aware(pause_start, "pause start")
        _require_aware(pause_end, "pause end")
        begin, end = max(to_micros(pause_start), low), to_micros(pause_end)
        if high is not None:
            end = min(end, high)
        if begin < end:
            spans.append((begin, end))
    spans.sort()

    merged: list[Span] = []
    for begin, end in spans:
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


def _midnight_after(calendar: BusinessCalendar, day: date) -> int:
    """The local midnight that closes `day`."""
    following = day + timedelta(days=1)
    return to_micros(datetime.combine(following, time(0), tzinfo=calendar.tz))


def _advance_real(begin: int, need: int, paused: list[Span]) -> int:
    """The instant `need` microseconds of unpaused real time after `begin`."""
    cursor = begin
    for pause_start, pause_end in paused:
        if pause_start - cursor >= need:
            break
        need -= pause_start - cursor
        cursor = pause_end
    return cursor + need


def _unpaused(low: int, high: int, paused: list[Span]) -> list[Span]:
    """The parts of [low, high] outside every pause."""
    if not paused:
        return [(low, high)]
    parts = []
    cursor = low
    for pause_start, pause_end in paused:
        if pause_end <= cursor:
            continue
        if pause_start >= high:
            break
        if pause_start > cursor:
            parts.append((cursor, pause_start))
        cursor = pause_end
        if cursor >= high:
            return parts
    parts.append((cursor, high))
    return parts


def _advance_working(
    calendar: BusinessCalendar, begin: int, need: int, paused: list[Span]
) -> int:
    """Where `need` microseconds of unpaused working time after `begin` are reached.

    With `need` 0 this is the first working instant at or after `begin`. A due that
    lands exactly on a period's end stays there rather than moving to the next start.
    """
    day = calendar.local_date(begin)
    idle = 0
    while idle < _MAX_IDLE_DAYS:
        spans = calendar.spans(day)
        idle = 0 if spans else idle + 1
        for low, high in spans:
            if high < begin:
                continue
            low = max(low, begin)
            if need == 0:
                return low
            for part_low, part_high in _unpaused(low, high, paused):
                if need <= part_high - part_low:
                    return part_low + need
                need -= part_high - part_low
        day += timedelta(days=1)
    raise ValueError(
        "The calendar has no working day for ten years; check its settings."
    )


def _working_between(
    calendar: BusinessCalendar, low: int, high: int, paused: list[Span]
) -> int:
    """Microseconds of unpaused working time between `low` and `high`."""
    total = 0
    day, last = calendar.local_date(low), calendar.local_date(high)
    while day <= last:
        for span_low, span_high in calendar.spans(day):
            begin, end = max(span_low, low), min(span_high, high)
            if begin < end:
                total += sum(b - a for a, b in _unpaused(begin, end, paused))
        day += timedelta(days=1)
    return total


def _working_days_due(
    calendar: BusinessCalendar, begin: int, within: float, paused: list[Span]
) -> int:
    """The end of the Nth working day after `begin`'s date, moved later by pauses."""
    wanted = max(1, math.ceil(within))
    day = calendar.local_date(begin)
    idle = 0
    while wanted:
        day += timedelta(days=1)
        if calendar.is_working_day(day) and calendar.spans(day):
            wanted -= 1
            idle = 0
        else:
            idle += 1
            if idle >= _MAX_IDLE_DAYS:
                raise ValueError(
                    "The calendar has no working day for ten years; check its settings."
                )
    unpaused_due = calendar.spans(day)[-1][1]

    held = sum(
        _working_between(calendar, pause_start, min(pause_end, unpaused_due), [])
        for pause_start, pause_end in paused
        if pause_start < unpaused_due
    )
    return _advance_working(calendar, unpaused_due, held, paused)
