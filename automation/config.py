"""The configuration admins keep in the spreadsheet's configuration tabs, as values.

`load_config` turns the SLA, People, Calendar, Targets, Schedules, Key accounts and
Settings tabs into one immutable `Config` plus a list of problems. A configuration with
errors is not used: the service keeps the last good one (see `automation.service`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from enum import StrEnum
from zoneinfo import ZoneInfo

from automation.layout import Language, fold


class Clock(StrEnum):
    """How a service level's time is counted."""

    CALENDAR_HOURS = "calendar_hours"
    WORKING_HOURS = "working_hours"
    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"


class Meaning(StrEnum):
    """What a status means to the clock; labels come from Settings."""

    NEW = "new"
    OPEN = "open"
    WAITING_CUSTOMER = "waiting_customer"
    WAITING_SALES = "waiting_sales"
    DONE = "done"
    CANCELLED = "cancelled"

    @property
    def pauses(self) -> bool:
        return self in (Meaning.WAITING_CUSTOMER, Meaning.WAITING_SALES)

    @property
    def closed(self) -> bool:
        return self in (Meaning.DONE, Meaning.CANCELLED)


@dataclass(frozen=True)
class ChoiceList:
    """Allowed values of a choice column; English aliases map to the stored value."""

    key: str
    values: tuple[str, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)

    def canonical(self, text: str) -> str | None:
        """The stored spelling of `text`, or None when it is not allowed."""
        wanted = fold(text)
        for value in self.values:
            if fold(value) == wanted:
                return value
        return self.aliases.get(wanted)

    def describe(self) -> str:
        return "、".join(self.values)


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    role: str
    department: str
    manager: str | None = None
    backup: str | None = None
    active: bool = True
    language: Language = "zh"


@dataclass(frozen=True)
class SlaRule:
    """One row of the SLA tab: a stage of a table is due `within` units of `clock`."""

    rule: str
    table: str
    stage: str
    within: float
    clock: Clock
    when_field: str | None = None
    when_values: frozenset[str] = frozenset()
    emergency: bool = False
    effective_from: date | None = None
    active: bool = True


@dataclass(frozen=True)
class CalendarSettings:
    time_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    country: str | None = "CN"
    working_hours: tuple[tuple[time, time], ...] = (
        (time(9, 0), time(12, 0)),
        (time(13, 30), time(18, 0)),
    )
    extra_holidays: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()
    confirmed_through: int | None = None


@dataclass(frozen=True)
class Target:
    """A KPI target: `low`/`high` bounds by direction, `amber` the warning margin."""

    kpi: str
    direction: str
    low: float | None
    high: float | None
    amber: float = 0.0
    text: str = ""


@dataclass(frozen=True)
class Config:
    language: Language = "zh"
    people: Mapping[str, Person] = field(default_factory=dict)
    lists: Mapping[str, ChoiceList] = field(default_factory=dict)
    statuses: Mapping[str, Meaning] = field(default_factory=dict)
    status_aliases: Mapping[str, str] = field(default_factory=dict)
    sla: tuple[SlaRule, ...] = ()
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    targets: Mapping[str, Target] = field(default_factory=dict)
    schedules: Mapping[str, str] = field(default_factory=dict)
    key_accounts: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, str] = field(default_factory=dict)
    at_risk_share: float = 0.25
    escalation_after_hours: float = 24.0
    sender: str = "logistics-bot@example.com"
    english: Mapping[str, str] = field(default_factory=dict)
    """Stored list and status values to their English alias, for English readers."""

    def shown(self, value: str, language: Language) -> str:
        """A stored value as a reader of `language` sees it: 处理中 / In progress."""
        return self.english.get(value, value) if language == "en" else value

    def active_person(self, name: str) -> Person | None:
        person = self.people.get(name.strip())
        return person if person is not None and person.active else None

    def status(self, text: str) -> tuple[str, Meaning] | None:
        """The stored spelling of a status and its meaning, or None if unknown."""
        wanted = fold(text)
        for label, meaning in self.statuses.items():
            if fold(label) == wanted:
                return label, meaning
        alias = self.status_aliases.get(wanted)
        return (alias, self.statuses[alias]) if alias is not None else None
