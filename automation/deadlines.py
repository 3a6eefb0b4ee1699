"""Service levels applied to items: each stage's due time, the current stage, the flag.

`evaluate` takes one validated record, the rules, the business calendar, the item's
status history and "now", and says when each stage was due, whether it was met, which
stage is current, how late or how close the item is, and which side held the clock
while it was paused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from automation.calendar import BusinessCalendar
from automation.clocks import Pause, clock_hours, due_time
from automation.config import Config, Meaning, SlaRule
from automation.flags import Flag
from automation.layout import StageSpec, TableSpec
from automation.problems import Problem
from automation.state import StatusChange
from automation.validation import Record

SIDES = {Meaning.WAITING_CUSTOMER: "customer", Meaning.WAITING_SALES: "sales"}


@dataclass(frozen=True)
class StageResult:
    """One stage of one item under the rule that applies to it."""

    stage: StageSpec
    rule: SlaRule
    due: datetime
    provisional: bool
    done_at: datetime | None
    done: bool

    @property
    def on_time(self) -> bool | None:
        """Met or missed; None while open or when its completion time is unknown."""
        if not self.done or self.done_at is None:
            return None
        return self.done_at <= self.due


@dataclass
class Evaluation:
    """Everything the service concludes about one item in one cycle."""

    record: Record
    start: datetime | None
    stages: list[StageResult] = field(default_factory=list)
    current: StageResult | None = None
    flag: Flag | None = None
    late_hours: float | None = None
    left_hours: float | None = None
    paused_hours: dict[str, float] = field(default_factory=dict)
    emergency: bool = False
    notes: list[Problem] = field(default_factory=list)

    @property
    def due(self) -> datetime | None:
        return self.current.due if self.current else None

    @property
    def closed(self) -> bool:
        return self.flag in (Flag.DONE_ON_TIME, Flag.DONE_LATE) or (
            self.record.meaning is not None and self.record.meaning.closed
        )


def pick_rule(
    rules: Sequence[SlaRule], table: str, stage: str, record: Record, start: datetime
) -> SlaRule | None:
    """The rule for a stage: conditional beats general, the newest effective one wins.

    A rule takes effect for items that started on or after its effective date, so an
    item keeps the rule that applied when it started.
    """
    best: SlaRule | None = None
    for rule in rules:
        if not rule.active or rule.table != table or rule.stage != stage:
            continue
        if rule.effective_from is not None and start.date() < rule.effective_from:
            continue
        if rule.when_field is not None:
            value = record.values.get(rule.when_field)
            if value not in rule.when_values:
                continue
        if best is None or _rank(rule) > _rank(best):
            best = rule
    return best


def _rank(rule: SlaRule) -> tuple[bool, str]:
    effective = rule.effective_from.isoformat() if rule.effective_from else ""
    return (rule.when_field is not None, effective)


def pauses_of(
    history: Sequence[StatusChange], now: datetime
) -> tuple[list[Pause], dict[str, float]]:
    """Intervals the clock stood still, and hours per side that held it."""
    pauses: list[Pause] = []
    hours: dict[str, float] = {}
    for index, change in enumerate(history):
        if change.meaning is None or not Meaning(change.meaning).pauses:
            continue
        end = history[index + 1].at if index + 1 < len(history) else now
        if end <= change.at:
            continue
        pauses.append((change.at, end))
        side = SIDES[Meaning(change.meaning)]
        hours[side] = hours.get(side, 0.0) + (end - change.at).total_seconds() / 3600
    return pauses, hours


def evaluate(
    record: Record,
    table: TableSpec,
    config: Config,
    calendar: BusinessCalendar,
    history: Sequence[StatusChange],
    start: datetime | None,
    done_times: dict[str, datetime | None],
    now: datetime,
) -> Evaluation:
    """Judge one item; `done_times` gives each stage's completion time, if known.

    A stage counts as done when its completion field is filled, or when the whole
    item is closed (done or cancelled); `done_times` may also hold None for a stage
    known to be done at an unknown time (a first response before the service saw it).
    """
    result = Evaluation(record=record, start=start)
    if start is None:
        return result
    pauses, result.paused_hours = pauses_of(history, now)
    closed = record.meaning is not None and record.meaning.closed
    for stage in table.stages:
        rule = pick_rule(config.sla, table.key, stage.key, record, start)
        if rule is None:
            continue
        due = due_time(calendar, start, rule.within, rule.clock, pauses)
        done = stage.key in done_times or closed
        result.stages.append(
            StageResult(
                stage=stage,
                rule=rule,
                due=due.at,
                provisional=due.provisional,
                done_at=done_times.get(stage.key),
                done=done,
            )
        )
        result.emergency = result.emergency or rule.emergency

    if not result.stages:
        return result
    if record.meaning is Meaning.CANCELLED:
        return result
    open_stages = [stage for stage in result.stages if not stage.done]
    if not open_stages:
        late = any(stage.on_time is False for stage in result.stages)
        result.flag = Flag.DONE_LATE if late else Flag.DONE_ON_TIME
        return result

    current = min(open_stages, key=lambda stage: stage.due)
    result.current = current
    result.flag = _open_flag(current, start, now, calendar, pauses, config, result)
    return result


def _open_flag(
    current: StageResult,
    start: datetime,
    now: datetime,
    calendar: BusinessCalendar,
    pauses: list[Pause],
    config: Config,
    result: Evaluation,
) -> Flag:
    clock = current.rule.clock
    if now > current.due:
        result.late_hours = round((now - current.due).total_seconds() / 3600, 1)
        return Flag.OVERDUE
    total = clock_hours(calendar, start, current.due, clock, pauses)
    left = clock_hours(calendar, now, current.due, clock, pauses)
    result.left_hours = round((current.due - now).total_seconds() / 3600, 1)
    if total > 0 and left / total < config.at_risk_share:
        return Flag.AT_RISK
    return Flag.ON_TRACK


def standard_lead(
    rules: Sequence[SlaRule],
    table: TableSpec,
    stage: str,
    record: Record,
    calendar: BusinessCalendar,
    start: datetime,
) -> datetime | None:
    """The earliest time a stage can be expected under its rule, ignoring pauses."""
    rule = pick_rule(rules, table.key, stage, record, start)
    if rule is None:
        return None
    return due_time(calendar, start, rule.within, rule.clock).at
