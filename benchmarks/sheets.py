"""Requests and seconds of a cycle on Google Sheets, beside the obvious gspread way.

`python -m benchmarks.sheets [--rows 10000 100000]` builds, for each size, a
spreadsheet of N item rows on the fake Sheets API (the demo grown as
`benchmarks.cycle` grows it, filled through the backend) and two twins of it, and
prints one plain-text table per size, every figure measured in the same run:

- ours: `Service` over `SheetsBackend`, a first cycle and a steady-state second
  cycle at the same now, with the backend's read and write on lines of their own;
- gspread's obvious way, on the first twin: `open_by_key`, `worksheets()` and
  `get_all_records` per tab, then `update_cell` for every cell our first cycle
  changed (found by comparing our spreadsheet with the twin);
- the floor, on the second twin: one values:batchGet of every tab, and the same
  cells in one values:batchUpdate, with no engine at all.

Each line gives its requests, its seconds, the seconds the fake spent answering,
and the minutes of Google's default quota the requests use up (60 read and 60 write
requests per minute per user; the larger of the two counts decides).

Known limits: the fake answers in-process, so the seconds are the client's and the
fake's CPU time without a network; on the real API every request also waits its
round trip, which weighs on the request counts, not on these seconds. When the
first cycle changes more than `--all-up-to` cells, `update_cell` is timed on an
evenly spread sample of `--sample` calls and scaled linearly, and the table says so.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import gspread

from automation.backends.base import Delegating
from automation.backends.sheets import MAX_PAYLOAD, SheetsBackend
from automation.backends.sheets_api import READ_OPTIONS
from automation.backends.sheets_plan import value_ranges as packed
from automation.backends.sheets_values import JsonCell, quote_title
from automation.demo_data import REFERENCE
from automation.layout import Language, Layout, load_layout
from automation.mail.outbox import OutboxTransport
from automation.model import Snapshot, WritePlan, WriteReport
from automation.service import Service
from automation.state import StateStore
from benchmarks.cycle import SHARES, build_tables, check_ok, progress
from tests.fake_sheets import (
    FakeSheetsAPI,
    FakeSpreadsheet,
    SheetsError,
    Stored,
    error_body,
    json_number,
    read_range,
    render_options,
    values_batch_update,
)
from tests.sheets_fixtures import backend, blank_spreadsheet, demo_tables, fill

T = TypeVar("T")
Json = dict[str, Any]

DEFAULT_SIZES = (10_000, 100_000)
DEFAULT_SAMPLE = 2_000
DEFAULT_ALL_UP_TO = 50_000
QUOTA_PER_MINUTE = 60  # Google's default, per user, for reads and for writes apart
READS = frozenset({"get", "values:batchGet", "values:get"})
ENDPOINTS = (
    "get",
    "values:batchGet",
    "values:get",
    "values:batchUpdate",
    "values:update",
    "batchUpdate",
)
MB = 1_000_000

# The labels of the table, in order; the smoke test checks that each one is printed.
OURS_1 = "ours: cycle 1 (Service + SheetsBackend)"
OURS_1_READ = "ours:   cycle 1's SheetsBackend.read"
OURS_1_WRITE = "ours:   cycle 1's SheetsBackend.write"
OURS_1_IO = "ours:   cycle 1's read + write"
OURS_2 = "ours: cycle 2, same now (steady state)"
OURS_2_READ = "ours:   cycle 2's SheetsBackend.read"
NAIVE_READ = "gspread: read, get_all_records per tab"
NAIVE_WRITE = "gspread: write, update_cell per cell"
NAIVE_BOTH = "gspread: cycle 1's reads and writes"
FLOOR_READ = "floor: one values:batchGet of every tab"
FLOOR_WRITE = "floor: the same cells, one values:batchUpdate"
FLOOR_FIRST = "floor: requests of a first cycle"
FLOOR_STEADY = "floor: requests of a steady-state cycle"
LABELS = (
    OURS_1,
    OURS_1_READ,
    OURS_1_WRITE,
    OURS_1_IO,
    OURS_2,
    OURS_2_READ,
    NAIVE_READ,
    NAIVE_WRITE,
    NAIVE_BOTH,
    FLOOR_READ,
    FLOOR_WRITE,
    FLOOR_FIRST,
    FLOOR_STEADY,
)


@dataclass(frozen=True)
class Line:
    """One line of a table: requests per endpoint, seconds, and how to read them.

    `seconds` is None where nothing was timed; `fake` is the part of it the fake
    spent answering; `estimated` marks seconds scaled up from a sample.
    """

    label: str
    requests: Mapping[str, int]
    seconds: float | None = None
    fake: float | None = None
    note: str = ""
    estimated: bool = False

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    @property
    def quota_minutes(self) -> float:
        """Minutes of the per-user quota these requests take, reads and writes apart."""
        reads = sum(n for name, n in self.requests.items() if name in READS)
        return max(reads, self.total - reads) / QUOTA_PER_MINUTE


@dataclass
class Report:
    """Every line of one size, and the counts the smoke test checks."""

    rows: Mapping[str, int]
    rows_read: int = 0
    tabs: int = 0
    changed: int = 0  # cells that differ after our first cycle
    cells_first: int = 0  # cells our first cycle says it wrote
    cells_second: int = 0
    update_cell_calls: int = 0  # update_cell calls actually made
    floor_matches: bool = False  # the floor's write left what our cycle left
    naive_matches: bool | None = None  # so did update_cell; None if sampled
    lines: list[Line] = field(default_factory=list)

    def add(self, line: Line) -> None:
        self.lines.append(line)

    def line(self, label: str) -> Line:
        return next(line for line in self.lines if line.label == label)


# The fake, with what gspread's simple methods need

VALUES_PATH = re.compile(r"/v4/spreadsheets/([^/:]+)/values/([^/:]+)")


class BenchSheetsAPI(FakeSheetsAPI):
    """The fake Sheets API plus values.get and values.update, timing its own work.

    `get_all_records` and `update_cell` use the single-range endpoints
    (`GET` and `PUT .../values/RANGE`), which the backend never needs, so the shared
    fake does not serve them; here they answer like one-range batchGet and
    batchUpdate, counted as "values:get" and "values:update".
    """

    def __init__(self) -> None:
        super().__init__()
        self.fake_seconds = 0.0

    def serve(
        self, method: str, url: str, body: bytes | str | None
    ) -> tuple[int, Json, dict[str, str]]:
        begin = time.perf_counter()
        try:
            parts = urlsplit(url)
            match = VALUES_PATH.fullmatch(parts.path)
            if match and method.upper() in ("GET", "PUT"):
                return self._serve_values(method.upper(), match, parts.query, body)
            return super().serve(method, url, body)
        finally:
            self.fake_seconds += time.perf_counter() - begin

    def _serve_values(
        self, method: str, match: re.Match[str], query: str, body: bytes | str | None
    ) -> tuple[int, Json, dict[str, str]]:
        name = "values:get" if method == "GET" else "values:update"
        self.requests.append((method, name, match.group(0)))
        book = self.books.get(unquote(match.group(1)))
        text = unquote(match.group(2))
        params = parse_qs(query)
        try:
            if book is None:
                raise SheetsError(404, "Requested entity was not found.")
            if method == "GET":
                return 200, read_range(book, text, render_options(params)), {}
            payload = json.loads(body) if body else {}
            option = params.get("valueInputOption", [""])[0]
            data = [{"range": text, "values": payload.get("values", [])}]
            answer = values_batch_update(
                book, {"valueInputOption": option, "data": data}
            )
            return 200, answer["responses"][0], {}
        except SheetsError as error:
            return error.code, error_body(error.code, error.message), {}

    def mark(self) -> tuple[int, float]:
        """Where the request log and the fake's clock stand now."""
        return len(self.requests), self.fake_seconds

    def since(self, mark: tuple[int, float]) -> tuple[Counter[str], float]:
        """Requests per endpoint and the fake's seconds since `mark`."""
        count, seconds = mark
        names = Counter(name for _, name, _ in self.requests[count:])
        return names, self.fake_seconds - seconds

    def twin(self, key: str) -> str:
        """A copy of a spreadsheet under a new key, cells shared (they never change)."""
        return self.add_copy(self.book(key))


# Ours, timed


@dataclass(frozen=True)
class Call:
    """One timed call of the backend: its seconds, the fake's part, its requests."""

    seconds: float
    fake: float
    requests: Counter[str]


class TimedSheetsBackend(Delegating):
    """A Sheets backend that times each read and write and counts their requests."""

    def __init__(self, inner: SheetsBackend, api: BenchSheetsAPI) -> None:
        super().__init__(inner)
        self.api = api
        self.reads: list[Call] = []
        self.writes: list[Call] = []

    def read(self) -> Snapshot:
        snapshot, call = measured(self.api, self.inner.read)
        self.reads.append(call)
        return snapshot

    def write(
        self, snapshot: Snapshot, plan: WritePlan, layout: Layout, language: Language
    ) -> WriteReport:
        report, call = measured(
            self.api, lambda: self.inner.write(snapshot, plan, layout, language)
        )
        self.writes.append(call)
        return report


def measured(api: BenchSheetsAPI, call: Callable[[], T]) -> tuple[T, Call]:
    """The result of `call()`, with its seconds, the fake's part and its requests."""
    mark = api.mark()
    begin = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - begin
    requests, fake = api.since(mark)
    return result, Call(seconds, fake, requests)


# What the first cycle changed


@dataclass(frozen=True)
class Change:
    """A cell our first cycle changed: its tab, 1-based row and column, new value."""

    title: str
    row: int
    column: int
    value: Stored


def changed_cells(before: FakeSpreadsheet, after: FakeSpreadsheet) -> list[Change]:
    """Every cell whose stored value differs between two states of a spreadsheet."""
    changes = []
    for sheet in after.sheets:
        old_rows = before.by_title(sheet.title).rows
        for r in range(max(len(sheet.rows), len(old_rows))):
            new = sheet.rows[r] if r < len(sheet.rows) else []
            old = old_rows[r] if r < len(old_rows) else []
            for c in range(max(len(new), len(old))):
                value = new[c] if c < len(new) else None
                if value != (old[c] if c < len(old) else None):
                    changes.append(Change(sheet.title, r + 1, c + 1, value))
    return changes


def growth(before: FakeSpreadsheet, after: FakeSpreadsheet) -> list[Json]:
    """appendDimension requests that give `before` the grid sizes of `after`."""
    requests: list[Json] = []
    for sheet in after.sheets:
        old = before.by_title(sheet.title)
        for dimension, more in (
            ("ROWS", sheet.row_count - old.row_count),
            ("COLUMNS", sheet.column_count - old.column_count),
        ):
            if more > 0:
                body = {"sheetId": old.sheet_id, "dimension": dimension, "length": more}
                requests.append({"appendDimension": body})
    return requests


def as_json(value: Stored) -> str | float | int | bool:
    """A stored value as a write sends it: "" clears, whole numbers go as integers."""
    if value is None:
        return ""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, float):
        return json_number(value)
    raise TypeError(f"the service never writes a {type(value).__name__}")


def value_ranges(changes: Sequence[Change]) -> list[Json]:
    """The changes packed as the backend packs its writes (`sheets_plan`)."""
    cells: dict[str, dict[int, dict[int, JsonCell]]] = {}
    for change in changes:
        row = cells.setdefault(change.title, {}).setdefault(change.row, {})
        row[change.column - 1] = as_json(change.value)
    return list(packed(cells))


# The run


def run_benchmark(
    total: int,
    folder: Path,
    sample: int = DEFAULT_SAMPLE,
    all_up_to: int = DEFAULT_ALL_UP_TO,
    grid_rows: int = 1000,
) -> Report:
    """Build a spreadsheet of `total` item rows and measure the three ways on it.

    Tabs start with `grid_rows` rows, as a new Google spreadsheet's do; the item
    tabs grow as they are filled, the service tabs when the first cycle needs it.
    """
    layout = load_layout()
    progress(f"{total:,} rows: filling the fake spreadsheet")
    tables = demo_tables(REFERENCE)
    grown = build_tables(total)
    for key, _ in SHARES:
        tables[key] = grown[key]
    api = BenchSheetsAPI()
    ours = blank_spreadsheet(api, rows=grid_rows)
    fill(api, ours, tables)
    naive, floor = api.twin(ours), api.twin(ours)
    report = Report(rows={key: len(tables[key]) for key, _ in SHARES})
    report.tabs = len(api.book(ours).sheets)

    progress(f"{total:,} rows: our two cycles")
    _ours(report, api, ours, layout, folder)
    changes = changed_cells(api.book(naive), api.book(ours))
    grow = growth(api.book(naive), api.book(ours))
    report.changed = len(changes)

    progress(f"{total:,} rows: gspread's obvious way")
    _naive(report, api, naive, changes, grow, sample, all_up_to)
    if report.update_cell_calls == len(changes):
        report.naive_matches = _same_values(api.book(naive), api.book(ours))
    progress(f"{total:,} rows: the floor")
    _floor(report, api, floor, changes, grow)
    report.floor_matches = _same_values(api.book(floor), api.book(ours))
    report.lines.sort(key=lambda line: LABELS.index(line.label))
    return report


def _ours(
    report: Report, api: BenchSheetsAPI, key: str, layout: Layout, folder: Path
) -> None:
    """Cycle 1 and cycle 2 at the same now; the second must write nothing."""
    timed = TimedSheetsBackend(backend(api, key, layout=layout), api)
    store = StateStore(folder / f"state-{key}.sqlite")
    try:
        service = Service(timed, store, OutboxTransport(folder / f"outbox-{key}"))
        first, cycle_1 = measured(api, lambda: service.run_once(REFERENCE))
        check_ok(first, "first")
        second, cycle_2 = measured(api, lambda: service.run_once(REFERENCE))
        check_ok(second, "second")
    finally:
        store.close()
    report.rows_read = first.rows_read
    report.cells_first = first.cells_written
    report.cells_second = second.cells_written
    read_1, write_1 = timed.reads[0], timed.writes[0]
    read_2 = timed.reads[1]
    report.add(_line(OURS_1, cycle_1, f"{first.cells_written:,} cells written"))
    report.add(_line(OURS_1_READ, read_1, f"{first.rows_read:,} rows, every tab"))
    report.add(
        _line(OURS_1_WRITE, write_1, "with the reads it makes to find rows by id")
    )
    both = Call(
        read_1.seconds + write_1.seconds,
        read_1.fake + write_1.fake,
        read_1.requests + write_1.requests,
    )
    report.add(_line(OURS_1_IO, both, "no engine, state or mail: as below"))
    report.add(_line(OURS_2, cycle_2, f"{second.cells_written} cells written"))
    report.add(_line(OURS_2_READ, read_2, "metadata kept from cycle 1"))


def _naive(
    report: Report,
    api: BenchSheetsAPI,
    key: str,
    changes: Sequence[Change],
    grow: list[Json],
    sample: int,
    all_up_to: int,
) -> None:
    """get_all_records per tab, then update_cell per changed cell (or a sample)."""
    client = api.client()
    records, read = measured(api, lambda: _all_records(client, key))
    sheet, worksheets = records
    report.add(
        _line(NAIVE_READ, read, "open_by_key, worksheets(), get_all_records per tab")
    )

    requests = Counter({"values:update": len(changes)})
    grown_seconds = grown_fake = 0.0
    if grow:  # our cycle grew a tab: so must the obvious way, first
        _, grown = measured(api, lambda: sheet.batch_update({"requests": grow}))
        requests += grown.requests
        grown_seconds, grown_fake = grown.seconds, grown.fake
    chosen = list(changes)
    if len(changes) > all_up_to:
        step = max(1, len(changes) // sample)
        chosen = list(changes[::step][:sample])
    estimated = len(chosen) < len(changes)

    def update_cells() -> None:
        for change in chosen:
            worksheets[change.title].update_cell(
                change.row, change.column, as_json(change.value)
            )

    _, write = measured(api, update_cells)
    report.update_cell_calls = len(chosen)
    scale = len(changes) / len(chosen) if chosen else 0.0
    seconds = grown_seconds + write.seconds * scale
    fake = grown_fake + write.fake * scale
    note = f"all {len(changes):,} calls made"
    if estimated:
        per_call = write.seconds / len(chosen) * 1000
        note = (
            f"EXTRAPOLATED from {len(chosen):,} of {len(changes):,} calls "
            f"({per_call:.2f} ms each)"
        )
    report.add(Line(NAIVE_WRITE, requests, seconds, fake, note, estimated))
    report.add(
        Line(
            NAIVE_BOTH,
            read.requests + requests,
            read.seconds + seconds,
            read.fake + fake,
            "the two lines above added up",
            estimated,
        )
    )


def _all_records(
    client: gspread.Client, key: str
) -> tuple[gspread.Spreadsheet, dict[str, gspread.Worksheet]]:
    sheet = client.open_by_key(key)
    worksheets = {ws.title: ws for ws in sheet.worksheets()}
    for worksheet in worksheets.values():
        worksheet.get_all_records()
    return sheet, worksheets


def _floor(
    report: Report,
    api: BenchSheetsAPI,
    key: str,
    changes: Sequence[Change],
    grow: list[Json],
) -> None:
    """One batchGet of everything, one batchUpdate of the changed cells; no engine."""
    http = api.client().http_client
    ranges = [quote_title(sheet.title) for sheet in api.book(key).sheets]
    _, read = measured(
        api, lambda: http.values_batch_get(key, ranges, dict(READ_OPTIONS))
    )
    report.add(_line(FLOOR_READ, read, f"{len(ranges)} tabs"))

    if grow:
        http.batch_update(key, {"requests": grow})
    body = {"valueInputOption": "RAW", "data": value_ranges(changes)}
    size = len(json.dumps(body))  # as requests sends it: non-ASCII escaped
    _, write = measured(api, lambda: http.values_batch_update(key, body))
    report.add(
        _line(
            FLOOR_WRITE,
            write,
            f"{len(changes):,} cells, {len(body['data']):,} ranges, "
            f"{size / MB:.1f} MB body",
        )
    )

    parts = max(1, math.ceil(size / MAX_PAYLOAD))
    first = Counter({"get": 1, "values:batchGet": 1, "values:batchUpdate": parts})
    if grow:
        first["batchUpdate"] = 1
    report.add(
        Line(
            FLOOR_FIRST,
            first,
            note=f"the write in {parts} part{'s' if parts > 1 else ''} of at most "
            f"{MAX_PAYLOAD / MB:.0f} MB, as Google advises",
        )
    )
    report.add(
        Line(
            FLOOR_STEADY,
            Counter({"values:batchGet": 1}),
            note="nothing changed, nothing written",
        )
    )


def _same_values(left: FakeSpreadsheet, right: FakeSpreadsheet) -> bool:
    """Whether two spreadsheets hold the same cells in every tab."""
    return all(
        _trim(sheet.rows) == _trim(right.by_title(sheet.title).rows)
        for sheet in left.sheets
    )


def _trim(rows: list[list[Stored]]) -> list[list[Stored]]:
    kept = []
    for row in rows:
        end = len(row)
        while end and row[end - 1] is None:
            end -= 1
        kept.append(row[:end])
    while kept and not kept[-1]:
        kept.pop()
    return kept


def _line(label: str, call: Call, note: str) -> Line:
    return Line(label, call.requests, call.seconds, call.fake, note)


# Output


def render(reports: Sequence[Report], command: str) -> str:
    """The tables, with the command and the software they ran on on top."""
    head = [
        "Benchmark: a cycle on Google Sheets (the fake API, through gspread)",
        f"command:   {command}",
        f"reference: Python {platform.python_version()}, gspread "
        f"{gspread.__version__}, {platform.system()} {platform.machine()}, "
        f"now {REFERENCE.isoformat()}",
        f"quota:     minutes of Google's default {QUOTA_PER_MINUTE} read and "
        f"{QUOTA_PER_MINUTE} write requests per minute per user",
        "fake s:    seconds the fake spent answering, part of seconds",
        "~:         scaled up from a sample of calls",
    ]
    parts = [
        "\n".join(head),
        *(_table(report) for report in reports),
    ]
    return "\n\n".join(parts)


def _table(report: Report) -> str:
    total = sum(report.rows.values())
    counts = ", ".join(f"{key} {count:,}" for key, count in report.rows.items())
    title = (
        f"{total:,} item rows ({counts}); {report.rows_read:,} rows read in "
        f"{report.tabs} tabs; cycle 1 changes {report.changed:,} cells"
    )
    columns = (
        "measure",
        "requests",
        "seconds",
        "fake s",
        "quota",
        "per endpoint; note",
    )
    cells = [
        (
            line.label,
            f"{line.total:,}",
            _seconds(line),
            "-" if line.fake is None else f"{line.fake:,.2f}",
            f"{line.quota_minutes:,.2f} min",
            "; ".join(part for part in (_endpoints(line.requests), line.note) if part),
        )
        for line in report.lines
    ]
    widths = [max(len(row[i]) for row in (columns, *cells)) for i in range(5)]
    lines = [title, ""]
    for number, row in enumerate((columns, *cells)):
        first = f"{row[0]:<{widths[0]}}"
        rest = "  ".join(f"{row[i]:>{widths[i]}}" for i in range(1, 5))
        lines.append(f"{first}  {rest}  {row[5]}")
        if number == 0:
            rule = "  ".join("-" * width for width in widths)
            lines.append(f"{rule}  {'-' * len(columns[5])}")
    return "\n".join(lines)


def _seconds(line: Line) -> str:
    if line.seconds is None:
        return "-"
    return ("~" if line.estimated else "") + f"{line.seconds:,.2f}"


def _endpoints(requests: Mapping[str, int]) -> str:
    return ", ".join(
        f"{name} {requests[name]:,}" for name in ENDPOINTS if requests.get(name)
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.sheets", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--rows",
        type=int,
        nargs="+",
        default=list(DEFAULT_SIZES),
        help="item rows, one table per size (default: 10000 100000)",
    )
    parser.add_argument(
        "--sample",
        type=int,
        default=DEFAULT_SAMPLE,
        help="update_cell calls timed when there are too many to make them all",
    )
    parser.add_argument(
        "--all-up-to",
        type=int,
        default=DEFAULT_ALL_UP_TO,
        help="make every update_cell call when a cycle changes at most this many",
    )
    args = parser.parse_args(argv)
    command = " ".join(
        [".venv/bin/python -m benchmarks.sheets", *(argv or sys.argv[1:])]
    )
    reports = []
    for total in args.rows:
        with tempfile.TemporaryDirectory(prefix="bench-sheets-") as folder:
            reports.append(
                run_benchmark(total, Path(folder), args.sample, args.all_up_to)
            )
    print(render(reports, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
