"""The `automation` command: demo, init, check, run and status.

Every command works on a local workbook (`--workbook`, or AUTOMATION_WORKBOOK). The
state database defaults to a SQLite file beside the workbook and the outbox to a
folder beside it; `--state` and `--outbox` (or AUTOMATION_STATE, AUTOMATION_OUTBOX)
choose others. Errors print one line and exit non-zero; `--debug` shows a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from automation import __version__
from automation.backends.base import InitReport
from automation.backends.workbook import WorkbookBackend
from automation.configload import drop_down_lists, load_config, usable
from automation.engine import run_cycle
from automation.errors import AutomationError
from automation.layout import Language, Layout, load_defaults, load_layout
from automation.mail.outbox import OutboxTransport
from automation.service import CycleSummary, Service
from automation.state import StateStore

log = logging.getLogger("automation")


@dataclass(frozen=True)
class Paths:
    workbook: Path
    state: str
    outbox: Path


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
        "--workbook",
        type=Path,
        default=os.environ.get("AUTOMATION_WORKBOOK"),
        help="the .xlsx workbook (env AUTOMATION_WORKBOOK)",
    )
    parser.add_argument(
        "--state",
        default=os.environ.get("AUTOMATION_STATE"),
        help="state database URL or SQLite path (env AUTOMATION_STATE; "
        "default: <workbook>.state.sqlite)",
    )
    parser.add_argument(
        "--outbox",
        type=Path,
        default=os.environ.get("AUTOMATION_OUTBOX"),
        help="folder for outgoing mail (env AUTOMATION_OUTBOX; default: outbox/ "
        "beside the workbook)",
    )


def _paths(args: argparse.Namespace) -> Paths:
    if args.workbook is None:
        raise AutomationError(
            "no workbook given; pass --workbook PATH or set AUTOMATION_WORKBOOK"
        )
    workbook = Path(args.workbook)
    state = args.state or str(workbook.with_suffix(".state.sqlite"))
    outbox = Path(args.outbox) if args.outbox else workbook.parent / "outbox"
    return Paths(workbook, state, outbox)


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
    paths = _paths(args)
    backend = WorkbookBackend(paths.workbook)
    layout = load_layout()
    defaults = load_defaults()
    language = args.language or _default_language(defaults)
    report = _lay_out(backend, layout, defaults, language)
    if report.changed:
        print(
            f"{paths.workbook}: {len(report.tabs_created)} tabs created, "
            f"{report.columns_added} columns added, {report.rows_added} rows of "
            "defaults written"
        )
    else:
        print(f"{paths.workbook}: already laid out; nothing changed")
    return 0


def _check(args: argparse.Namespace) -> int:
    paths = _paths(args)
    layout = load_layout()
    snapshot = WorkbookBackend(paths.workbook).read()
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


def _run(args: argparse.Namespace) -> int:
    paths = _paths(args)
    service = _service(paths)
    try:
        summary = service.run_once(_now(args.now, lambda: _zone_of(paths.workbook)))
    finally:
        service.close()
    _print_summary(summary, paths)
    return 0 if summary.outcome == "ok" else 1


def _status(args: argparse.Namespace) -> int:
    paths = _paths(args)
    store = StateStore(paths.state)
    last = store.last_run()
    counts = store.mail_counts()
    store.close()
    if last is None:
        print("no cycle has run yet")
    else:
        summary = last["summary"]
        zone = _zone_of(paths.workbook)
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
    paths = Paths(workbook, str(folder / "state.sqlite"), folder / "outbox")
    # The demo starts from nothing each time so it always shows the same first cycle.
    for old in (workbook, Path(paths.state)):
        old.unlink(missing_ok=True)
    shutil.rmtree(paths.outbox, ignore_errors=True)
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

    service = _service(paths)
    try:
        summary = service.run_once(now)
    finally:
        service.close()
    print(f"Demo at {now:%Y-%m-%d %H:%M %Z} ({now.tzinfo}).")
    _print_summary(summary, paths)
    return 0 if summary.outcome == "ok" else 1


# Helpers


def _lay_out(
    backend: WorkbookBackend,
    layout: Layout,
    defaults: dict[str, list[dict[str, object]]],
    language: Language,
) -> InitReport:
    """Lay the workbook out, then add drop-downs from the configuration it now holds."""
    first = backend.init(layout, defaults, language)
    config, _ = load_config(backend.read(), layout)
    second = backend.init(layout, defaults, language, drop_down_lists(config))
    return InitReport(
        tabs_created=first.tabs_created,
        columns_added=first.columns_added,
        rows_added=first.rows_added,
        formats_added=first.formats_added + second.formats_added,
    )


def _service(paths: Paths) -> Service:
    return Service(
        WorkbookBackend(paths.workbook),
        StateStore(paths.state),
        OutboxTransport(paths.outbox),
    )


def _zone_of(workbook: Path) -> ZoneInfo:
    """The Calendar tab's time zone, or UTC when the workbook cannot be read."""
    try:
        config, _ = load_config(WorkbookBackend(workbook).read(), load_layout())
    except AutomationError:
        return ZoneInfo("UTC")
    return config.calendar.time_zone


def _default_language(defaults: dict[str, list[dict[str, object]]]) -> Language:
    for row in defaults.get("settings", []):
        if row.get("key") == "language" and row.get("value") == "en":
            return "en"
    return "zh"


def _print_summary(summary: CycleSummary, paths: Paths) -> None:
    if summary.outcome != "ok":
        print(f"Cycle {summary.outcome}: {summary.detail}")
        return
    print(f"  rows read         {summary.rows_read}")
    print(f"  problems          {summary.problems}")
    print(f"  overdue           {summary.overdue}")
    print(f"  at risk           {summary.at_risk}")
    print(f"  cells written     {summary.cells_written}")
    print(f"  mails written     {summary.mail_sent}")
    if summary.used_last_good_config:
        print("  configuration has errors; the last good one was used (see Problems)")
    print(f"Workbook: {paths.workbook}")
    print(f"Outbox:   {paths.outbox}/ (open the .html files in a browser)")
