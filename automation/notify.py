"""Who hears about what, decided from one cycle's results (pure: no mail is sent here).

Instant alerts: a new emergency item to its owner and backup (at any hour); an item
that turned overdue within the last day to its owner; items late past the escalation
threshold to the owner's manager, one mail per manager listing them. Daily digests on
working days: each owner's overdue, at-risk and due-today items, each requester's open
requests, each person's problems in the rows they entered, and the configuration's
problems to the admins (the logistics managers when no one is admin). Recipients come
only from the People tab. Outside working hours only emergency alerts go out; the others
wait for the first cycle inside working hours.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from automation.calendar import BusinessCalendar
from automation.config import Config, Person
from automation.deadlines import Evaluation
from automation.engine import CycleResult
from automation.flags import Flag
from automation.layout import Language, Layout, TableSpec
from automation.parsing import as_text, format_found
from automation.problems import Problem

OVERDUE_ALERT_WINDOW = timedelta(hours=24)
# Who entered a row, by table: they hear about its problems and its progress.
ENTERED_BY = {"requests": "requester", "orders": "sales_rep", "returns": "requester"}
SUMMARY_FIELDS = {
    "requests": ("content", "customer"),
    "orders": ("customer", "quantity", "delivery_mode"),
    "returns": ("customer", "kind", "issue"),
}


@dataclass(frozen=True)
class Notice:
    """One mail to send: its kind, recipient, context and the item notices it covers."""

    kind: str
    key: str
    recipient: Person
    context: dict[str, object]
    cc: tuple[Person, ...] = ()
    notice_keys: tuple[str, ...] = ()


def plan_notices(
    result: CycleResult,
    config: Config,
    layout: Layout,
    calendar: BusinessCalendar,
    notice_keys: set[str],
) -> list[Notice]:
    """Every mail this cycle owes, leaving out what was already said."""
    now = result.now
    planner = _Planner(config, layout, calendar, now, notice_keys)
    planner.emergencies(result)
    if _in_working_hours(calendar, now):
        planner.overdue_alerts(result)
        planner.escalations(result)
        planner.owner_digests(result)
        planner.requester_digests(result)
        planner.problem_digests(result)
    return planner.notices


def _in_working_hours(calendar: BusinessCalendar, now: datetime) -> bool:
    return any(
        start <= now < end for start, end in calendar.working_periods(now.date())
    )


class _Planner:
    def __init__(
        self,
        config: Config,
        layout: Layout,
        calendar: BusinessCalendar,
        now: datetime,
        said: set[str],
    ) -> None:
        self.config = config
        self.layout = layout
        self.calendar = calendar
        self.now = now
        self.said = said
        self.notices: list[Notice] = []
        self.stamp = now.strftime("%Y%m%dT%H%M")
        self.day = now.strftime("%Y-%m-%d")

    # Instant alerts

    def emergencies(self, result: CycleResult) -> None:
        for table, evaluation in _open(result):
            if not evaluation.emergency:
                continue
            key = f"emergency:{table}:{evaluation.record.item_id}"
            if key in self.said:
                continue
            owner = self._person(evaluation.record.values.get("owner"))
            recipients = [owner] if owner else self._logistics_managers()
            if not recipients:
                continue
            backup = self._person(owner.backup) if owner and owner.backup else None
            for person in recipients:
                self._add(
                    "alert_emergency",
                    f"alert_emergency:{table}:{evaluation.record.item_id}:{person.name}",
                    person,
                    {"item": self.item(table, evaluation, person.language)},
                    cc=(backup,) if backup else (),
                    notice_keys=(key,),
                )

    def overdue_alerts(self, result: CycleResult) -> None:
        for table, evaluation in _open(result):
            current = evaluation.current
            if evaluation.flag is not Flag.OVERDUE or current is None:
                continue
            if self.now - current.due > OVERDUE_ALERT_WINDOW:
                continue  # long known; the digest and the escalation cover it
            key = f"overdue:{table}:{evaluation.record.item_id}:{current.stage.key}"
            owner = self._person(evaluation.record.values.get("owner"))
            if key in self.said or owner is None:
                continue
            self._add(
                "alert_overdue",
                f"alert_overdue:{table}:{evaluation.record.item_id}:{current.stage.key}",
                owner,
                {"item": self.item(table, evaluation, owner.language)},
                notice_keys=(key,),
            )

    def escalations(self, result: CycleResult) -> None:
        threshold = self.config.escalation_after_hours
        by_manager: dict[str, list[tuple[str, Evaluation, str]]] = defaultdict(list)
        for table, evaluation in _open(result):
            current = evaluation.current
            late = evaluation.late_hours
            if current is None or late is None or late < threshold:
                continue
            key = f"escalation:{table}:{evaluation.record.item_id}:{current.stage.key}"
            if key in self.said:
                continue
            owner = self._person(evaluation.record.values.get("owner"))
            manager = self._person(owner.manager) if owner and owner.manager else None
            managers = [manager] if manager else self._logistics_managers()
            for person in managers:
                by_manager[person.name].append((table, evaluation, key))
        for name, entries in sorted(by_manager.items()):
            manager = self.config.people[name]
            entries.sort(key=lambda e: -(e[1].late_hours or 0))
            self._add(
                "alert_escalation",
                f"alert_escalation:{name}:{self.stamp}",
                manager,
                {
                    "items": [self.item(t, e, manager.language) for t, e, _ in entries],
                    "threshold_hours": _hours(threshold),
                },
                notice_keys=tuple(key for _, _, key in entries),
            )

    # Daily digests

    def owner_digests(self, result: CycleResult) -> None:
        groups: dict[str, dict[str, list[tuple[str, Evaluation]]]] = defaultdict(
            lambda: {"overdue": [], "at_risk": [], "due_today": []}
        )
        today = self.now.date()
        for table, evaluation in _open(result):
            owner = self._person(evaluation.record.values.get("owner"))
            if owner is None:
                continue
            group = groups[owner.name]
            if evaluation.flag is Flag.OVERDUE:
                group["overdue"].append((table, evaluation))
            elif evaluation.flag is Flag.AT_RISK:
                group["at_risk"].append((table, evaluation))
            elif (
                evaluation.due
                and evaluation.due.astimezone(self.calendar.tz).date() == today
            ):
                group["due_today"].append((table, evaluation))
        for name, group in sorted(groups.items()):
            person = self.config.people[name]
            context: dict[str, object] = {
                part: [self.item(t, e, person.language) for t, e in _by_due(entries)]
                for part, entries in group.items()
            }
            self._daily("digest_owner", person, context)

    def requester_digests(self, result: CycleResult) -> None:
        groups: dict[str, list[tuple[str, Evaluation]]] = defaultdict(list)
        for table, evaluation in _open(result):
            if table != "requests":
                continue
            requester = self._person(evaluation.record.values.get("requester"))
            if requester is not None:
                groups[requester.name].append((table, evaluation))
        for name, entries in sorted(groups.items()):
            person = self.config.people[name]
            items = [self.item(t, e, person.language) for t, e in _by_due(entries)]
            self._daily("digest_requester", person, {"open": items})

    def problem_digests(self, result: CycleResult) -> None:
        groups: dict[str, list[Problem]] = defaultdict(list)
        records = {
            (table, record.row): record
            for table, found in result.records.items()
            for record in found
        }
        admins = self._admins()
        for problem in result.problems:
            if problem.severity == "notice":
                continue
            if self.layout.table(problem.table).kind == "config":
                # The admins keep the configuration; they hear about its problems.
                for admin in admins:
                    groups[admin.name].append(problem)
                continue
            record = records.get((problem.table, problem.row or 0))
            field_key = ENTERED_BY.get(problem.table)
            if record is None or field_key is None:
                continue
            person = self._person(record.values.get(field_key))
            if person is not None:
                groups[person.name].append(problem)
        for name, problems in sorted(groups.items()):
            person = self.config.people[name]
            language = person.language
            rows = [
                {
                    "tab": self.layout.table(p.table).title(language),
                    "row": p.row if p.row is not None else "",
                    "id": p.item_id or "",
                    "column": p.column_label(language, self.layout),
                    "message": p.text(language),
                }
                for p in problems
            ]
            self._daily("problems_digest", person, {"problems": rows})

    def _daily(self, kind: str, person: Person, context: dict[str, object]) -> None:
        if not any(context.values()):
            return
        key = f"{kind}:{self.day}:{person.name}"
        if key in self.said:
            return
        self._add(kind, key, person, context, notice_keys=(key,))

    # Building blocks

    def _add(
        self,
        kind: str,
        key: str,
        person: Person,
        context: dict[str, object],
        cc: tuple[Person, ...] = (),
        notice_keys: tuple[str, ...] = (),
    ) -> None:
        full = {
            "recipient": {"name": person.name, "email": person.email},
            "generated_at": format_found(self.now),
            **context,
        }
        self.notices.append(Notice(kind, key, person, full, cc, notice_keys))

    def _person(self, name: object) -> Person | None:
        return self.config.active_person(str(name)) if name else None

    def _admins(self) -> list[Person]:
        """People with the admin role, or the logistics managers when there are none."""
        admins = [
            p for p in self.config.people.values() if p.active and p.role == "admin"
        ]
        return admins or self._logistics_managers()

    def _logistics_managers(self) -> list[Person]:
        departments = {
            p.department for p in self.config.people.values() if p.role == "logistics"
        }
        return [
            p
            for p in self.config.people.values()
            if p.active and p.role == "manager" and p.department in departments
        ]

    def _summary(
        self, spec: TableSpec, values: Mapping[str, object], language: Language
    ) -> str:
        parts = [
            self.config.shown(as_text(values.get(key)), language)
            for key in SUMMARY_FIELDS.get(spec.key, ())
        ]
        return " · ".join(part for part in parts if part)

    def item(
        self, table: str, evaluation: Evaluation, language: Language
    ) -> dict[str, object]:
        """An item as templates show it: every value already formatted."""
        spec = self.layout.table(table)
        values = evaluation.record.values
        current = evaluation.current
        return {
            "table": spec.title(language),
            "table_key": table,
            "id": evaluation.record.item_id or "",
            "summary": self._summary(spec, values, language),
            "stage": current.stage.label(language) if current else "",
            "due": _when(evaluation.due, self.calendar),
            "flag": evaluation.flag.value if evaluation.flag else "",
            "flag_label": evaluation.flag.label(language) if evaluation.flag else "",
            "late_hours": evaluation.late_hours,
            "left_hours": evaluation.left_hours,
            "owner": as_text(values.get("owner")),
            "requester": as_text(values.get(ENTERED_BY.get(table, "requester"))),
            "status": self.config.shown(as_text(values.get("status")), language),
            "progress": as_text(values.get("progress")),
            "provisional": bool(current and current.provisional),
        }


def _open(result: CycleResult) -> Iterable[tuple[str, Evaluation]]:
    for table, judged in result.evaluations.items():
        for evaluation in judged:
            flag = evaluation.flag
            if flag is not None and flag.open and evaluation.record.item_id:
                yield table, evaluation


def _by_due(entries: Sequence[tuple[str, Evaluation]]) -> list[tuple[str, Evaluation]]:
    return sorted(entries, key=lambda e: (e[1].due is None, e[1].due or 0))


def _when(moment: datetime | None, calendar: BusinessCalendar) -> str:
    if moment is None:
        return ""
    return format_found(moment.astimezone(calendar.tz))


def _hours(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
