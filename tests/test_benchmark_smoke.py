"""The benchmarks, run small, so that they keep working as the code moves."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, time
from pathlib import Path

import holidays
import pytest
from gspread.exceptions import APIError

from benchmarks import cycle, sheets


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> cycle.Report:
    return cycle.run_benchmark(300, tmp_path_factory.mktemp("bench"), sample=20)


def test_table_has_every_line(small: cycle.Report) -> None:
    table = cycle.render(small, ".venv/bin/python -m benchmarks.cycle --rows 300")
    assert table.startswith("Benchmark: one cycle over 300 rows")
    assert "command:   .venv/bin/python -m benchmarks.cycle --rows 300" in table
    assert "openpyxl 3." in table
    assert [m.label for m in small.measures] == list(cycle.LABELS)
    for label in cycle.LABELS:
        assert label in table


def test_first_cycle_writes_and_second_writes_nothing(small: cycle.Report) -> None:
    assert small.rows == {"requests": 105, "orders": 150, "returns": 45}
    assert small.cells_first is not None
    assert small.cells_first > 0
    assert small.cells_second == 0


def test_baseline_agrees_with_the_engine(small: cycle.Report) -> None:
    notes = {m.label: m.note for m in small.measures}
    found = re.search(r"agrees on (\d+)/(\d+)", notes[cycle.CLOCK])
    assert found is not None
    assert found.group(1) == found.group(2) != "0"


def test_split_gives_every_row_to_a_tab() -> None:
    assert cycle.split_rows(100_000) == {
        "requests": 35_000,
        "orders": 50_000,
        "returns": 15_000,
    }
    assert sum(cycle.split_rows(1001).values()) == 1001
    with pytest.raises(ValueError, match="at least 3"):
        cycle.split_rows(2)


def test_grown_tables_keep_unique_ids() -> None:
    tables = cycle.build_tables(3000)
    orders = tables["orders"]
    ids = [row["id"] for row in orders if row["id"] is not None]
    assert len(orders) == 1500
    assert len(ids) == len(set(ids)) + 1  # the demo's own pasted duplicate stays


def test_naive_due_steps_over_lunch_and_the_weekend() -> None:
    country = holidays.country_holidays("CN", years=2025)
    periods = ((time(9), time(12)), (time(13, 30), time(18)))
    friday = datetime(2025, 10, 17, 17, 30)
    assert cycle.naive_due(friday, 1, country, periods) == datetime(2025, 10, 20, 9, 30)
    before_lunch = datetime(2025, 10, 15, 11, 30)
    assert cycle.naive_due(before_lunch, 1, country, periods) == datetime(
        2025, 10, 15, 14, 0
    )


def test_workbook_has_every_tab(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from automation.layout import load_layout

    layout = load_layout()
    path = tmp_path / "book.xlsx"
    cycle.write_workbook(path, cycle.build_tables(30), layout)
    book = load_workbook(path, read_only=True)
    try:
        assert book.sheetnames == [spec.zh for spec in layout.tables]
        sheet = book["订单"]
        rows = list(sheet.iter_rows(values_only=True))
    finally:
        book.close()
    assert rows[0][0] == "订单号"
    assert len(rows) == 1 + cycle.split_rows(30)["orders"] == 1 + 16


def test_a_write_past_the_limit_is_reported_not_waited_for(tmp_path: Path) -> None:
    report = cycle.run_benchmark(300, tmp_path, sample=5, write_limit=0.001)
    values = {m.label: m.value for m in report.measures}
    notes = {m.label: m.note for m in report.measures}
    assert [m.label for m in report.measures] == list(cycle.LABELS)
    assert values[cycle.BACKEND_WRITE].startswith("> ")
    assert "--write-limit" in notes[cycle.BACKEND_WRITE]
    assert values[cycle.CELLS_2] == "-"
    assert report.cells_first is None
    assert report.cells_second is None


# The Sheets benchmark


@pytest.fixture(scope="module")
def sheets_small(tmp_path_factory: pytest.TempPathFactory) -> sheets.Report:
    return sheets.run_benchmark(200, tmp_path_factory.mktemp("bench-sheets"))


def requests_of(report: sheets.Report, label: str) -> dict[str, int]:
    return dict(report.line(label).requests)


def test_sheets_table_has_every_line(sheets_small: sheets.Report) -> None:
    command = ".venv/bin/python -m benchmarks.sheets --rows 200"
    table = sheets.render([sheets_small], command)
    assert table.startswith("Benchmark: a cycle on Google Sheets")
    assert f"command:   {command}" in table
    assert "gspread 6." in table
    assert "200 item rows (requests 70, orders 100, returns 30)" in table
    assert [line.label for line in sheets_small.lines] == list(sheets.LABELS)
    for label in sheets.LABELS:
        assert label in table
    assert "EXTRAPOLATED" not in table  # every update_cell call was made
    assert not any(line.estimated for line in sheets_small.lines)


def test_sheets_our_cycles_read_once_and_write_once(
    sheets_small: sheets.Report,
) -> None:
    assert sheets_small.rows == {"requests": 70, "orders": 100, "returns": 30}
    first = requests_of(sheets_small, sheets.OURS_1)
    read = requests_of(sheets_small, sheets.OURS_1_READ)
    write = requests_of(sheets_small, sheets.OURS_1_WRITE)
    assert read == {"get": 1, "values:batchGet": 1}
    assert write["values:batchUpdate"] == 1  # every changed cell in one request
    assert "batchUpdate" not in write  # every tab there and large enough
    # The backend's read and write are all the requests the cycle makes.
    assert Counter(first) == Counter(read) + Counter(write)
    assert requests_of(sheets_small, sheets.OURS_2) == {"values:batchGet": 1}
    assert requests_of(sheets_small, sheets.OURS_2_READ) == {"values:batchGet": 1}
    assert sheets_small.cells_first == sheets_small.changed > 0
    assert sheets_small.cells_second == 0


def test_sheets_obvious_way_makes_a_request_per_tab_and_per_cell(
    sheets_small: sheets.Report,
) -> None:
    changed = sheets_small.changed
    assert requests_of(sheets_small, sheets.NAIVE_READ) == {
        "get": 2,
        "values:get": sheets_small.tabs,
    }
    assert requests_of(sheets_small, sheets.NAIVE_WRITE) == {"values:update": changed}
    both = sheets_small.line(sheets.NAIVE_BOTH)
    assert both.total == 2 + sheets_small.tabs + changed
    assert both.quota_minutes == changed / 60
    assert sheets_small.update_cell_calls == changed
    assert sheets_small.naive_matches is True


def test_sheets_floor_writes_what_our_cycle_wrote(sheets_small: sheets.Report) -> None:
    assert requests_of(sheets_small, sheets.FLOOR_READ) == {"values:batchGet": 1}
    assert requests_of(sheets_small, sheets.FLOOR_WRITE) == {"values:batchUpdate": 1}
    assert sheets_small.line(sheets.FLOOR_FIRST).total == 3
    assert sheets_small.line(sheets.FLOOR_STEADY).total == 1
    assert sheets_small.floor_matches is True


def test_sheets_sampled_update_cell_and_grown_tabs(tmp_path: Path) -> None:
    # Tabs of 20 rows: our first cycle must grow the service tabs, and so must the
    # other two ways before they write the same cells.
    report = sheets.run_benchmark(30, tmp_path, sample=40, all_up_to=100, grid_rows=20)
    line = report.line(sheets.NAIVE_WRITE)
    table = sheets.render([report], "bench")

    assert requests_of(report, sheets.OURS_1_WRITE)["batchUpdate"] == 1
    assert report.changed > 100
    assert report.update_cell_calls == 40
    assert report.naive_matches is None
    assert line.estimated
    assert dict(line.requests) == {"values:update": report.changed, "batchUpdate": 1}
    assert f"EXTRAPOLATED from 40 of {report.changed:,} calls" in line.note
    row = next(text for text in table.splitlines() if text.startswith(line.label))
    assert " ~" in row
    assert requests_of(report, sheets.FLOOR_FIRST)["batchUpdate"] == 1
    assert report.floor_matches is True


def test_sheets_quota_counts_reads_and_writes_apart() -> None:
    assert sheets.Line("x", {"values:update": 120, "get": 2}).quota_minutes == 2.0
    reads_first = {"get": 60, "values:batchGet": 30, "values:batchUpdate": 3}
    assert sheets.Line("x", reads_first).quota_minutes == 1.5


def test_sheets_changes_are_found_and_packed_by_rows() -> None:
    api = sheets.BenchSheetsAPI()
    key = api.create_spreadsheet(
        "t", sheets={"T": [["a", "b", "c"], ["x", "y", "z"]]}, rows=10, cols=5
    )
    twin = api.twin(key)
    for cell, value in (("A2", "X"), ("C2", 1), ("A3", "p"), ("C3", "q")):
        api.set_cell(key, "T", cell, value)
    api.set_cell(key, "T", "B1", "")  # cleared
    api.sheet(key, "T").row_count = 12

    changes = sheets.changed_cells(api.book(twin), api.book(key))
    assert [(c.row, c.column, c.value) for c in changes] == [
        (1, 2, None),
        (2, 1, "X"),
        (2, 3, 1.0),
        (3, 1, "p"),
        (3, 3, "q"),
    ]
    assert sheets.value_ranges(changes) == [
        {"range": "'T'!B1:B1", "values": [[""]]},
        {"range": "'T'!A2:C3", "values": [["X", None, 1], ["p", None, "q"]]},
    ]
    sheet_id = api.sheet(twin, "T").sheet_id
    assert sheets.growth(api.book(twin), api.book(key)) == [
        {"appendDimension": {"sheetId": sheet_id, "dimension": "ROWS", "length": 2}}
    ]
    assert api.values(twin, "T") == [["a", "b", "c"], ["x", "y", "z"]]


def test_sheets_fake_serves_get_all_records_and_update_cell() -> None:
    api = sheets.BenchSheetsAPI()
    key = api.create_spreadsheet("t", sheets={"T": [["id", "n"], ["R1", 7]]}, rows=5)
    worksheet = api.client().open_by_key(key).worksheet("T")

    worksheet.update_cell(3, 2, "=1+1")
    assert worksheet.get_all_records() == [
        {"id": "R1", "n": 7},
        {"id": "", "n": "=1+1"},
    ]
    with pytest.raises(APIError) as caught:
        worksheet.update_cell(9, 1, "past the grid")
    assert caught.value.code == 400
    assert api.count("values:update") == 2
    assert api.count("values:get") == 1
    assert api.fake_seconds > 0
