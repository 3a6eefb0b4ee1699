"""One full cycle against real edges: read, judge, write, remember, mail.

`Service.run_once(now)` reads the backend once, keeps the last good configuration when
the new one is broken, runs the pure engine, writes the planned cells in one write,
stores the items' state and queues the mail in the state database, then hands every
pending mail to the transport. A write that fails (someone saved the workbook in the
meantime, a quota ran out) stores and sends nothing; the next cycle does it all again.
"""

from __future__ import annotations

import email
import email.policy
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from automation.backends.base import Backend
from automation.calendar import BusinessCalendar
from automation.config import Config
from automation.configload import load_config, usable
from automation.engine import CycleResult, run_cycle
from automation.errors import AutomationError, BackendError
from automation.layout import Layout, load_layout
from automation.mail.compose import render
from automation.mail.message import build_message, format_address
from automation.mail.outbox import Transport
from automation.model import CellValue, Grid, Snapshot, TabContent, bind
from automation.notify import Notice, plan_notices
from automation.problems import Problem
from automation.state import QueuedMail, StateStore

log = logging.getLogger(__name__)

LOG_KEEP = 2000
KIND_LABELS = {
    "digest_owner": {"zh": "每日摘要", "en": "Daily digest"},
    "digest_requester": {"zh": "需求进度", "en": "Request progress"},
    "problems_digest": {"zh": "数据问题", "en": "Data problems"},
    "alert_emergency": {"zh": "紧急提醒", "en": "Emergency alert"},
    "alert_overdue": {"zh": "逾期提醒", "en": "Overdue alert"},
    "alert_escalation": {"zh": "升级通知", "en": "Escalation"},
}


@dataclass
class CycleSummary:
    """What a cycle did, for the log line, the CLI and the runs table."""

    outcome: str
    rows_read: int = 0
    problems: int = 0
    overdue: int = 0
    at_risk: int = 0
    turned_overdue: int = 0
    cells_written: int = 0
    rows_skipped: int = 0
    mail_queued: int = 0
    mail_sent: int = 0
    mail_failed: int = 0
    config_problems: int = 0
    used_last_good_config: bool = False
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


class Service:
    """The product's cycle over one backend, one state store and one transport."""

    def __init__(
        self,
        backend: Backend,
        store: StateStore,
        transport: Transport,
        layout: Layout | None = None,
    ) -> None:
        self.backend = backend
        self.store = store
        self.transport = transport
        self.layout = layout or load_layout()

    def close(self) -> None:
        """Release the state database's connections."""
        self.store.close()

    def run_once(self, now: datetime) -> CycleSummary:
        """Run one cycle at `now` (aware) and say what happened."""
        if now.tzinfo is None:
            raise ValueError("now must carry a time zone, e.g. 2025-10-15T10:00+08:00")
        run = self.store.start_run(now)
        try:
            summary = self._cycle(now)
        except AutomationError as error:
            summary = CycleSummary(outcome="failed", detail=str(error))
            log.error("Cycle failed: %s", error)
        self.store.finish_run(run, summary.outcome, summary.as_dict())
        return summary

    def _cycle(self, now: datetime) -> CycleSummary:
        snapshot = self.backend.read()
        config, config_problems, fallback = self.configuration(snapshot, now)
        _check_zone(snapshot, config)
        calendar = BusinessCalendar(config.calendar)
        items = self.store.load_items()
        result = run_cycle(
            snapshot, self.layout, config, items, now, calendar, config_problems
        )
        notices = plan_notices(
            result, config, self.layout, calendar, self.store.notice_keys()
        )
        queued = [self._compose(notice, config, result.now) for notice in notices]
        log_tab = self._log_tab(snapshot, config, notices, queued, result.now)
        if log_tab is not None:
            result.plan.outputs.append(log_tab)

        summary = CycleSummary(
            outcome="ok",
            rows_read=result.rows_read,
            problems=sum(1 for p in result.problems if p.severity == "error"),
            overdue=result.counts["overdue"],
            at_risk=result.counts["at_risk"],
            turned_overdue=result.counts["turned_overdue"],
            config_problems=len(config_problems),
            used_last_good_config=fallback,
        )
        try:
            report = self.backend.write(
                snapshot, result.plan, self.layout, config.language
            )
        except BackendError as error:
            log.warning("Write did not complete this cycle: %s", error)
            summary.outcome = "conflict"
            summary.detail = str(error)
            return summary
        summary.cells_written = report.cells_written
        summary.rows_skipped = len(report.rows_skipped)

        self.store.save_items(result.item_updates, result.now)
        notice_keys = [key for notice in notices for key in notice.notice_keys]
        summary.mail_queued = self.store.enqueue(queued, notice_keys, result.now)
        summary.mail_sent, summary.mail_failed = self.deliver(result.now)
        self._log_summary(summary, result)
        return summary

    def configuration(
        self, snapshot: Snapshot, now: datetime
    ) -> tuple[Config, list[Problem], bool]:
        """The configuration to use, its problems, and whether it is the last good."""
        config, problems = load_config(snapshot, self.layout)
        if usable(problems):
            self.store.save_good_config(self._config_payload(snapshot), now)
            return config, problems, False
        errors = sum(1 for p in problems if p.severity == "error")
        saved = self.store.load_good_config()
        if saved is None:
            log.error(
                "Configuration has %d errors and no earlier good one is stored; "
                "using the defaults",
                errors,
            )
            fallback, _ = load_config(Snapshot(grids={}), self.layout)
        else:
            log.error(
                "Configuration has %d errors; keeping the last good configuration",
                errors,
            )
            fallback, _ = load_config(snapshot_from_payload(saved), self.layout)
        return fallback, problems, True

    def _config_payload(self, snapshot: Snapshot) -> dict[str, object]:
        payload: dict[str, object] = {}
        for spec in self.layout.of_kind("config"):
            grid = snapshot.grid(spec)
            if grid is not None:
                payload[grid.title] = [[_jsonable(c) for c in row] for row in grid.rows]
        return payload

    def _compose(self, notice: Notice, config: Config, now: datetime) -> QueuedMail:
        language = notice.recipient.language
        rendered = render(notice.kind, language, notice.context)
        message = build_message(
            rendered,
            sender=config.sender,
            to=[format_address(notice.recipient.name, notice.recipient.email)],
            cc=[format_address(p.name, p.email) for p in notice.cc],
            key=notice.key,
            when=now,
        )
        return QueuedMail(
            key=notice.key,
            kind=notice.kind,
            recipients=(notice.recipient.email, *(p.email for p in notice.cc)),
            subject=rendered.subject,
            message=message.as_bytes(),
        )

    def deliver(self, now: datetime) -> tuple[int, int]:
        """Hand every pending mail to the transport; a failure stays pending."""
        sent = failed = 0
        for queued in self.store.pending_mail():
            message = email.message_from_bytes(queued.message, policy=email.policy.SMTP)
            assert isinstance(message, EmailMessage)
            try:
                self.transport.send(message)
            except (OSError, AutomationError) as error:
                failed += 1
                self.store.mark_failed(
                    queued.key, f"{error.__class__.__name__}: {error}", now
                )
                log.warning("Mail %s not sent, will retry: %s", queued.kind, error)
                continue
            sent += 1
            self.store.mark_sent(queued.key, now)
        return sent, failed

    def _log_tab(
        self,
        snapshot: Snapshot,
        config: Config,
        notices: Sequence[Notice],
        queued: Sequence[QueuedMail],
        now: datetime,
    ) -> TabContent | None:
        """The Log tab with this cycle's mail added at the bottom."""
        if not notices:
            return None
        spec = self.layout.table("log")
        language = config.language
        rows: list[list[CellValue]] = [[f.label(language) for f in spec.fields]]
        grid = snapshot.grid(spec)
        if grid is not None:
            table = bind(spec, grid)
            rows.extend(
                [table.value(row, f.key) for f in spec.fields]
                for _, row in table.data_rows()
            )
        for notice, mail in zip(notices, queued, strict=True):
            rows.append(
                [
                    now.replace(tzinfo=None),
                    KIND_LABELS[notice.kind][language],
                    notice.recipient.name,
                    mail.subject,
                    ", ".join(_item_ids(notice)),
                ]
            )
        return TabContent("log", [rows[0], *rows[1:][-LOG_KEEP:]])

    def _log_summary(self, summary: CycleSummary, result: CycleResult) -> None:
        log.info(
            "Cycle at %s: %d rows read, %d problems, %d overdue (%d turned overdue), "
            "%d at risk, %d cells written, %d mails queued, %d sent",
            result.now.isoformat(timespec="minutes"),
            summary.rows_read,
            summary.problems,
            summary.overdue,
            summary.turned_overdue,
            summary.at_risk,
            summary.cells_written,
            summary.mail_queued,
            summary.mail_sent,
        )


def _item_ids(notice: Notice) -> list[str]:
    context = notice.context
    found: list[str] = []
    if isinstance(context.get("item"), dict):
        found.append(str(context["item"]["id"]))  # type: ignore[index]
    for part in ("items", "overdue", "at_risk", "due_today", "open"):
        for item in context.get(part, []) or []:  # type: ignore[attr-defined]
            found.append(str(item["id"]))
    return found[:20]


def _jsonable(value: CellValue) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return (
        value
        if isinstance(value, (str, int, float, bool)) or value is None
        else str(value)
    )


def _check_zone(snapshot: Snapshot, config: Config) -> None:
    """Warn when the spreadsheet keeps time in another zone than the Calendar tab."""
    calendar = config.calendar.time_zone
    if snapshot.timezone and snapshot.timezone != getattr(calendar, "key", None):
        log.warning(
            "The spreadsheet's own time zone (File > Settings) is %s but the Calendar "
            "tab says %s: times the spreadsheet fills in itself (NOW(), Ctrl+Shift+;, "
            "form answers) are read as %s; set both to the same zone",
            snapshot.timezone,
            calendar,
            calendar,
        )


def snapshot_from_payload(payload: dict[str, object]) -> Snapshot:
    grids = {}
    for title, rows in payload.items():
        grids[title] = Grid(title, [list(row) for row in rows])  # type: ignore[attr-defined]
    return Snapshot(grids=grids)
