"""The `automation` command: demo, init, check, run and status.

init, check, run and status work on a local workbook (`--workbook`) or a Google
spreadsheet (`--spreadsheet` with `--credentials`), or on every spreadsheet a
settings file lists (`--settings`), one after the other with the name of each
before its lines; `automation.settings` says how flags, environment variables and
the file combine. Errors print one line and exit non-zero; `--debug` shows a
traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from automation import __version__
from automation.backends.base import Backend, Delegating, InitReport
from automation.backends.workbook import WorkbookBackend
from automation.configload import drop_down_lists, load_config, usable
from automation.engine import run_cycle
from automation.errors import AutomationError
from automation.layout import Language, Layout, load_defaults, load_layout
from automation.mail.outbox import OutboxTransport
from automation.model import Snapshot
from automation.service import CycleSummary, Service, snapshot_from_payload
from automation.settings import Flags, Settings, Target, load_settings, open_backend
from automation.state import StateStore

log = logging.getLogger("automation")
OUTCOMES = {  # how a cycle that did not end well is announced
    "failed": "Cycle failed",
    "conflict": "Cycle did not complete its write",
}

Step = Callable[[argparse.Namespace, Target, Settings], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    level = logging.WARNING
    if args.verbose or args.debug:
        level = logging.DEBUG if args.debug else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args))
    except AutomationError as error:
        if args.debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="automation",
        description="Deadlines, reminders and scorecards for the logistics-sales "
        "working agreement kept on a shared spreadsheet.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each step")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="make a realistic demo workbook and run one full cycle"
    )
    demo.add_argument("--dir", type=Path, default=Path("demo"), help="where to put it")
    demo.add_argument("--now", help="reference time (default: the demo's own)")
    demo.set_defaults(handler=_demo)

    init = commands.add_parser(
        "init", help="create or upgrade tabs and headers, never deleting data"
    )
    _location(init)
    init.add_argument("--language", choices=("zh", "en"), default=None)
    init.set_defaults(handler=_init)

    check = commands.add_parser(
        "check", help="print every problem; exit 1 on bad configuration"
    )
    _location(check)
    check.add_argument("--now", help="ISO time to judge at (default: now)")
    check.set_defaults(handler=_check)

    run = commands.add_parser("run", help="run a cycle")
    _location(run)
    run.add_argument("--once", action="store_true", required=True, help="one cycle")
    run.add_argument("--now", help="ISO time to run at (default: now)")
    run.set_defaults(handler=_run)

    status = commands.add_parser("status", help="the last run and the mail queue")
    _location(status)
    status.set_defaults(handler=_status)
    return parser


def _location(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--settings",
        type=Path,
        metavar="FILE",
        help="settings file listing spreadsheets and limits (env AUTOMATION_SETTINGS)",
    )
    parser.add_argument(
        "--workbook",
        type=Path,
        metavar="PATH",
        help="the .xlsx workbook (env AUTOMATION_WORKBOOK)",
    )
    parser.add_argument(
        "--spreadsheet",
        metavar="KEY_OR_URL",
        help="a Google spreadsheet's key or URL (env AUTOMATION_SPREADSHEET)",
    )
    parser.add_argument(
        "--credentials",
        type=Path,
        metavar="FILE",
        help="the service account's JSON key (env AUTOMATION_CREDENTIALS, "
        "else GOOGLE_APPLICATION_CREDENTIALS)",
    )
    parser.add_argument(
        "--state",
        metavar="URL",
        help="state database URL or SQLite path (env AUTOMATION_STATE; "
        "default: <workbook>.state.sqlite, or state/<key>.sqlite for a spreadsheet)",
    )
    parser.add_argument(
        "--outbox",
        type=Path,
        metavar="DIR",
        help="folder for outgoing mail (env AUTOMATION_OUTBOX; default: outbox/ "
        "beside the workbook, or outbox/<key>/ for a spreadsheet)",
    )


def _each_target(args: argparse.Namespace, step: Step) -> int:
    """Run `step` on every target; with several, name each and carry on past errors."""
    settings = load_settings(
        Flags(
            settings=args.settings,
            workbook=args.workbook,
            spreadsheet=args.spreadsheet,
            credentials=args.credentials,
            state=args.state,
            outbox=args.outbox,
        ),
        os.environ,
    )
    if len(settings.targets) == 1:
        return step(args, settings.targets[0], settings)

    worst = 0
    for number, target in enumerate(settings.targets):
        print(("\n" if number else "") + f"== {target.name} ==", flush=True)
        try:
            code = step(args, target, settings)
        except AutomationError as error:
            if args.debug:
                raise
            print(f"error: {target.name}: {error}", file=sys.stderr, flush=True)
            code = 2
        worst = max(worst, code)
    return worst


def _now(text: str | None, zone: Callable[[], tzinfo]) -> datetime:
    """The time to run at; `zone()` is asked only for a --now without an offset."""
    if not text:
        return datetime.now(UTC)  # the engine turns it into the Calendar's zone
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise AutomationError(
            f"--now {text!r} is not an ISO time; write e.g. 2025-10-15T10:00+08:00"
        ) from error
    return moment if moment.tzinfo else moment.replace(tzinfo=zone())


# Commands


def _init(args: argparse.Namespace) -> int:
    return _each_target(args, _init_one)


def _check(args: argparse.Namespace) -> int:
    return _each_target(args, _check_one)


def _run(args: argparse.Namespace) -> int:
    return _each_target(args, _run_one)


def _status(args: argparse.Namespace) -> int:
    return _each_target(args, _status_one)


def _init_one(args: argparse.Namespace, target: Target, settings: Settings) -> int:
    backend = open_backend(target, settings)
    layout = load_layout()
    defaults = load_defaults()
    language = args.language or _default_language(defaults)
    report = _lay_out(backend, layout, defaults, language)
    if report.changed:
        print(f"{target.name}: {report.summary()}")
    else:
        print(f"{target.name}: already laid out; nothing changed")
    return 0


def _check_one(args: argparse.Namespace, target: Target, settings: Settings) -> int:
    layout = load_layout()
    snapshot = open_backend(target, settings).read()
    config, config_problems = load_config(snapshot, layout)
    now = _now(args.now, lambda: config.calendar.time_zone)
    result = run_cycle(snapshot, layout, config, {}, now, None, config_problems)
    for problem in result.problems:
        print(problem.message(config.language, layout))
    in_rows = sum(
        1
        for p in result.problems
        if p.severity == "error" and layout.table(p.table).kind == "data"
    )
    print(
        f"{result.rows_read} rows checked: {in_rows} problems in rows, "
        f"{len(config_problems)} in the configuration"
    )
    return 0 if usable(config_problems) else 1


def _run_one(args: argparse.Namespace, target: Target, settings: Settings) -> int:
    # A --now without an offset needs the Calendar tab's zone; the read that finds
    # it is the one the cycle then uses, so the spreadsheet is read once either way.
    backend = _ReadKept(open_backend(target, settings))
    service = _service(backend, target)
    try:
        summary = service.run_once(_now(args.now, backend.calendar_zone))
    finally:
        service.close()
    _print_summary(summary, target)
    return 0 if summary.outcome == "ok" else 1


def _status_one(args: argparse.Namespace, target: Target, settings: Settings) -> int:
    store = _state_store(target)
    try:
        last = store.last_run()
        counts = store.mail_counts()
        zone = _last_zone(store, target, settings) if last else ZoneInfo("UTC")
    finally:
        store.close()
    if last is None:
        print("no cycle has run yet")
    else:
        summary = last["summary"]
        print(
            f"last good cycle at {last['now'].astimezone(zone):%Y-%m-%d %H:%M %Z}: "
            f"{summary.get('rows_read', 0)} rows, {summary.get('overdue', 0)} overdue, "
            f"{summary.get('at_risk', 0)} at risk"
        )
    print(f"mail: {counts.get('sent', 0)} sent, {counts.get('pending', 0)} waiting")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from automation.demo_data import REFERENCE, SHANGHAI, build_demo

    folder: Path = args.dir
    workbook = folder / "workbook.xlsx"
    target = Target(
        name=str(workbook),
        state=str(folder / "state.sqlite"),
        outbox=folder / "outbox",
        workbook=workbook,
    )
    # The demo starts from nothing each time so it always shows the same first cycle.
    for old in (workbook, Path(target.state)):
        old.unlink(missing_ok=True)
    shutil.rmtree(target.outbox, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)

    now = _now(args.now, lambda: SHANGHAI) if args.now else REFERENCE
    data = build_demo(now)
    layout = load_layout()
    defaults = load_defaults()
    defaults["people"] = list(data.pop("people"))  # type: ignore[arg-type]
    backend = WorkbookBackend(workbook)
    _lay_out(backend, layout, defaults, "zh")
    for table, rows in data.items():
        backend.append_rows(layout, "zh", table, rows)

    service = _service(backend, target)
    try:
        summary = service.run_once(now)
    finally:
        service.close()
    print(f"Demo at {now:%Y-%m-%d %H:%M %Z} ({now.tzinfo}).")
    _print_summary(summary, target)
    return 0 if summary.outcome == "ok" else 1


# Helpers


def _lay_out(
    backend: Backend,
    layout: Layout,
    defaults: dict[str, list[dict[str, object]]],
    language: Language,
) -> InitReport:
    """Lay the tabs out, then add drop-downs from the configuration they now hold."""
    first = backend.init(layout, defaults, language)
    config, _ = load_config(backend.read(), layout)
    second = backend.init(layout, defaults, language, drop_down_lists(config))
    return InitReport(
        tabs_created=first.tabs_created,
        columns_added=first.columns_added,
        rows_added=first.rows_added,
        formats_added=first.formats_added + second.formats_added,
    )


def _service(backend: Backend, target: Target) -> Service:
    return Service(backend, _state_store(target), OutboxTransport(target.outbox))


def _state_store(target: Target) -> StateStore:
    """The target's state database; a SQLite file's folder is made if missing."""
    if "://" not in target.state:
        Path(target.state).parent.mkdir(parents=True, exist_ok=True)
    return StateStore(target.state)


def _calendar_zone(snapshot: Snapshot) -> ZoneInfo:
    """The Calendar tab's time zone (the default one when the tab says none)."""
    config, _ = load_config(snapshot, load_layout())
    return config.calendar.time_zone


def _last_zone(store: StateStore, target: Target, settings: Settings) -> ZoneInfo:
    """The Calendar's zone as the last good cycle knew it, else as it is now.

    The state keeps the configuration tabs of the last good cycle, so the spreadsheet
    is read only when the state has none; UTC when it cannot be read either.
    """
    saved = store.load_good_config()
    try:
        if saved is not None:
            return _calendar_zone(snapshot_from_payload(saved))
        return _calendar_zone(open_backend(target, settings).read())
    except AutomationError:
        return ZoneInfo("UTC")


class _ReadKept(Delegating):
    """A backend whose next `read` hands back the snapshot `calendar_zone` took."""

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        self._kept: Snapshot | None = None

    def calendar_zone(self) -> ZoneInfo:
        """The Calendar tab's zone, or UTC when the spreadsheet cannot be read."""
        try:
            self._kept = self.inner.read()
            return _calendar_zone(self._kept)
        except AutomationError:
            return ZoneInfo("UTC")  # the cycle reads again and says what is wrong

    def read(self) -> Snapshot:
        kept, self._kept = self._kept, None
        return kept if kept is not None else self.inner.read()


def _default_language(defaults: dict[str, list[dict[str, object]]]) -> Language:
    for row in defaults.get("settings", []):
        if row.get("key") == "language" and row.get("value") == "en":
            return "en"
    return "zh"


def _print_summary(summary: CycleSummary, target: Target) -> None:
    if summary.outcome != "ok":
        what = OUTCOMES.get(summary.outcome, f"Cycle {summary.outcome}")
        print(f"{what}: {summary.detail}")
        return
    print(f"  rows read         {summary.rows_read}")
    print(f"  problems          {summary.problems}")
    print(f"  overdue           {summary.overdue}")
    print(f"  at risk           {summary.at_risk}")
    print(f"  cells written     {summary.cells_written}")
    print(f"  mails written     {summary.mail_sent}")
    if summary.used_last_good_config:
        print("  configuration has errors; the last good one was used (see Problems)")
    if target.workbook is not None:
        print(f"Workbook: {target.workbook}")
    else:
        print(
            "Spreadsheet: https://docs.google.com/spreadsheets/d/"
            f"{target.spreadsheet}/edit"
        )
    print(f"Outbox:   {target.outbox}/ (open the .html files in a browser)")
