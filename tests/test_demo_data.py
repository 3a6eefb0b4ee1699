"""The demo workbook's rows: deterministic, well-formed, and every situation present."""

from __future__ import annotations

import time as clock
from collections import Counter
from datetime import datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from automation.demo_data import REFERENCE, Row, build_demo
from automation.layout import load_layout
from automation.model import CellValue

Demo = dict[str, list[Row]]

NOW = REFERENCE.replace(tzinfo=None)
# Deadlines people type ahead of time; every other timestamp has already happened.
PLANNED = {"required_by", "promised_by"}
WORK_TABLES = ("requests", "orders", "returns")


@pytest.fixture(scope="module")
def demo() -> Demo:
    return build_demo()


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    assert build_demo(seed=7) == build_demo(seed=7)
    assert build_demo(seed=7)["orders"] != build_demo(seed=8)["orders"]


def test_fast() -> None:
    started = clock.perf_counter()
    build_demo()
    assert clock.perf_counter() - started < 1.0


def test_naive_reference_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_demo(NOW)


def test_row_counts(demo: Demo) -> None:
    counts = {table: len(rows) for table, rows in demo.items()}
    assert counts["requests"] == 140
    assert counts["orders"] == 160
    assert counts["returns"] == 50
    assert 35 <= counts["inventory"] <= 45
    assert counts["sales"] == 6 * 3
    assert counts["costs"] == 6 * 3 * 3
    assert counts["satisfaction"] >= 40
    assert set(demo) == {*WORK_TABLES, "inventory", "satisfaction", "costs"} | {
        "sales",
        "people",
    }


def test_keys_are_fields_people_type(demo: Demo) -> None:
    layout = load_layout()
    for table, rows in demo.items():
        spec = layout.table(table)
        typed = {f.key for f in spec.fields if not f.owned}
        for row in rows:
            assert set(row) <= typed, (table, set(row) - typed)
            assert not set(row) & set(spec.owned_keys)


def test_timestamps_naive_and_in_the_past(
    demo: Demo,
) -> None:
    seen = 0
    for table, rows in demo.items():
        for row in rows:
            for key, value in row.items():
                if isinstance(value, datetime):
                    assert value.tzinfo is None, (table, key)
                    if key not in PLANNED:
                        assert value < NOW, (table, key, value)
                        seen += 1
    assert seen > 900


def test_spread_over_six_months(demo: Demo) -> None:
    placed = [r["placed_at"] for r in demo["orders"]]
    months = {p.strftime("%Y-%m") for p in placed if isinstance(p, datetime)}
    assert {"2025-04", "2025-05", "2025-06", "2025-07", "2025-08", "2025-09"} <= months
    assert min(p for p in placed if isinstance(p, datetime)) >= NOW - timedelta(
        days=183
    )


def test_most_items_closed(demo: Demo) -> None:
    statuses = Counter(r["status"] for t in WORK_TABLES for r in demo[t])
    closed = statuses["已完成"] + statuses["Done"] + statuses["已取消"]
    assert closed / sum(statuses.values()) > 0.8
    assert statuses["Done"] >= 1  # the English alias, as some people type it


def test_order_stages_in_order_except_the_one_mistake(
    demo: Demo,
) -> None:
    keys = ("placed_at", "audited_at", "picked_at", "handed_over_at", "shipped_at")
    backwards = 0
    for row in demo["orders"]:
        times = [_moment(row[k]) for k in (*keys, "delivered_at") if row[k] is not None]
        backwards += sum(later < earlier for earlier, later in pairwise(times))
        done = [row[k] is not None for k in keys[1:]]
        assert done == sorted(done, reverse=True), row["id"]  # no stage skipped
    assert backwards == 1


def test_working_hour_stamps_mostly_in_working_hours(
    demo: Demo,
) -> None:
    def inside(moment: datetime) -> bool:
        at = moment.time()
        return time(9) <= at <= time(12) or time(13, 30) <= at <= time(18)

    stamps = [
        row[key]
        for row in demo["orders"]
        for key in ("placed_at", "audited_at", "picked_at", "handed_over_at")
        if isinstance(row[key], datetime)
    ]
    share = sum(inside(_moment(s)) for s in stamps) / len(stamps)
    assert share > 0.9


def test_brand_new_emergency_within_the_last_hour(
    demo: Demo,
) -> None:
    fresh = [
        r
        for r in demo["requests"]
        if r["type"] == "现场紧急缺货"
        and isinstance(r["submitted_at"], datetime)
        and NOW - timedelta(hours=1) < r["submitted_at"] < NOW
    ]
    assert len(fresh) >= 2
    assert any(r["status"] == "新提报" and r["owner"] is None for r in fresh)


def test_paused_items(demo: Demo) -> None:
    for table in WORK_TABLES:
        assert any(r["status"] == "等待客户" for r in demo[table]), table
    assert any(r["status"] == "等待销售" for r in demo["requests"])


def test_rows_the_service_fills(demo: Demo) -> None:
    for table, start in (("requests", "submitted_at"), ("orders", "placed_at")):
        rows = demo[table]
        assert any(r["id"] is None and r[start] is not None for r in rows)
        assert any(r["id"] is None and r[start] is None for r in rows)
        assert rows[-1][start] is None  # typed last, at the bottom


def test_expedite_needed(demo: Demo) -> None:
    urgent = [
        r
        for r in demo["requests"]
        if r["type"] == "展会物料"
        and isinstance(r["required_by"], datetime)
        and isinstance(r["submitted_at"], datetime)
        and _moment(r["required_by"]) - _moment(r["submitted_at"]) < timedelta(days=2)
    ]
    assert urgent


def test_invalid_cells_of_each_kind(demo: Demo) -> None:
    requests = demo["requests"]
    assert {"下周三", "9/31"} <= {r["required_by"] for r in requests}
    assert any(r["quantity"] == "十" for r in requests)
    assert any(r["customer"] is None for r in demo["orders"])
    assert any(r["customer"] is None for r in demo["returns"])

    people = {p["name"] for p in demo["people"]}
    owners = {r["owner"] for t in WORK_TABLES for r in demo[t]} - {None}
    assert owners - people == {"刘伟"}

    known = {"新提报", "处理中", "等待客户", "等待销售", "已完成", "Done", "已取消"}
    unknown = [
        r["status"] for t in WORK_TABLES for r in demo[t] if r["status"] not in known
    ]
    assert sorted(map(str, unknown)) == ["处理完", "搞定了"]


def test_invalid_rows_about_three_percent(demo: Demo) -> None:
    duplicates = 0
    for table in ("requests", "orders"):
        ids = Counter(r["id"] for r in demo[table] if r["id"] is not None)
        assert max(ids.values()) == 2
        duplicates += sum(n - 1 for n in ids.values())
    assert duplicates == 2

    invalid = duplicates + sum(
        _looks_invalid(r, demo) for t in WORK_TABLES for r in demo[t]
    )
    total = sum(len(demo[t]) for t in WORK_TABLES)
    assert invalid == 11
    assert 0.02 < invalid / total < 0.04


def _looks_invalid(row: Row, demo: Demo) -> bool:
    """One of the planted mistakes, duplicates aside."""
    people = {p["name"] for p in demo["people"]}
    statuses = {"新提报", "处理中", "等待客户", "等待销售", "已完成", "Done", "已取消"}
    shipped, delivered = row.get("shipped_at"), row.get("delivered_at")
    return (
        row.get("required_by") in ("下周三", "9/31")
        or row.get("quantity") == "十"
        or row.get("owner") not in people | {None}
        or row["status"] not in statuses
        or ("customer" in row and row["customer"] is None and "placed_at" in row)
        or ("received_at" in row and row["customer"] is None)
        or (
            isinstance(shipped, datetime)
            and isinstance(delivered, datetime)
            and delivered < shipped
        )
    )


def test_other_accepted_spellings(demo: Demo) -> None:
    done = [r["done_at"] for r in demo["requests"] if isinstance(r["done_at"], str)]
    assert done and all("/" in str(d) and ":" in str(d) for d in done)
    required = {r["required_by"] for r in demo["requests"]}
    assert any(isinstance(v, str) and v.endswith("日") for v in required)
    assert {r["urgent"] for r in demo["orders"]} == {"是", "否"}


def test_english_text(demo: Demo) -> None:
    contents = [str(r["content"]) for r in demo["requests"]]
    assert any("Demo units x" in c for c in contents)
    assert any(c.isascii() for c in contents)
    assert any(not c.isascii() for c in contents)
    customers = {r["customer"] for r in demo["orders"]}
    assert any(isinstance(c, str) and c.isascii() for c in customers)
    comments = {r["comment"] for r in demo["satisfaction"]} - {None}
    assert any(str(c).isascii() for c in comments)


def test_people(demo: Demo) -> None:
    people = demo["people"]
    by_name = {p["name"]: p for p in people}
    assert len(by_name) == len(people)
    departments = Counter(p["department"] for p in people)
    assert set(departments) == {"销售一部", "销售二部", "销售三部", "后勤部"}
    for dept in ("销售一部", "销售二部", "销售三部"):
        staff = [p for p in people if p["department"] == dept]
        assert sum(p["role"] == "manager" for p in staff) == 1
        assert 2 <= sum(p["role"] == "sales" for p in staff) <= 3

    owners = [p for p in people if p["role"] == "logistics" and p["active"]]
    assert len(owners) == 5
    active_names = {p["name"] for p in owners}
    for owner in owners:
        assert owner["backup"] in active_names - {owner["name"]}
        assert by_name[owner["manager"]]["role"] == "manager"
    assert sum(p["active"] is False for p in people) == 1
    assert all(str(p["email"]).endswith("@example.com") for p in people)
    assert {p["language"] for p in people if str(p["name"]).isascii()} == {"en"}


def test_every_sales_department_has_work(
    demo: Demo,
) -> None:
    for table in ("requests", "orders", "satisfaction", "costs", "sales"):
        departments = {r["department"] for r in demo[table]}
        assert departments == {"销售一部", "销售二部", "销售三部"}, table


def test_cost_ratio_per_month(demo: Demo) -> None:
    costs: Counter[str] = Counter()
    sales: Counter[str] = Counter()
    for row in demo["costs"]:
        costs[str(row["month"])] += _number(row["amount"])
    for row in demo["sales"]:
        sales[str(row["month"])] += _number(row["amount"])
    assert set(costs) == set(sales)
    assert len(sales) == 6
    for month in sales:
        assert 0.02 <= costs[month] / sales[month] <= 0.06, month
    assert {r["category"] for r in demo["costs"]} == {"仓储", "运输", "物料"}


def test_inventory_and_satisfaction(demo: Demo) -> None:
    stock = demo["inventory"]
    assert len({r["sku"] for r in stock}) == len(stock)
    assert 2 <= len({r["warehouse"] for r in stock}) <= 3
    below = [r for r in stock if _number(r["on_hand"]) < _number(r["safety_stock"])]
    assert 1 <= len(below) <= 6
    scores = [_number(r["score"]) for r in demo["satisfaction"]]
    typical = [s for s in scores if 85 <= s <= 98]
    assert len(typical) / len(scores) > 0.85


@pytest.mark.parametrize(
    "reference",
    [
        datetime(2025, 10, 12, 15, 0, tzinfo=ZoneInfo("Asia/Shanghai")),  # Sunday
        datetime(2025, 10, 3, 8, 0, tzinfo=ZoneInfo("UTC")),  # National Day
        datetime(2026, 3, 2, 9, 5, tzinfo=ZoneInfo("Asia/Shanghai")),
    ],
)
def test_other_references_keep_the_invariants(reference: datetime) -> None:
    demo = build_demo(reference)
    now = reference.astimezone(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)
    for rows in demo.values():
        for row in rows:
            for key, value in row.items():
                if isinstance(value, datetime) and key not in PLANNED:
                    assert value < now, (key, value)
    assert sum(len(demo[t]) for t in WORK_TABLES) == 350


def _moment(value: CellValue) -> datetime:
    assert isinstance(value, datetime), value
    return value


def _number(value: CellValue) -> int:
    assert isinstance(value, int) and not isinstance(value, bool), value
    return value
