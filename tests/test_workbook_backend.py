"""The workbook backend against real `.xlsx` files in a temporary folder."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import pytest
from openpyxl import load_workbook

from automation.backends import Backend, InitReport, WorkbookBackend
from automation.errors import BackendError, ConflictError
from automation.layout import Layout, load_layout
from automation.model import (
    CellValue,
    Formula,
    Grid,
    RowEdit,
    Snapshot,
    TabContent,
    WritePlan,
    bind,
    fingerprint,
)

PLACED = datetime(2025, 10, 13, 9, 30)
DUE = datetime(2025, 10, 14, 17, 45)


@pytest.fixture
def layout() -> Layout:
    return load_layout()


@pytest.fixture
def backend(tmp_path: Path, layout: Layout) -> WorkbookBackend:
    """A workbook laid out in English with three orders, the second without an id."""
    workbook = WorkbookBackend(tmp_path / "workbook.xlsx", backups=2)
    workbook.init(layout, {}, "en")
    workbook.append_rows(
        layout,
        "en",
        "orders",
        [
            _order("O-1", "Acme", 10),
            _order(None, "Globex", 20),
            _order("O-3", "Initech", 30),
        ],
    )
    return workbook


def _order(item_id: str | None, customer: str, quantity: int) -> dict[str, CellValue]:
    return {
        "id": item_id,
        "placed_at": PLACED,
        "customer": customer,
        "sales_rep": "Zhang San",
        "quantity": quantity,
        "status": "open",
    }


def _grid(snapshot: Snapshot, layout: Layout, table: str) -> Grid:
    spec = layout.table(table)
    return next(g for t, g in snapshot.grids.items() if spec.matches_title(t))


def _edit(
    snapshot: Snapshot,
    layout: Layout,
    row: int,
    cells: dict[str, CellValue],
    *,
    by_id: bool = True,
) -> RowEdit:
    """An edit of an Orders row, fingerprinted against the snapshot like the engine."""
    table = bind(layout.table("orders"), _grid(snapshot, layout, "orders"))
    values = table.grid.rows[row - 1]
    item_id = table.value(values, "id") if by_id else None
    return RowEdit(
        table="orders",
        row=row,
        item_id=None if item_id is None else str(item_id),
        fingerprint=fingerprint(table, values),
        cells=cells,
    )


def _cell(path: Path, title: str, coordinate: str) -> CellValue:
    return load_workbook(path)[title][coordinate].value


def _stamp(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


# Reading


def test_read_gives_every_tab_with_values_and_trimmed_edges(
    backend: WorkbookBackend, layout: Layout
) -> None:
    snapshot = backend.read()

    assert len(snapshot.grids) == len(layout.tables)
    orders = _grid(snapshot, layout, "orders")
    assert orders.title == "Orders"
    assert len(orders.rows) == 4
    assert orders.rows[1] == [
        "O-1",
        PLACED,
        "Acme",
        "Zhang San",
        None,
        None,
        None,
        10,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "open",
    ]
    assert _grid(snapshot, layout, "problems").rows == [
        [f.en for f in layout.table("problems").fields]
    ]
    assert snapshot.version == backend.read().version


def test_read_keeps_dates_formulas_and_empty_rows_in_place(
    backend: WorkbookBackend, layout: Layout
) -> None:
    book = load_workbook(backend.path)
    sheet = book["Orders"]
    sheet["A7"] = "O-7"
    sheet["B7"] = date(2025, 10, 1)
    sheet["B7"].number_format = "yyyy-mm-dd"
    sheet["C7"] = "=A7&B7"
    book.save(backend.path)

    rows = _grid(backend.read(), layout, "orders").rows

    assert rows[4] == [] and rows[5] == []
    assert rows[6] == ["O-7", date(2025, 10, 1), Formula("=A7&B7")]


def test_the_backend_names_its_file_and_follows_the_interface(
    backend: WorkbookBackend,
) -> None:
    generic: Backend = backend  # mypy checks that WorkbookBackend fits Backend

    assert generic.name == f"workbook {backend.path}"


def test_reading_a_missing_or_broken_file_says_what_to_do(tmp_path: Path) -> None:
    missing = WorkbookBackend(tmp_path / "nowhere.xlsx")
    broken_path = tmp_path / "broken.xlsx"
    broken_path.write_bytes(b"not a zip")

    with pytest.raises(BackendError, match="run `automation init`"):
        missing.read()
    with pytest.raises(BackendError, match=r"cannot open .* as a workbook"):
        WorkbookBackend(broken_path).read()


# Writing a plan


def test_write_round_trip(backend: WorkbookBackend, layout: Layout) -> None:
    snapshot = backend.read()
    plan = WritePlan(
        edits=[_edit(snapshot, layout, 2, {"due": DUE, "flag": "At risk"})],
        outputs=[
            TabContent(
                "problems",
                [["Tab", "Row"], ["Orders", 3], ["Orders", 4.5], [True, None]],
            )
        ],
    )

    report = backend.write(snapshot, plan, layout, "en")

    after = backend.read()
    orders = bind(layout.table("orders"), _grid(after, layout, "orders"))
    row = orders.grid.rows[1]
    assert (orders.value(row, "due"), orders.value(row, "flag")) == (DUE, "At risk")
    assert _grid(after, layout, "problems").rows == [
        ["Tab", "Row"],
        ["Orders", 3],
        ["Orders", 4.5],
        [True],
    ]
    assert report.cells_written == 2 + 5 + 5  # the header's last five cells cleared
    assert report.rows_skipped == ()
    assert report.tabs_written == ("orders", "problems")
    assert load_workbook(backend.path)["Orders"]["Z2"].number_format == (
        "yyyy-mm-dd hh:mm"
    )


def test_only_changed_cells_are_written_and_a_repeat_leaves_the_file_alone(
    backend: WorkbookBackend, layout: Layout
) -> None:
    first = backend.read()
    cells: dict[str, CellValue] = {"due": DUE, "flag": "Overdue", "check": ""}
    plan = WritePlan(
        edits=[_edit(first, layout, 2, cells)],
        outputs=[TabContent("kpi", [["Month", "Value"], ["2025-10", 1]])],
    )
    assert backend.write(first, plan, layout, "en").cells_written == 2 + 6 + 2

    second = backend.read()
    before = _stamp(backend.path)
    same: dict[str, CellValue] = {
        "due": DUE + timedelta(seconds=20),  # equal to the minute
        "flag": "Overdue",
        "check": None,  # "" and None are both blank
    }
    again = WritePlan(
        edits=[_edit(second, layout, 2, same)],
        outputs=[TabContent("kpi", [["Month", "Value"], ["2025-10", 1.0]])],
    )

    report = backend.write(second, again, layout, "en")

    assert report.cells_written == 0
    assert report.tabs_written == ()
    assert _stamp(backend.path) == before


def test_empty_plan_touches_nothing_even_when_stale(backend: WorkbookBackend) -> None:
    before = _stamp(backend.path)
    stale = Snapshot(grids={}, version="not the file's version")

    report = backend.write(stale, WritePlan(), load_layout(), "en")

    assert report.cells_written == 0
    assert _stamp(backend.path) == before


def test_file_changed_since_read_raises_conflict_and_writes_nothing(
    backend: WorkbookBackend, layout: Layout
) -> None:
    snapshot = backend.read()
    plan = WritePlan(edits=[_edit(snapshot, layout, 2, {"flag": "Overdue"})])
    backend.append_rows(layout, "en", "orders", [_order("O-4", "Umbrella", 1)])
    changed = backend.path.read_bytes()

    with pytest.raises(ConflictError, match=r"changed while the cycle ran.*retry"):
        backend.write(snapshot, plan, layout, "en")

    assert backend.path.read_bytes() == changed
    assert not any(backend.path.parent.glob(".workbook.xlsx.*"))


def test_edit_finds_its_row_by_id_after_the_rows_were_sorted(
    backend: WorkbookBackend, layout: Layout
) -> None:
    snapshot = backend.read()
    plan = WritePlan(edits=[_edit(snapshot, layout, 2, {"flag": "Overdue"})])
    book = load_workbook(backend.path)
    sheet = book["Orders"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    for number, values in enumerate(reversed(rows), start=2):
        for column, value in enumerate(values, start=1):
            sheet.cell(number, column).value = value
    book.save(backend.path)
    sorted_on_disk = Snapshot(snapshot.grids, version=backend.read().version)

    report = backend.write(sorted_on_disk, plan, layout, "en")

    assert report.cells_written == 1
    after = load_workbook(backend.path)["Orders"]
    assert (after["A4"].value, after["AB4"].value) == ("O-1", "Overdue")
    assert after["AB2"].value is None  # O-3 now sits in row 2 and keeps its flag


def test_row_without_id_is_found_by_number_and_gets_its_id_filled(
    backend: WorkbookBackend, layout: Layout
) -> None:
    snapshot = backend.read()
    edit = _edit(snapshot, layout, 3, {"id": "O-2", "flag": "On track"}, by_id=False)
    assert edit.item_id is None

    report = backend.write(snapshot, WritePlan(edits=[edit]), layout, "en")

    assert report.cells_written == 2
    assert _cell(backend.path, "Orders", "A3") == "O-2"


def test_row_edited_since_read_is_skipped(
    backend: WorkbookBackend, layout: Layout
) -> None:
    snapshot = backend.read()
    plan = WritePlan(
        edits=[
            _edit(snapshot, layout, 2, {"flag": "Overdue"}),
            _edit(snapshot, layout, 4, {"flag": "At risk"}),
        ]
    )
    book = load_workbook(backend.path)
    book["Orders"]["C2"] = "Acme Corporation"  # a person edits row 2 meanwhile
    book.save(backend.path)
    isolated = Snapshot(snapshot.grids, version=backend.read().version)

    report = backend.write(isolated, plan, layout, "en")

    assert report.rows_skipped == ("orders:2",)
    assert report.cells_written == 1
    assert _cell(backend.path, "Orders", "AB2") is None
    assert _cell(backend.path, "Orders", "AB4") == "At risk"


def test_an_id_found_twice_or_gone_skips_the_edit(
    backend: WorkbookBackend, layout: Layout
) -> None:
    snapshot = backend.read()
    plan = WritePlan(
        edits=[
            _edit(snapshot, layout, 2, {"flag": "Overdue"}),
            _edit(snapshot, layout, 4, {"flag": "Overdue"}),
        ]
    )
    book = load_workbook(backend.path)
    book["Orders"]["A3"] = "O-1"  # a copied row now shares O-1's id
    book["Orders"].delete_rows(4)  # and O-3 is deleted
    book.save(backend.path)
    isolated = Snapshot(snapshot.grids, version=backend.read().version)

    report = backend.write(isolated, plan, layout, "en")

    assert report.rows_skipped == ("orders:2", "orders:4")
    assert report.cells_written == 0


def test_a_failed_save_leaves_the_old_file_and_no_temporary_one(
    backend: WorkbookBackend, layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = backend.read()
    plan = WritePlan(edits=[_edit(snapshot, layout, 2, {"flag": "Overdue"})])
    before = sorted((p.name, p.read_bytes()) for p in backend.path.parent.iterdir())

    def crash(book: object, stream: BinaryIO) -> None:
        stream.write(b"PK half a workbook")
        raise OSError("disk full")

    monkeypatch.setattr("openpyxl.workbook.workbook.Workbook.save", crash)
    with pytest.raises(OSError, match="disk full"):
        backend.write(snapshot, plan, layout, "en")

    after = sorted((p.name, p.read_bytes()) for p in backend.path.parent.iterdir())
    assert after == before


def test_fill_field_never_overwrites_a_typed_value(
    backend: WorkbookBackend, layout: Layout
) -> None:
    book = load_workbook(backend.path)
    book["Orders"]["B4"] = None  # O-3 has no "placed at" yet
    book.save(backend.path)
    snapshot = backend.read()
    later = PLACED + timedelta(hours=5)
    plan = WritePlan(
        edits=[
            _edit(snapshot, layout, 2, {"placed_at": later, "id": "X-9"}),
            _edit(snapshot, layout, 4, {"placed_at": later}),
        ]
    )

    report = backend.write(snapshot, plan, layout, "en")

    assert report.cells_written == 1
    sheet = load_workbook(backend.path)["Orders"]
    assert (sheet["A2"].value, sheet["B2"].value) == ("O-1", PLACED)
    assert sheet["B4"].value == later


def test_a_column_people_own_is_refused(
    backend: WorkbookBackend, layout: Layout, caplog: pytest.LogCaptureFixture
) -> None:
    snapshot = backend.read()
    plan = WritePlan(edits=[_edit(snapshot, layout, 2, {"customer": "Hijack"})])

    with caplog.at_level(logging.WARNING):
        report = backend.write(snapshot, plan, layout, "en")

    assert report.cells_written == 0
    assert _cell(backend.path, "Orders", "C2") == "Acme"
    assert "refused to write orders.customer" in caplog.text


def test_missing_owned_column_is_added_at_the_end_of_the_header(
    backend: WorkbookBackend, layout: Layout
) -> None:
    book = load_workbook(backend.path)
    book["Orders"].delete_cols(28)  # the Flag column
    book.save(backend.path)
    snapshot = backend.read()
    plan = WritePlan(edits=[_edit(snapshot, layout, 2, {"flag": "Overdue"})])

    backend.write(snapshot, plan, layout, "en")

    sheet = load_workbook(backend.path)["Orders"]
    assert sheet.max_column == 29
    assert (sheet["AC1"].value, sheet["AC2"].value) == ("Flag", "Overdue")


def test_text_that_looks_like_a_formula_stays_text(
    backend: WorkbookBackend, layout: Layout
) -> None:
    texts = ["=1+1", '=IMPORTXML("http://x","//a")', "+1", "@x", "#N/A"]
    rows: list[list[CellValue]] = [["Tab"]]
    rows.extend([t] for t in texts)
    plan = WritePlan(outputs=[TabContent("problems", rows)])

    backend.write(backend.read(), plan, layout, "en")

    sheet = load_workbook(backend.path)["Problems"]
    cells = [sheet.cell(number, 1) for number in range(2, 7)]
    assert [(c.data_type, c.value) for c in cells] == [("s", t) for t in texts]
    assert _grid(backend.read(), layout, "problems").rows[1:] == [[t] for t in texts]


def test_formula_is_written_as_a_formula(
    backend: WorkbookBackend, layout: Layout
) -> None:
    snapshot = backend.read()
    plan = WritePlan(edits=[_edit(snapshot, layout, 2, {"due": Formula("=B2+1")})])

    backend.write(snapshot, plan, layout, "en")

    cell = load_workbook(backend.path)["Orders"]["Z2"]
    assert (cell.data_type, cell.value) == ("f", "=B2+1")
    orders = bind(layout.table("orders"), _grid(backend.read(), layout, "orders"))
    assert orders.value(orders.grid.rows[1], "due") == Formula("=B2+1")


def test_datetime_with_a_time_zone_is_refused(
    backend: WorkbookBackend, layout: Layout
) -> None:
    snapshot = backend.read()
    aware = DUE.replace(tzinfo=UTC)
    plan = WritePlan(edits=[_edit(snapshot, layout, 2, {"due": aware})])
    before = backend.path.read_bytes()

    with pytest.raises(ValueError, match="time zone"):
        backend.write(snapshot, plan, layout, "en")

    assert backend.path.read_bytes() == before


def test_tab_content_clears_what_lies_beyond_it(
    backend: WorkbookBackend, layout: Layout
) -> None:
    wide: list[list[CellValue]] = [
        ["Tab", "Row", "ID"],
        ["a", 1, "x"],
        ["b", 2, "y"],
        ["c", 3, "z"],
    ]
    backend.write(
        backend.read(), WritePlan(outputs=[TabContent("log", wide)]), layout, "en"
    )
    narrow: list[list[CellValue]] = [["Tab", "Row"], ["a", 1]]

    report = backend.write(
        backend.read(), WritePlan(outputs=[TabContent("log", narrow)]), layout, "en"
    )

    assert report.cells_written == 1 + 1 + 6  # two cells cut, two rows deleted
    assert _grid(backend.read(), layout, "log").rows == narrow


def test_backups_rotate_and_keep_the_last_n(
    backend: WorkbookBackend, layout: Layout
) -> None:
    versions = []
    for number in range(3):
        versions.append(backend.path.read_bytes())
        plan = WritePlan(outputs=[TabContent("kpi", [["Month"], [f"2025-0{number}"]])])
        backend.write(backend.read(), plan, layout, "en")

    folder = backend.path.parent
    assert sorted(p.name for p in folder.iterdir()) == [
        "workbook.xlsx",
        "workbook.xlsx.1",
        "workbook.xlsx.2",
    ]
    assert (folder / "workbook.xlsx.1").read_bytes() == versions[2]
    assert (folder / "workbook.xlsx.2").read_bytes() == versions[1]


# Laying out the tabs


def test_init_creates_every_tab_with_its_header(tmp_path: Path, layout: Layout) -> None:
    backend = WorkbookBackend(tmp_path / "new" / "workbook.xlsx")
    defaults: dict[str, list[dict[str, object]]] = {
        "settings": [{"key": "language", "value": "zh"}, {"key": "departments"}],
        "orders": [{"customer": "never written: not a configuration tab"}],
    }

    report = backend.init(layout, defaults, "zh")

    book = load_workbook(backend.path)
    assert book.sheetnames == [spec.zh for spec in layout.tables]
    for spec in layout.tables:
        header = [cell.value for cell in book[spec.zh][1]]
        assert header == [f.zh for f in spec.fields]
        assert book[spec.zh].freeze_panes == "A2"
        assert book[spec.zh]["A1"].font.b
    assert report.tabs_created == tuple(spec.key for spec in layout.tables)
    assert report.columns_added == sum(len(spec.fields) for spec in layout.tables)
    assert report.rows_added == 2
    assert book["设置"]["A2"].value == "language"
    assert book["订单"].max_row == 1


def test_init_twice_changes_nothing(tmp_path: Path, layout: Layout) -> None:
    backend = WorkbookBackend(tmp_path / "workbook.xlsx")
    lists = {"statuses": ["open", "done"], "people": ["Zhang San"]}
    assert backend.init(layout, {}, "en", lists).changed
    before = _stamp(backend.path)

    report = backend.init(layout, {}, "en", lists)

    assert report == InitReport()
    assert not report.changed
    assert _stamp(backend.path) == before


def test_init_keeps_what_people_added_and_knows_the_other_language(
    backend: WorkbookBackend, layout: Layout
) -> None:
    book = load_workbook(backend.path)
    sheet = book["Orders"]
    sheet.delete_cols(28, 2)  # Flag and Check are gone
    sheet["AB1"], sheet["AB2"] = "My notes", "call back"
    book.save(backend.path)

    report = backend.init(layout, {}, "zh")

    assert report.tabs_created == ()
    assert report.columns_added == 2
    sheet = load_workbook(backend.path)["Orders"]
    assert [c.value for c in sheet[1]][-3:] == ["My notes", "时效标记", "检查结果"]
    assert (sheet["AB2"].value, sheet["A4"].value, sheet.max_row) == (
        "call back",
        "O-3",
        4,
    )


def test_init_adds_drop_downs_and_flag_colours(tmp_path: Path, layout: Layout) -> None:
    backend = WorkbookBackend(tmp_path / "workbook.xlsx")
    lists = {
        "statuses": ["新提报", "处理中", "已完成"],
        "delivery_modes": ["标准", "次日达"],
        "departments": [f"department number {n}" for n in range(20)],  # too long
    }

    backend.init(layout, {}, "zh", lists)

    sheet = load_workbook(backend.path)["订单"]
    rules = {str(v.sqref): v for v in sheet.data_validations.dataValidation}
    assert set(rules) == {"G2:G1048576", "T2:T1048576"}
    status = rules["T2:T1048576"]
    assert status.formula1 == '"新提报,处理中,已完成"'
    assert (status.allow_blank, status.showErrorMessage, status.errorStyle) == (
        True,
        True,
        "warning",
    )
    formulas = [
        rule.formula[0]
        for colouring in sheet.conditional_formatting
        for rule in colouring.rules
    ]
    assert formulas == [
        'OR($AB2="已逾期",$AB2="Overdue")',
        'OR($AB2="有风险",$AB2="At risk")',
    ]
