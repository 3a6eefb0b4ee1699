"""How long one cycle takes on a large workbook, and where the time goes.

`python -m benchmarks.cycle [--rows N]` builds a workbook of N item rows (requests,
orders and returns, 35/50/15 %) in a temporary folder and prints one plain-text table:
the engine alone, an obvious minute-by-minute baseline for working-hours deadlines,
openpyxl's own load and save (the floor), the workbook backend's read and write,
memory, and the cells written by two cycles at the same time (the second must be 0).

Known limits: the rows beyond the demo's own are copies of its closed history moved
back by whole weeks, so the open set (and the mail) stays the demo's size whatever N
is; the workbook is written in openpyxl's write-only mode, so it has no drop-downs or
colour rules; the baseline is timed on a sample and scaled linearly.
"""

from __future__ import annotations

import argparse
import platform
import resource
import signal
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import TypeVar

import holidays
import openpyxl
from openpyxl import Workbook, load_workbook

from automation.backends.base import Delegating
from automation.backends.workbook import WorkbookBackend
from automation.calendar import BusinessCalendar
from automation.clocks import due_time
from automation.config import Clock, Config, SlaRule
from automation.configload import load_config
from automation.demo_data import REFERENCE, build_demo
from automation.engine import run_cycle
from automation.layout import Language, Layout, load_defaults, load_layout
from automation.mail.outbox import OutboxTransport
from automation.model import CellValue, Snapshot, WritePlan, WriteReport
from automation.service import CycleSummary, Service
from automation.state import StateStore

Row = dict[str, CellValue]
T = TypeVar("T")

DEFAULT_ROWS = 100_000
DEFAULT_SAMPLE = 60
# A quadratic write at 100,000 rows would run for hours; past this, stop and say so.
DEFAULT_WRITE_LIMIT = 120.0
SHARES = (("requests", 35), ("orders", 50), ("returns", 15))
PREFIXES = {"requests": "REQ-", "orders": "ORD-", "returns": "RET-"}
# Demo ids are four digits; copies start above them so every id stays unique.
FIRST_COPY_ID = 10_000
CLOSED = frozenset({"已完成", "Done", "已取消", "Cancelled"})
HISTORY_WEEKS = 104
MINUTE = timedelta(minutes=1)
MB = 1024 * 1024
LANGUAGE: Language = "zh"

# The labels of the table, in order; the smoke test checks that each one is printed.
SETUP_ROWS = "setup: generate rows"
SETUP_FILE = "setup: write workbook (write-only)"
FLOOR_LOAD = "floor: openpyxl load_workbook"
FLOOR_SAVE = "floor: openpyxl save to another path"
BACKEND_READ = "backend: WorkbookBackend.read()"
BACKEND_WRITE = "backend: WorkbookBackend.write(plan)"
ENGINE_TIME = "engine: run_cycle (no I/O)"
ENGINE_PEAK = "engine: tracemalloc peak"
NAIVE = "baseline: naive minute steps"
CLOCK = "engine clock: clocks.due_time"
CYCLE_1 = "service: cycle 1 (read+engine+write+mail)"
CELLS_1 = "service: cycle 1 cells written"
CYCLE_2 = "service: cycle 2, same now"
CELLS_2 = "service: cycle 2 cells written"
RSS = "process: ru_maxrss"
LABELS = (
    SETUP_ROWS,
    SETUP_FILE,
    FLOOR_LOAD,
    FLOOR_SAVE,
    BACKEND_READ,
    BACKEND_WRITE,
    ENGINE_TIME,
    ENGINE_PEAK,
    NAIVE,
    CLOCK,
    CYCLE_1,
    CELLS_1,
    CYCLE_2,
    CELLS_2,
    RSS,
)


@dataclass(frozen=True)
class Measure:
    """One line of the table: what was measured, its value, and how to read it."""

    label: str
    value: str
    note: str = ""


@dataclass
class Report:
    """Every measure of one run, and the counts the smoke test checks."""

    rows: Mapping[str, int]
    measures: list[Measure] = field(default_factory=list)
    cells_first: int | None = None  # None: the cycle did not finish
    cells_second: int | None = None

    def add(self, label: str, value: str, note: str = "") -> None:
        self.measures.append(Measure(label, value, note))


def timed(call: Callable[[], T]) -> tuple[T, float]:
    """The result of `call()` and the seconds it took."""
    begin = time.perf_counter()
    result = call()
    return result, time.perf_counter() - begin


# Rows


def split_rows(total: int) -> dict[str, int]:
    """How many rows each item tab gets out of `total`; orders take the remainder."""
    if total < 3:
        raise ValueError(f"--rows must be at least 3, one per item tab, not {total}")
    counts = {key: total * share // 100 for key, share in SHARES}
    counts["orders"] += total - sum(counts.values())
    return counts


def build_tables(total: int) -> dict[str, list[Row]]:
    """The demo's tables with the item tabs grown (or cut) to `total` rows."""
    tables = build_demo(REFERENCE)
    for key, count in split_rows(total).items():
        tables[key] = _scaled(tables[key], count, PREFIXES[key])
    return tables


def _scaled(rows: list[Row], count: int, prefix: str) -> list[Row]:
    """`count` rows: older copies of the closed rows first, then the demo's own.

    Keeping only the newest rows when `count` is small keeps the open set.
    """
    if count <= len(rows):
        return rows[len(rows) - count :]
    closed = [row for row in rows if row.get("status") in CLOSED]
    copies = []
    for number in range(count - len(rows)):
        weeks = 1 + (number // len(closed)) % HISTORY_WEEKS
        copy = _moved(closed[number % len(closed)], timedelta(weeks=weeks))
        copy["id"] = f"{prefix}{FIRST_COPY_ID + number}"
        copies.append(copy)
    # The oldest at the top, as a sheet people append to would hold them.
    copies.reverse()
    return copies + rows


def _moved(row: Row, back: timedelta) -> Row:
    return {
        key: value - back if isinstance(value, datetime) else value
        for key, value in row.items()
    }


def write_workbook(path: Path, tables: Mapping[str, list[Row]], layout: Layout) -> None:
    """Every tab of the layout with its header; item rows and default config rows.

    openpyxl's write-only mode streams rows to disk, which `append_rows` (a full load
    and save per tab) cannot do at this size.
    """
    defaults = load_defaults()
    defaults["people"] = list(tables["people"])  # type: ignore[arg-type]
    book = Workbook(write_only=True)
    for spec in layout.tables:
        sheet = book.create_sheet(spec.title(LANGUAGE))
        keys = [f.key for f in spec.fields]
        sheet.append([f.label(LANGUAGE) for f in spec.fields])
        source: Sequence[Mapping[str, object]] = (
            tables.get(spec.key, [])
            if spec.kind == "data"
            else defaults.get(spec.key, [])
        )
        for row in source:
            sheet.append([_cell(row.get(key)) for key in keys])
    book.save(path)


def _cell(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool | datetime):
        return value
    return str(value)


# The backend, timed


class WriteLimitReached(Exception):
    """The backend's write ran past the benchmark's time limit and was stopped."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise `WriteLimitReached` in the block after `seconds`; 0 means no limit.

    Uses SIGALRM, so it works only in the main thread of a POSIX process. Stopping a
    workbook write is safe: the file is replaced only at the very end, atomically.
    """
    if seconds <= 0 or not hasattr(signal, "SIGALRM"):
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise WriteLimitReached(f"stopped after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class TimedBackend(Delegating):
    """A workbook backend that times each read and write; a write has a limit."""

    def __init__(self, inner: WorkbookBackend, write_limit: float = 0.0) -> None:
        super().__init__(inner)
        self.write_limit = write_limit
        self.reads: list[float] = []
        self.writes: list[float] = []
        self.snapshots: list[Snapshot] = []
        self.reports: list[WriteReport] = []

    def read(self) -> Snapshot:
        snapshot, seconds = timed(self.inner.read)
        self.reads.append(seconds)
        self.snapshots.append(snapshot)
        return snapshot

    def write(
        self, snapshot: Snapshot, plan: WritePlan, layout: Layout, language: Language
    ) -> WriteReport:
        begin = time.perf_counter()
        try:
            with time_limit(self.write_limit):
                report = self.inner.write(snapshot, plan, layout, language)
        finally:
            self.writes.append(time.perf_counter() - begin)
        self.reports.append(report)
        return report


# The obvious way


def naive_due(
    start: datetime,
    hours: float,
    country: holidays.HolidayBase,
    periods: Sequence[tuple[clock_time, clock_time]],
) -> datetime:
    """A working-hours deadline found by stepping one minute at a time.

    This is the code one writes first: each minute is checked against the holiday
    list and the working periods, and counted when it is working time.
    """
    moment = start.replace(second=0, microsecond=0)
    left = round(hours * 60)
    while left > 0:
        now = moment.time()
        working = country.is_working_day(moment.date()) and any(
            begin <= now < end for begin, end in periods
        )
        if working:
            left -= 1
        moment += MINUTE
    return moment


@dataclass(frozen=True)
class Baseline:
    """Naive and engine deadline times on one sample, and the full workbook's count."""

    sample: int
    agreed: int
    naive_seconds: float
    clock_seconds: float
    full_count: int

    def scaled(self, seconds: float) -> float:
        return seconds / self.sample * self.full_count if self.sample else 0.0


def working_hour_rules(config: Config, table: str) -> list[SlaRule]:
    return [
        rule
        for rule in config.sla
        if rule.table == table and rule.active and rule.clock is Clock.WORKING_HOURS
    ]


def _applies(rule: SlaRule, row: Row) -> bool:
    return rule.when_field is None or str(row.get(rule.when_field)) in (
        rule.when_values
    )


def _due_jobs(
    rows: Sequence[Row], rules: Sequence[SlaRule]
) -> list[tuple[datetime, SlaRule]]:
    jobs: list[tuple[datetime, SlaRule]] = []
    for row in rows:
        start = row.get("placed_at")
        if isinstance(start, datetime):
            jobs.extend((start, rule) for rule in rules if _applies(rule, row))
    return jobs


def run_baseline(orders: Sequence[Row], config: Config, sample: int) -> Baseline:
    """Time the naive loop and `clocks.due_time` on a sample's working-hours dues."""
    rules = working_hour_rules(config, "orders")
    calendar = BusinessCalendar(config.calendar)
    step = max(1, len(orders) // max(sample, 1))
    jobs = _due_jobs(orders[::step][:sample], rules)
    full_count = len(_due_jobs(orders, rules))
    tz = config.calendar.time_zone
    country = holidays.country_holidays(
        config.calendar.country or "CN", years=range(2020, 2030)
    )
    periods = config.calendar.working_hours

    naive, naive_seconds = timed(
        lambda: [
            naive_due(start, rule.within, country, periods) for start, rule in jobs
        ]
    )
    engine, clock_seconds = timed(
        lambda: [
            due_time(calendar, start.replace(tzinfo=tz), rule.within, rule.clock).at
            for start, rule in jobs
        ]
    )
    agreed = sum(
        a == b.replace(tzinfo=None) for a, b in zip(naive, engine, strict=True)
    )
    return Baseline(len(jobs), agreed, naive_seconds, clock_seconds, full_count)


# The run


def run_benchmark(
    total: int,
    folder: Path,
    sample: int = DEFAULT_SAMPLE,
    write_limit: float = DEFAULT_WRITE_LIMIT,
) -> Report:
    """Build a workbook of `total` item rows in `folder` and measure one cycle."""
    layout = load_layout()
    progress(f"generating {total:,} rows")
    tables, seconds = timed(lambda: build_tables(total))
    report = Report(rows={key: len(tables[key]) for key, _ in SHARES})
    report.add(SETUP_ROWS, _s(seconds), "demo rows, closed ones copied back in time")

    path = folder / "workbook.xlsx"
    progress("writing the workbook")
    _, seconds = timed(lambda: write_workbook(path, tables, layout))
    report.add(SETUP_FILE, _s(seconds), f"{path.stat().st_size / MB:.1f} MB file")

    progress("floor: openpyxl load and save")
    _floor(report, path, folder / "copy.xlsx")
    backend = TimedBackend(WorkbookBackend(path), write_limit)
    store = StateStore(folder / "state.sqlite")
    try:
        service = Service(backend, store, OutboxTransport(folder / "outbox"), layout)
        _cycles(report, service, backend, layout)
    finally:
        store.close()

    progress("baseline")
    config, _ = load_config(backend.snapshots[-1], layout)
    _baseline(report, run_baseline(tables["orders"], config, sample))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report.add(RSS, f"{rss:,.0f} MB", "peak resident size of this whole run")
    report.measures.sort(key=lambda measure: LABELS.index(measure.label))
    return report


def _cycles(
    report: Report, service: Service, backend: TimedBackend, layout: Layout
) -> None:
    """Cycle 1, the engine alone on cycle 1's snapshot, then cycle 2 at the same now."""
    now = REFERENCE
    progress("cycle 1")
    try:
        first, seconds = timed(lambda: service.run_once(now))
    except WriteLimitReached as stopped:
        _stopped(report, backend, str(stopped))
        _engine(report, backend.snapshots[0], layout, now)
        return
    check_ok(first, "first")
    _backend(report, backend)
    report.cells_first = first.cells_written
    report.add(
        CYCLE_1,
        _s(seconds),
        f"{first.rows_read:,} rows, {first.problems:,} problems, "
        f"{first.mail_sent} mails",
    )
    report.add(
        CELLS_1, f"{first.cells_written:,}", "ids, start times, deadlines, flags"
    )
    _engine(report, backend.snapshots[0], layout, now)
    del backend.snapshots[0]  # the second cycle's memory is its own

    progress("cycle 2")
    second, seconds = timed(lambda: service.run_once(now))
    check_ok(second, "second")
    report.cells_second = second.cells_written
    report.add(CYCLE_2, _s(seconds), f"{second.mail_sent} mails")
    report.add(CELLS_2, f"{second.cells_written:,}", "must be 0")


def _stopped(report: Report, backend: TimedBackend, why: str) -> None:
    """The lines a cycle stopped in its write leaves: what is known, and why not."""
    report.add(BACKEND_READ, _s(backend.reads[0]), "read-only load, every tab")
    report.add(BACKEND_WRITE, f"> {_s(backend.writes[0])}", f"{why} (--write-limit)")
    report.add(CYCLE_1, "-", "stopped in the backend's write")
    report.add(CELLS_1, "-", "nothing written")
    report.add(CYCLE_2, "-", "not run")
    report.add(CELLS_2, "-", "not run")


def _floor(report: Report, path: Path, copy: Path) -> None:
    begin = time.perf_counter()
    book = load_workbook(path)
    loaded = time.perf_counter()
    book.save(copy)
    saved = time.perf_counter()
    book.close()
    copy.unlink()
    report.add(FLOOR_LOAD, _s(loaded - begin), "full load, as write() needs it")
    report.add(FLOOR_SAVE, _s(saved - loaded), "no engine, no checks")


def _backend(report: Report, backend: TimedBackend) -> None:
    report.add(BACKEND_READ, _s(backend.reads[0]), "read-only load, every tab")
    written = backend.reports[0].cells_written if backend.reports else 0
    seconds = backend.writes[0] if backend.writes else 0.0
    report.add(
        BACKEND_WRITE, _s(seconds), f"first cycle's plan, {written:,} cells, atomic"
    )


def _engine(report: Report, snapshot: Snapshot, layout: Layout, now: datetime) -> None:
    config, _ = load_config(snapshot, layout)
    result, seconds = timed(lambda: run_cycle(snapshot, layout, config, {}, now))
    rate = result.rows_read / seconds if seconds else 0.0
    report.add(
        ENGINE_TIME,
        _s(seconds),
        f"{result.rows_read:,} rows, {rate:,.0f} rows/s, "
        f"{result.plan.cell_count:,} cells planned",
    )
    del result
    tracemalloc.start()
    try:
        run_cycle(snapshot, layout, config, {}, now)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    report.add(ENGINE_PEAK, f"{peak / MB:,.0f} MB", "allocated by run_cycle itself")


def _baseline(report: Report, baseline: Baseline) -> None:
    per_naive = baseline.naive_seconds / max(baseline.sample, 1) * 1e6
    per_clock = baseline.clock_seconds / max(baseline.sample, 1) * 1e6
    report.add(
        NAIVE,
        _s(baseline.scaled(baseline.naive_seconds)),
        f"{baseline.full_count:,} working-hours dues, {per_naive:,.0f} µs each "
        f"(sample {baseline.sample})",
    )
    report.add(
        CLOCK,
        _s(baseline.scaled(baseline.clock_seconds)),
        f"same dues, {per_clock:,.0f} µs each; "
        f"agrees on {baseline.agreed}/{baseline.sample}",
    )


def check_ok(summary: CycleSummary, which: str) -> None:
    if summary.outcome != "ok":
        raise RuntimeError(
            f"the {which} cycle ended {summary.outcome}: {summary.detail}"
        )


def progress(step: str) -> None:
    # On stderr, so that the table on stdout stays clean to paste.
    print(f"... {step}", file=sys.stderr, flush=True)


def _s(seconds: float) -> str:
    return f"{seconds:,.2f} s"


# Output


def render(report: Report, command: str) -> str:
    """The plain-text table, with the command and the software it ran on on top."""
    rows = report.rows
    total = sum(rows.values())
    parts = ", ".join(f"{key} {count:,}" for key, count in rows.items())
    head = [
        f"Benchmark: one cycle over {total:,} rows ({parts})",
        f"command:   {command}",
        f"reference: Python {platform.python_version()}, "
        f"openpyxl {openpyxl.__version__}, {platform.system()} {platform.machine()}, "
        f"now {REFERENCE.isoformat()}",
        "",
    ]
    width = max(len(m.label) for m in report.measures)
    value_width = max(len(m.value) for m in report.measures)
    lines = [f"{'measure':<{width}}  {'value':>{value_width}}  note"]
    lines.append(f"{'-' * width}  {'-' * value_width}  {'-' * 4}")
    for measure in report.measures:
        lines.append(
            f"{measure.label:<{width}}  {measure.value:>{value_width}}  {measure.note}"
        )
    return "\n".join(head + lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cycle", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="item rows")
    parser.add_argument(
        "--sample", type=int, default=DEFAULT_SAMPLE, help="orders for the baseline"
    )
    parser.add_argument(
        "--write-limit",
        type=float,
        default=DEFAULT_WRITE_LIMIT,
        help="seconds after which the backend's write is stopped; 0 for no limit",
    )
    args = parser.parse_args(argv)
    command = " ".join(
        [".venv/bin/python -m benchmarks.cycle", *(argv or sys.argv[1:])]
    )
    with tempfile.TemporaryDirectory(prefix="bench-cycle-") as folder:
        report = run_benchmark(args.rows, Path(folder), args.sample, args.write_limit)
    print(render(report, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
