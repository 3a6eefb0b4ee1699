"""The cycle benchmark, run small, so that it keeps working as the code moves."""

from __future__ import annotations

import re
from datetime import datetime, time
from pathlib import Path

import holidays
import pytest

from benchmarks import cycle


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
