"""The contract of a backend: the same behaviour tests on a workbook and a spreadsheet.

Every test runs twice through the `sheet` fixture: on a `.xlsx` file
(`WorkbookBackend`) and on a fake Google spreadsheet (`SheetsBackend` over
`FakeSheetsAPI`). Besides the backend, the fixture shows the raw cells of a tab as a
person sees them, and acts as a person (types a cell, sorts, inserts or deletes a row)
between a cycle's read and its write.

The two backends keep different promises when a person acts mid-cycle: a workbook is
one file with no rows to find, so it refuses the whole write (`ConflictError`) when
the file changed at all since the read; a spreadsheet finds each row again by id and
writes the rows it still finds unchanged, skipping the rest. Those tests assert the
promise of the backend they run on, and share the rest: a person's typed cell is
never overwritten, no row ever gets another row's values, the next cycle repairs.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from openpyxl import Workbook, load_workbook

from automation.backends import Backend, InitReport, WorkbookBackend
from automation.backends.base import Delegating
from automation.configload import drop_down_lists, load_config
from automation.demo_data import REFERENCE
from automation.engine import CycleResult, run_cycle
from automation.errors import ConflictError, LayoutError
from automation.layout import Language, Layout, load_defaults, load_layout
from automation.mail.outbox import OutboxTransport
from automation.model import (
    CellValue,
    Formula,
    Grid,
    RowEdit,
    Snapshot,
    TabContent,
    WritePlan,
    WriteReport,
    bind,
    is_blank,
    same_value,
)
from automation.parsing import parse_id
from automation.service import Service
from automation.state import StateStore
from tests import sheets_fixtures
from tests.fake_sheets import DateCell, FakeSheetsAPI, FormulaCell, Stored, to_serial

LAYOUT = load_layout()
LANGUAGE: Language = "zh"
NOW = REFERENCE  # Wednesday 2025-10-15 10:00 in Shanghai, inside working hours
FORMULA_LIKE = ('=IMPORTXML("http://x","//a")', "+1", "@x")

Rows = list[list[CellValue]]
Tables = dict[str, list[dict[str, CellValue]]]


# What a test sees of a backend, and how it acts as a person


class Sheet(ABC):
    """One spreadsheet under test: its backend, its raw cells, a person's hands.

    A test starts it with `empty`, `blank`, `configured` or `demo`. Raw cells are
    what the cells hold, trimmed of empty cells at the end of a row and of empty rows
    at the end: text, numbers, booleans, dates and `Formula` for a formula.
    """

    @property
    @abstractmethod
    def backend(self) -> Backend: ...

    @abstractmethod
    def empty(self) -> None:
        """Nothing laid out yet: no workbook file; a spreadsheet with one bare tab."""

    @abstractmethod
    def blank(self) -> None:
        """Every tab of the layout with its header row and nothing else."""

    @abstractmethod
    def configured(self) -> None:
        """Every tab laid out, the configuration tabs holding their default rows."""

    @abstractmethod
    def demo(self) -> None:
        """The demo: configuration defaults, the demo's people and data rows."""

    @abstractmethod
    def tabs(self) -> dict[str, Rows]:
        """Every tab's raw cells, by title."""

    @abstractmethod
    def type_cells(self, title: str, cells: Mapping[str, CellValue]) -> None:
        """Type values into cells of a tab (A1 names), as a person would."""

    @abstractmethod
    def sort(self, title: str, column: int) -> None:
        """Sort the rows below the header by a 0-based column (text A to Z)."""

    @abstractmethod
    def insert_row(self, title: str, number: int, values: Sequence[CellValue]) -> None:
        """Insert a row holding `values` above row `number`, which it becomes."""

    @abstractmethod
    def delete_row(self, title: str, number: int) -> None:
        """Delete row `number`; the rows below move up."""

    @abstractmethod
    def mark(self) -> object:
        """A token that `untouched` compares to tell whether anything was written."""

    def untouched(self, mark: object) -> bool:
        return self.mark() == mark

    def type_cell(self, title: str, cell: str, value: CellValue) -> None:
        self.type_cells(title, {cell: value})

    def cells(self, title: str) -> Rows:
        return self.tabs()[title]

    def append(self, tables: Mapping[str, list[dict[str, CellValue]]]) -> None:
        for table, rows in tables.items():
            self.backend.append_rows(LAYOUT, LANGUAGE, table, rows)


class WorkbookSheet(Sheet):
    """A workbook file, edited by a person through openpyxl: load, change, save."""

    def __init__(self, folder: Path, built: Callable[[str], bytes]) -> None:
        self.path = folder / "workbook.xlsx"
        self.built = built
        self._backend = WorkbookBackend(self.path)

    @property
    def backend(self) -> Backend:
        return self._backend

    def empty(self) -> None:
        assert not self.path.exists()

    def blank(self) -> None:
        self.path.write_bytes(self.built("blank"))

    def configured(self) -> None:
        self.path.write_bytes(self.built("configured"))

    def demo(self) -> None:
        self.path.write_bytes(self.built("demo"))

    def tabs(self) -> dict[str, Rows]:
        book = load_workbook(self.path, read_only=True)
        try:
            return {
                sheet.title: _trim(
                    [
                        [_workbook_cell(cell) for cell in row]
                        for row in sheet.iter_rows()
                    ]
                )
                for sheet in book.worksheets
            }
        finally:
            book.close()

    @contextmanager
    def _editing(self) -> Iterator[Workbook]:
        book = load_workbook(self.path)
        yield book
        book.save(self.path)

    def type_cells(self, title: str, cells: Mapping[str, CellValue]) -> None:
        with self._editing() as book:
            for cell, value in cells.items():
                _put(book[title][cell], value)

    def sort(self, title: str, column: int) -> None:
        with self._editing() as book:
            sheet = book[title]
            width = sheet.max_column
            rows = [
                [(c.value, c.number_format, c.data_type) for c in cells]
                for cells in sheet.iter_rows(min_row=2, max_col=width)
            ]
            rows.sort(key=lambda cells: _text_order(cells[column][0]))
            for number, cells in enumerate(rows, start=2):
                for index, (value, number_format, data_type) in enumerate(cells):
                    target = sheet.cell(number, index + 1)
                    target.value = value
                    target.number_format = number_format
                    if data_type == "s":
                        target.data_type = "s"  # text such as "=x" stays text

    def insert_row(self, title: str, number: int, values: Sequence[CellValue]) -> None:
        with self._editing() as book:
            sheet = book[title]
            sheet.insert_rows(number)
            for index, value in enumerate(values):
                _put(sheet.cell(number, index + 1), value)

    def delete_row(self, title: str, number: int) -> None:
        with self._editing() as book:
            book[title].delete_rows(number)

    def mark(self) -> object:
        if not self.path.exists():
            return None
        status = self.path.stat()
        digest = hashlib.blake2b(self.path.read_bytes()).hexdigest()
        return (status.st_ino, status.st_mtime_ns, digest)


class SpreadsheetSheet(Sheet):
    """A fake Google spreadsheet, edited by a person through the fake's own hands.

    Dates a person types are date cells; dates the service writes are serial
    numbers, which the formats `init` sets show as dates, so its raw cells keep them
    as numbers.
    """

    def __init__(self) -> None:
        self.api = FakeSheetsAPI()
        self.key = ""
        self._backend: Backend | None = None

    @property
    def backend(self) -> Backend:
        assert self._backend is not None, "start the sheet with empty, blank or demo"
        return self._backend

    def _open(self, key: str) -> None:
        self.key = key
        self._backend = sheets_fixtures.backend(self.api, key)

    def empty(self) -> None:
        self._open(self.api.create_spreadsheet("agreement"))

    def blank(self) -> None:
        self._open(sheets_fixtures.blank_spreadsheet(self.api))

    def configured(self) -> None:
        self.blank()
        sheets_fixtures.fill(self.api, self.key, config_tables())

    def demo(self) -> None:
        self._open(sheets_fixtures.demo_spreadsheet(self.api))

    def tabs(self) -> dict[str, Rows]:
        return {
            tab.title: [
                [_sheets_cell(value) for value in row]
                for row in self.api.values(self.key, tab.title)
            ]
            for tab in self.api.book(self.key).sheets
        }

    def type_cells(self, title: str, cells: Mapping[str, CellValue]) -> None:
        for cell, value in cells.items():
            self.api.set_cell(self.key, title, cell, _typed(value))

    def sort(self, title: str, column: int) -> None:
        self.api.sort_rows(self.key, title, column)

    def insert_row(self, title: str, number: int, values: Sequence[CellValue]) -> None:
        self.api.insert_rows(self.key, title, number, [[_typed(v) for v in values]])

    def delete_row(self, title: str, number: int) -> None:
        self.api.delete_rows(self.key, title, number, number)

    def mark(self) -> object:
        return self.writes()

    def writes(self) -> int:
        """Write requests the fake has answered: values and structure."""
        return self.api.count("values:batchUpdate") + self.api.count("batchUpdate")


def _trim(rows: Rows) -> Rows:
    for row in rows:
        while row and row[-1] is None:
            row.pop()
    while rows and not rows[-1]:
        rows.pop()
    return rows


def _workbook_cell(cell: Any) -> CellValue:
    if cell.data_type == "f":
        return Formula(str(cell.value))
    return cast(CellValue, cell.value)


def _sheets_cell(value: Stored) -> CellValue:
    if isinstance(value, FormulaCell):
        return Formula(value.text)
    if isinstance(value, DateCell):
        moment = datetime(1899, 12, 30) + timedelta(days=value.serial)
        return moment if value.has_time else moment.date()
    return value


def _put(cell: Any, value: CellValue) -> None:
    """What typing `value` into a workbook cell stores, text kept as text."""
    if isinstance(value, Formula):
        cell.value = "=" + value.text.lstrip("=")
    elif isinstance(value, str):
        cell.value = value or None
        if value:
            cell.data_type = "s"
    elif isinstance(value, datetime):
        cell.value = value
        cell.number_format = "yyyy-mm-dd hh:mm"
    elif isinstance(value, date):
        cell.value = value
        cell.number_format = "yyyy-mm-dd"
    else:
        cell.value = value


def _typed(value: CellValue) -> Any:
    """What typing `value` into a Google Sheets cell stores."""
    if isinstance(value, Formula):
        return FormulaCell(value.text)
    if isinstance(value, datetime):
        return DateCell(to_serial(value), has_time=True)
    if isinstance(value, date):
        return DateCell(to_serial(datetime.combine(value, time())), has_time=False)
    return value


def _text_order(value: object) -> tuple[bool, str]:
    return (value is None, "" if value is None else str(value))


@pytest.fixture(scope="module")
def built_workbooks(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], bytes]:
    """A workbook's bytes as `blank`, `configured` or `demo` starts it, built once.

    Built as `automation demo` builds its workbook: `init` writes the configuration
    tabs' rows, `append_rows` the data tabs' rows.
    """
    built: dict[str, bytes] = {}

    def get(start: str) -> bytes:
        if start not in built:
            path = tmp_path_factory.mktemp(start) / "workbook.xlsx"
            workbook = WorkbookBackend(path)
            tables = {
                "blank": {},
                "configured": config_tables(),
                "demo": sheets_fixtures.demo_tables(),
            }[start]
            kinds = {spec.key: spec.kind for spec in LAYOUT.tables}
            config = {k: v for k, v in tables.items() if kinds[k] == "config"}
            workbook.init(
                LAYOUT, cast(dict[str, list[dict[str, object]]], config), LANGUAGE
            )
            for table, rows in tables.items():
                if table not in config:
                    workbook.append_rows(LAYOUT, LANGUAGE, table, rows)
            built[start] = path.read_bytes()
        return built[start]

    return get


@pytest.fixture(params=["workbook", "sheets"])
def sheet(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    built_workbooks: Callable[[str], bytes],
) -> Sheet:
    """The spreadsheet under test, on each backend in turn; start it in the test."""
    if request.param == "workbook":
        return WorkbookSheet(tmp_path, built_workbooks)
    return SpreadsheetSheet()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Callable[[Backend], Service]]:
    """Opens a Service on a backend with SQLite state and an outbox; closes it after."""
    opened: list[Service] = []

    def open_service(backend: Backend) -> Service:
        store = StateStore(tmp_path / "state.sqlite")
        service = Service(backend, store, OutboxTransport(tmp_path / "outbox"))
        opened.append(service)
        return service

    yield open_service
    for service in opened:
        service.close()


class Recorder(Delegating):
    """A backend that remembers every plan it was asked to write and what it wrote."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.writes: list[tuple[Snapshot, WritePlan, WriteReport]] = []

    def write(
        self, snapshot: Snapshot, plan: WritePlan, layout: Layout, language: Language
    ) -> WriteReport:
        report = self.inner.write(snapshot, plan, layout, language)
        self.writes.append((snapshot, plan, report))
        return report


# Helpers


def title(table: str) -> str:
    return LAYOUT.table(table).title(LANGUAGE)


def config_tables() -> Tables:
    """The configuration tabs' default rows, People included."""
    return cast(Tables, load_defaults())


def grid(snapshot: Snapshot, table: str) -> Grid:
    found = snapshot.grid(LAYOUT.table(table))
    assert found is not None, f"no tab for {table}"
    return found


def column(rows: Rows, table: str, key: str) -> int:
    """The 0-based column of a field, from a tab's header row."""
    spec = LAYOUT.table(table)
    return bind(spec, Grid(spec.key, rows[:1])).columns[key]


def letter(index: int) -> str:
    """The letter of a 0-based column up to Z."""
    return chr(ord("A") + index)


def cycle(backend: Backend) -> tuple[Snapshot, CycleResult]:
    """Read and run the real engine at NOW with no remembered state."""
    snapshot = backend.read()
    config, problems = load_config(snapshot, LAYOUT)
    return snapshot, run_cycle(snapshot, LAYOUT, config, {}, NOW, None, problems)


def lay_out(backend: Backend) -> tuple[InitReport, InitReport]:
    """Init, then init again with the drop-down lists, as `automation init` does."""
    defaults = load_defaults()
    first = backend.init(LAYOUT, defaults, LANGUAGE)
    config, _ = load_config(backend.read(), LAYOUT)
    second = backend.init(LAYOUT, defaults, LANGUAGE, drop_down_lists(config))
    return first, second


def same_rows(found: Rows, expected: Rows) -> bool:
    return changed_cells(found, expected) == 0


def changed_cells(old: Rows, new: Rows) -> int:
    """How many cells differ between two tabs' contents, as a person sees them."""
    count = 0
    for number in range(max(len(old), len(new))):
        before = old[number] if number < len(old) else []
        after = new[number] if number < len(new) else []
        for index in range(max(len(before), len(after))):
            a = before[index] if index < len(before) else None
            b = after[index] if index < len(after) else None
            count += not same_value(a, b)
    return count


def cells_at(rows: Rows) -> dict[tuple[int, int], CellValue]:
    """Every cell holding something: (1-based row, 0-based column) -> value."""
    return {
        (number, index): value
        for number, row in enumerate(rows, start=1)
        for index, value in enumerate(row)
        if value is not None
    }


def people_cells(rows: Rows, table: str) -> dict[tuple[int, int], CellValue]:
    """Every non-blank cell below the header outside the service's own columns.

    Unknown columns count as people's; fill columns count once someone filled them.
    """
    spec = LAYOUT.table(table)
    header = rows[0] if rows else []
    owned = {
        index
        for index, label in enumerate(header)
        if (found := spec.match_header(str(label or ""))) and found.owned
    }
    return {
        (number, index): value
        for (number, index), value in cells_at(rows).items()
        if number > 1 and index not in owned and not is_blank(value)
    }


def assert_kept(before: Mapping[tuple[int, int], CellValue], rows: Rows) -> None:
    """Every cell of `before` still holds its value in `rows`, in the same place."""
    after = cells_at(rows)
    changed = {
        position: (value, after.get(position))
        for position, value in before.items()
        if after.get(position) != value
    }
    assert changed == {}, f"cells changed (was, now): {changed}"


def owned_by_id(plans: Sequence[WritePlan], table: str) -> dict[str, dict[str, Any]]:
    """The owned cells each plan meant for each id, later plans winning.

    A row the service gives an id is known by the id it was to get.
    """
    spec = LAYOUT.table(table)
    found: dict[str, dict[str, Any]] = {}
    for plan in plans:
        for edit in plan.edits:
            if edit.table != table:
                continue
            ident = parse_id(edit.item_id) or parse_id(edit.cells.get("id"))
            assert ident is not None
            owned = {k: v for k, v in edit.cells.items() if spec.field(k).owned}
            found.setdefault(ident, {}).update(owned)
    return found


def rows_holding_their_own_values(
    snapshot: Snapshot, plans: Sequence[WritePlan], table: str
) -> list[str]:
    """Ids of the rows the service wrote; fails if a row holds another row's values.

    A row either holds nothing in the service's columns (not written yet) or exactly
    what the engine planned for its own id.
    """
    spec = LAYOUT.table(table)
    bound = bind(spec, grid(snapshot, table))
    planned = owned_by_id(plans, table)
    written = []
    for number, row in bound.data_rows():
        owned = {key: bound.value(row, key) for key in spec.owned_keys}
        if all(is_blank(value) for value in owned.values()):
            continue
        ident = parse_id(bound.value(row, "id"))
        assert ident in planned, f"row {number} ({ident}) got values planned for none"
        wrong = {
            key: (owned[key], value)
            for key, value in planned[ident].items()
            if not same_value(owned[key], value)
        }
        assert wrong == {}, (
            f"row {number} ({ident}) holds another row's values: {wrong}"
        )
        written.append(ident)
    return written


# Reading


def test_read_gives_the_header_and_typed_values(sheet: Sheet) -> None:
    sheet.blank()
    orders, sla = title("orders"), title("sla")
    typed: dict[str, CellValue] = {
        "A2": "O-1",
        "B2": datetime(2025, 10, 13, 9, 30),
        "C2": "007",
        "F2": True,
        "H2": 10,
        "I2": 12.5,
        "O2": date(2025, 10, 20),  # a date without a time, in a datetime column
        "S2": "   ",  # blank: trimmed with the empty cells at the row's end
        "A3": "O-2",
        "C3": "Acme",
        "A5": "O-5",
        "A7": "   ",  # a row holding only blanks, after the last row: trimmed
    }
    sheet.type_cells(orders, typed)
    sheet.type_cells(sla, {"A2": "R-1", "I2": date(2025, 1, 1)})

    snapshot = sheet.backend.read()

    rows = grid(snapshot, "orders").rows
    assert rows[0] == [f.label(LANGUAGE) for f in LAYOUT.table("orders").fields]
    assert rows[1:] == [
        [
            "O-1",
            datetime(2025, 10, 13, 9, 30),
            "007",
            None,
            None,
            True,
            None,
            10,
            12.5,
            None,
            None,
            None,
            None,
            None,
            date(2025, 10, 20),
        ],
        ["O-2", None, "Acme"],
        [],
        ["O-5"],
    ]
    placed, customer, urgent, promised = rows[1][1], rows[1][2], rows[1][5], rows[1][14]
    assert isinstance(placed, datetime) and placed.tzinfo is None
    assert isinstance(customer, str) and isinstance(urgent, bool)
    assert type(promised) is date
    assert grid(snapshot, "sla").rows[1] == ["R-1", *[None] * 7, date(2025, 1, 1)]
    assert grid(snapshot, "problems").rows == [
        [f.label(LANGUAGE) for f in LAYOUT.table("problems").fields]
    ]


def test_read_tells_a_time_of_midnight_from_a_date(sheet: Sheet) -> None:
    """A date in a "by" column means the end of that day, midnight its start.

    The workbook keeps the difference; a spreadsheet cannot, and says so.
    """
    sheet.blank()
    keys = [spec.key for spec in LAYOUT.table("orders").fields]
    promised = letter(keys.index("promised_by"))
    sheet.type_cells(
        title("orders"),
        {
            "A2": "O-1",
            f"{promised}2": datetime(2025, 10, 20, 0, 0),
            "A3": "O-2",
            f"{promised}3": date(2025, 10, 20),
        },
    )

    table = bind(LAYOUT.table("orders"), grid(sheet.backend.read(), "orders"))

    found = [table.value(row, "promised_by") for _, row in table.data_rows()]
    if isinstance(sheet, SpreadsheetSheet):
        # Known limit (sheets_values, README): unformatted values carry no format,
        # so a whole serial number in a column people type reads as a date alone.
        assert found == [date(2025, 10, 20), date(2025, 10, 20)]
        return
    assert found == [datetime(2025, 10, 20, 0, 0), date(2025, 10, 20)]
    assert [type(value) for value in found] == [datetime, date]


def test_append_rows_then_read_gives_the_rows_back(sheet: Sheet) -> None:
    sheet.blank()
    first: list[dict[str, CellValue]] = [
        {
            "id": "O-1",
            "placed_at": datetime(2025, 10, 13, 9, 30),
            "customer": "007",
            "urgent": True,
            "quantity": 3,
            "amount": 12.5,
            "promised_by": date(2025, 10, 20),
            "status": "处理中",
        },
        {"id": "O-2", "customer": "Acme", "carrier": None, "tracking_no": "0012"},
    ]
    later: list[dict[str, CellValue]] = [
        {"id": "O-7", "placed_at": datetime(2025, 10, 14, 16, 5), "quantity": 0}
    ]

    sheet.backend.append_rows(LAYOUT, LANGUAGE, "orders", first)
    sheet.type_cell(title("orders"), "A6", "typed by a person")
    sheet.backend.append_rows(LAYOUT, LANGUAGE, "orders", later)

    table = bind(LAYOUT.table("orders"), grid(sheet.backend.read(), "orders"))
    found = {number: row for number, row in table.data_rows()}
    assert sorted(found) == [2, 3, 6, 7]
    for number, expected in [(2, first[0]), (3, first[1]), (7, later[0])]:
        got = {key: table.value(found[number], key) for key in expected}
        assert got == expected
        assert all(type(got[k]) is type(v) for k, v in expected.items())
    with pytest.raises(LayoutError, match="no column for 'colour'"):
        sheet.backend.append_rows(LAYOUT, LANGUAGE, "orders", [{"colour": "red"}])


# Writing the engine's plan


def test_a_cycle_writes_its_plan_and_the_next_cycle_writes_nothing(
    sheet: Sheet, services: Callable[[Backend], Service]
) -> None:
    sheet.demo()
    recorder = Recorder(sheet.backend)
    service = services(recorder)

    first = service.run_once(NOW)

    assert first.outcome == "ok", first.detail
    _, plan, report = recorder.writes[0]
    assert first.cells_written == report.cells_written > 1000
    assert report.rows_skipped == ()
    after = sheet.backend.read()
    for edit in plan.edits:
        table = bind(LAYOUT.table(edit.table), grid(after, edit.table))
        row = table.grid.rows[edit.row - 1]
        wrong = {
            key: (table.value(row, key), value)
            for key, value in edit.cells.items()
            if not same_value(table.value(row, key), value)
        }
        assert wrong == {}, f"{edit.table}:{edit.row} reads back otherwise: {wrong}"
    assert {content.table for content in plan.outputs} == {"problems", "kpi", "log"}
    for content in plan.outputs:
        assert same_rows(grid(after, content.table).rows, content.rows), content.table

    if isinstance(sheet, SpreadsheetSheet):
        sheet.api.reset_counts()
    mark = sheet.mark()
    second = service.run_once(NOW)

    assert (second.outcome, second.cells_written) == ("ok", 0)
    assert not recorder.writes[1][1], "the second cycle planned a write"
    assert sheet.untouched(mark)
    if isinstance(sheet, SpreadsheetSheet):  # its promise: one read request, no write
        assert sheet.api.count("values:batchGet") == 1
        assert sheet.api.count("get") == 0


def test_a_cycle_fills_blanks_rewrites_its_columns_and_leaves_peoples_cells(
    sheet: Sheet,
) -> None:
    sheet.demo()
    data = [spec.key for spec in LAYOUT.of_kind("data")]
    tabs = sheet.tabs()
    requests_flag = column(tabs[title("requests")], "requests", "flag")
    orders_due = column(tabs[title("orders")], "orders", "due")
    sheet.type_cells(title("requests"), {f"{letter(requests_flag)}2": "随便写的"})
    sheet.type_cells(title("orders"), {f"{letter(orders_due)}3": "明天"})
    before = sheet.tabs()
    snapshot, result = cycle(sheet.backend)
    plan = result.plan

    sheet.backend.write(snapshot, plan, LAYOUT, LANGUAGE)

    after = sheet.tabs()
    snapshot = sheet.backend.read()
    filled = wanted_fills = 0
    for table in data:
        spec = LAYOUT.table(table)
        kept = people_cells(before[title(table)], table)
        assert_kept(kept, after[title(table)])
        # A blank a fill column held is now what the engine planned, or still blank.
        planned = {
            (edit.row, key): value
            for edit in plan.edits
            if edit.table == table
            for key, value in edit.cells.items()
        }
        bound = bind(spec, grid(snapshot, table))
        fills = [f.key for f in spec.fields if f.fill and f.key in bound.columns]
        wanted_fills += sum(key in fills for _, key in planned)
        for number, row in bound.data_rows():
            for key in fills:
                index = bound.columns[key]
                old = before[title(table)][number - 1]
                if index < len(old) and not is_blank(old[index]):
                    continue
                value = bound.value(row, key)
                if not is_blank(value):
                    filled += 1
                    wanted = planned.get((number, key))
                    assert same_value(value, wanted), (table, number, key, value)
    assert filled == wanted_fills > 0, "every blank the engine filled, and no other"

    requests = bind(LAYOUT.table("requests"), grid(snapshot, "requests"))
    orders = bind(LAYOUT.table("orders"), grid(snapshot, "orders"))
    by_row = {(e.table, e.row): e.cells for e in plan.edits}
    assert (
        requests.value(requests.grid.rows[1], "flag") == by_row["requests", 2]["flag"]
    )
    assert same_value(
        orders.value(orders.grid.rows[2], "due"), by_row["orders", 3]["due"]
    )


def test_a_write_fills_only_blanks_and_never_touches_a_peoples_column(
    sheet: Sheet,
) -> None:
    """The backend's own guard, whatever a plan asks of it."""
    sheet.configured()
    sheet.append({"requests": race_rows()})
    snapshot = sheet.backend.read()
    table = bind(LAYOUT.table("requests"), grid(snapshot, "requests"))
    asks: dict[str, CellValue] = {
        "id": "OTHER",
        "submitted_at": datetime(2025, 10, 1, 8, 0),
        "customer": "not theirs",
        "flag": "正常",
    }
    plan = WritePlan(
        edits=[
            RowEdit("requests", 2, "R-1", table.fingerprint(table.grid.rows[1]), asks),
            RowEdit("requests", 7, None, table.fingerprint(table.grid.rows[6]), asks),
        ]
    )

    report = sheet.backend.write(snapshot, plan, LAYOUT, LANGUAGE)

    after = bind(LAYOUT.table("requests"), grid(sheet.backend.read(), "requests"))
    rows = after.grid.rows
    keys = ("id", "submitted_at", "customer", "flag")
    assert [after.value(rows[1], key) for key in keys] == [
        "R-1",
        datetime(2025, 10, 14, 9, 0),
        "客户F",
        "正常",
    ]
    assert [after.value(rows[6], key) for key in keys] == [
        "OTHER",
        datetime(2025, 10, 14, 12, 5),
        "客户A",
        "正常",
    ]
    assert report.cells_written == 3


def test_text_that_looks_like_a_formula_stays_text(
    sheet: Sheet, services: Callable[[Backend], Service]
) -> None:
    sheet.configured()
    rows: list[dict[str, CellValue]] = [
        {
            "id": text,
            "submitted_at": datetime(2025, 10, 15, 9, 30),
            "department": "销售一部",
            "requester": "赵敏",
            "type": "现场紧急缺货",
            "customer": text,
            "content": "缺控制板",
            "quantity": "很多",  # a problem, so the Problems tab names the row's id
            "owner": "张三",
            "status": "处理中",
        }
        for text in FORMULA_LIKE
    ]
    sheet.append({"requests": rows})
    typed = sheet.cells(title("requests"))
    assert [row[0] for row in typed[1:]] == list(FORMULA_LIKE)

    summary = services(sheet.backend).run_once(NOW)

    assert summary.outcome == "ok", summary.detail
    tabs = sheet.tabs()
    requests = tabs[title("requests")]
    customer = column(requests, "requests", "customer")
    assert [(row[0], row[customer]) for row in requests[1:]] == [
        (text, text) for text in FORMULA_LIKE
    ]
    problems = tabs[title("problems")]
    item = column(problems, "problems", "item")
    assert {row[item] for row in problems[1:]} >= set(FORMULA_LIKE)
    log = tabs[title("log")]
    items = column(log, "log", "items")
    assert {row[items] for row in log[1:] if len(row) > items} >= set(FORMULA_LIKE)
    formulas = [
        (tab, number, value)
        for tab, cells in tabs.items()
        for number, row in enumerate(cells, start=1)
        for value in row
        if isinstance(value, Formula)
    ]
    assert formulas == []
    snapshot = sheet.backend.read()
    assert [row[0] for row in grid(snapshot, "requests").rows[1:]] == list(FORMULA_LIKE)


# The service's own tabs


def _content(table: str, rows: int, width: int) -> Rows:
    """A service tab: its header, then `rows` rows of `width` values of each type.

    Values follow the column's type, since a spreadsheet tells a date from a number
    only by its column; columns beyond the layout's hold text.
    """
    fields = LAYOUT.table(table).fields
    content: Rows = [[f.label(LANGUAGE) for f in fields]]
    for number in range(rows):
        row: list[CellValue] = []
        for index in range(width):
            kind = fields[index].type if index < len(fields) else "text"
            if kind == "datetime":
                row.append(datetime(2025, 10, 15, 9, 0) + timedelta(minutes=number))
            elif kind == "integer":
                row.append(number)
            elif kind == "number":
                row.append(number / 4)
            else:
                row.append(f"{table}-{number}-{index}")
        content.append(row)
    return content


def test_service_tabs_shrink_and_grow_to_exactly_their_content(sheet: Sheet) -> None:
    sheet.blank()
    rounds = [
        {"problems": (12, 7), "kpi": (8, 7), "log": (5, 5)},
        {"problems": (3, 4), "kpi": (0, 0), "log": (1, 9)},  # fewer rows, wider log
        {"problems": (1100, 7), "kpi": (2, 45), "log": (40, 5)},  # past the grid
    ]
    for sizes in rounds:
        snapshot = sheet.backend.read()
        contents = {
            table: _content(table, rows, width)
            for table, (rows, width) in sizes.items()
        }
        expected = sum(
            changed_cells(grid(snapshot, table).rows, rows)
            for table, rows in contents.items()
        )
        plan = WritePlan(
            outputs=[TabContent(table, rows) for table, rows in contents.items()]
        )

        report = sheet.backend.write(snapshot, plan, LAYOUT, LANGUAGE)

        assert report.cells_written == expected
        after = sheet.backend.read()
        tabs = sheet.tabs()
        for table, rows in contents.items():
            assert same_rows(grid(after, table).rows, rows), (table, sizes)
            shape = [len(row) for row in tabs[title(table)]]
            assert shape == [len(row) for row in rows], (table, sizes)


# Laying out


def test_init_lays_out_an_empty_spreadsheet_then_finds_nothing_to_do(
    sheet: Sheet,
) -> None:
    sheet.empty()

    first, lists = lay_out(sheet.backend)

    assert set(first.tabs_created) == {spec.key for spec in LAYOUT.tables}
    assert lists.formats_added > 0 and not lists.tabs_created
    tabs = sheet.tabs()
    defaults = load_defaults()
    for spec in LAYOUT.tables:
        rows = tabs[spec.title(LANGUAGE)]
        assert rows[0] == [f.label(LANGUAGE) for f in spec.fields]
        assert len(rows) == 1 + len(defaults.get(spec.key, []))
    mark = sheet.mark()

    again = lay_out(sheet.backend)

    assert [report.changed for report in again] == [False, False]
    assert sheet.untouched(mark), "a second init wrote to the spreadsheet"


def test_init_on_data_keeps_every_cell_then_finds_nothing_to_do(sheet: Sheet) -> None:
    sheet.configured()
    sheet.append({"requests": race_rows()})
    before = sheet.tabs()

    first, _ = lay_out(sheet.backend)

    assert (first.tabs_created, first.columns_added, first.rows_added) == ((), 0, 0)
    after = sheet.tabs()
    for tab, rows in before.items():
        assert_kept(cells_at(rows), after[tab])
    mark = sheet.mark()

    again = lay_out(sheet.backend)

    assert [report.changed for report in again] == [False, False]
    assert sheet.untouched(mark), "a second init wrote to the spreadsheet"


# A person acting between a cycle's read and its write


def race_rows() -> list[dict[str, CellValue]]:
    """Five requests R-1..R-5 in rows 2-6 and one without an id in row 7.

    Each starts at another time, so each gets other due times; customers run from
    F to A, so sorting by customer turns the order round.
    """
    rows: list[dict[str, CellValue]] = []
    for number in range(6):
        rows.append(
            {
                "id": f"R-{number + 1}" if number < 5 else None,
                "submitted_at": datetime(2025, 10, 14, 9, 0)
                + timedelta(minutes=37 * number),
                "department": "销售一部",
                "requester": "赵敏",
                "type": "展会物料",
                "customer": f"客户{'FEDCBA'[number]}",
                "content": f"展会样品 {number + 1}",
                "owner": "张三",
                "status": "处理中",
            }
        )
    return rows


def _edit_two_rows(sheet: Sheet, rows: Rows) -> None:
    tab = title("requests")
    progress = letter(column(rows, "requests", "progress"))
    # A note in one row; in row 7, the id the service meant to fill.
    sheet.type_cells(tab, {f"{progress}4": "客户改期", "A7": "MINE-1"})


def _sort_by_customer(sheet: Sheet, rows: Rows) -> None:
    sheet.sort(title("requests"), column(rows, "requests", "customer"))


def _insert_above_row_3(sheet: Sheet, rows: Rows) -> None:
    new: list[CellValue] = [None] * len(rows[0])
    for key, value in race_rows()[0].items():
        new[column(rows, "requests", key)] = value
    new[0], new[column(rows, "requests", "customer")] = "NEW-1", "客户N"
    new[column(rows, "requests", "submitted_at")] = datetime(2025, 10, 14, 14, 44)
    sheet.insert_row(title("requests"), 3, new)


def _delete_row_3(sheet: Sheet, rows: Rows) -> None:
    sheet.delete_row(title("requests"), 3)


# What the spreadsheet skips: edits whose row it cannot find unchanged by id (row 7
# has no id yet, so it is looked for by number, where another row now stands).
RACES: dict[str, tuple[Callable[[Sheet, Rows], None], set[str]]] = {
    "edit": (_edit_two_rows, {"requests:4", "requests:7"}),
    "sort": (_sort_by_customer, {"requests:7"}),
    "insert": (_insert_above_row_3, {"requests:7"}),
    "delete": (_delete_row_3, {"requests:3", "requests:7"}),
}


@pytest.mark.parametrize("race", sorted(RACES))
def test_a_person_acting_between_read_and_write_never_loses_a_cell_or_gets_a_wrong_row(
    sheet: Sheet, race: str
) -> None:
    sheet.configured()
    sheet.append({"requests": race_rows()})
    snapshot, result = cycle(sheet.backend)
    assert len([e for e in result.plan.edits if e.table == "requests"]) == 6
    act, skipped = RACES[race]

    act(sheet, sheet.cells(title("requests")))

    acted = sheet.tabs()
    typed = people_cells(acted[title("requests")], "requests")
    if isinstance(sheet, WorkbookSheet):  # its promise: all or nothing
        with pytest.raises(ConflictError, match="changed while the cycle ran"):
            sheet.backend.write(snapshot, result.plan, LAYOUT, LANGUAGE)
        assert sheet.tabs() == acted
    else:  # its promise: every row it still finds unchanged, by id
        report = sheet.backend.write(snapshot, result.plan, LAYOUT, LANGUAGE)
        assert set(report.rows_skipped) == skipped
    written = rows_holding_their_own_values(
        sheet.backend.read(), [result.plan], "requests"
    )
    assert_kept(typed, sheet.cells(title("requests")))
    if isinstance(sheet, SpreadsheetSheet):
        assert len(written) == 6 - len(skipped)

    # The next cycle repairs: every row holds its own values.
    snapshot, repair = cycle(sheet.backend)
    report = sheet.backend.write(snapshot, repair.plan, LAYOUT, LANGUAGE)

    assert report.rows_skipped == ()
    after = sheet.backend.read()
    rows = bind(LAYOUT.table("requests"), grid(after, "requests")).data_rows()
    written = rows_holding_their_own_values(
        after, [result.plan, repair.plan], "requests"
    )
    assert len(written) == len(rows)
    assert_kept(typed, sheet.cells(title("requests")))
    assert not cycle(sheet.backend)[1].plan.edits


def test_an_id_typed_in_full_width_is_found_at_write_time(sheet: Sheet) -> None:
    """The backend finds a row by its id cleaned as the engine cleans it."""
    sheet.demo()
    tabs = sheet.tabs()
    ident = column(tabs[title("requests")], "requests", "id")
    flag = column(tabs[title("requests")], "requests", "flag")
    typed = "".join(chr(ord(c) + 0xFEE0) for c in "REQ-9001")  # ＲＥＱ－９００１
    sheet.type_cells(title("requests"), {f"{letter(ident)}2": typed})
    snapshot, result = cycle(sheet.backend)
    assert any(e.item_id == "REQ-9001" and e.row == 2 for e in result.plan.edits)

    report = sheet.backend.write(snapshot, result.plan, LAYOUT, LANGUAGE)

    assert "requests:2" not in report.rows_skipped
    row = sheet.cells(title("requests"))[1]
    assert row[ident] == typed  # as the person typed it
    assert not is_blank(row[flag])
