"""The pure cycle: fills, due times, flags, check column, and a quiet second cycle."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from automation.configload import load_config
from automation.engine import run_cycle
from automation.flags import Flag
from automation.layout import load_layout
from automation.model import CellValue, Snapshot
from automation.state import ItemState, StatusChange
from tests.memory_backend import MemoryBackend

SHANGHAI = ZoneInfo("Asia/Shanghai")
LAYOUT = load_layout()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def grid(table: str, rows: list[dict[str, CellValue]]) -> list[list[CellValue]]:
    spec = LAYOUT.table(table)
    header: list[CellValue] = [f.zh for f in spec.fields]
    return [header, *[[row.get(f.key) for f in spec.fields] for row in rows]]


def request(**values: CellValue) -> dict[str, CellValue]:
    row: dict[str, CellValue] = {
        "id": "REQ-00001",
        "submitted_at": datetime(2025, 9, 26, 10, 0),
        "department": "销售一部",
        "requester": "赵敏",
        "type": "展会物料",
        "content": "展会样品10套",
        "owner": "张三",
        "status": "处理中",
    }
    row.update(values)
    return row


def cycle(rows: list[dict[str, CellValue]], now: datetime, items=None):  # type: ignore[no-untyped-def]
    backend = MemoryBackend({"需求提报": grid("requests", rows)})
    snapshot = backend.read()
    config, problems = load_config(snapshot, LAYOUT)
    assert problems == []
    return backend, config, run_cycle(snapshot, LAYOUT, config, items or {}, now)


def cells_of(backend: MemoryBackend, row: int = 2) -> dict[str, CellValue]:
    table = backend.grids["需求提报"]
    spec = LAYOUT.table("requests")
    return {f.key: v for f, v in zip(spec.fields, table.rows[row - 1], strict=False)}


def test_exhibition_request_due_after_national_day_make_up_sunday() -> None:
    backend, _, result = cycle([request()], at("2025-09-29T10:00"))
    backend.write(backend.read(), result.plan, LAYOUT, "zh")

    written = cells_of(backend)
    # Fri 09-26 + 3 working days: Sun 09-28 (make-up day), Mon 09-29, Tue 09-30.
    assert written["due_done"] == datetime(2025, 9, 30, 18, 0)
    assert written["due_response"] == datetime(2025, 9, 27, 10, 0)
    assert written["flag"] == "正常"
    assert written["stage"] == "完成"


@pytest.mark.parametrize(
    ("now", "flag"),
    [
        ("2025-09-29T09:00", Flag.ON_TRACK),
        ("2025-09-30T17:00", Flag.AT_RISK),
        ("2025-10-01T10:00", Flag.OVERDUE),
    ],
)
def test_flag_follows_the_share_of_time_left(now: str, flag: Flag) -> None:
    _, _, result = cycle([request()], at(now))
    assert result.evaluations["requests"][0].flag is flag


def test_done_request_is_judged_against_its_due_time() -> None:
    late = request(status="已完成", done_at=datetime(2025, 10, 9, 11, 0))
    _, _, result = cycle([late], at("2025-10-15T10:00"))
    assert result.evaluations["requests"][0].flag is Flag.DONE_LATE
    on_time = request(status="已完成", done_at=datetime(2025, 9, 30, 11, 0))
    _, _, result = cycle([on_time], at("2025-10-15T10:00"))
    assert result.evaluations["requests"][0].flag is Flag.DONE_ON_TIME


def test_blank_id_and_time_are_filled_and_typed_values_are_kept() -> None:
    rows = [request(), request(id=None, submitted_at=None, content="宣传册500本")]
    backend, _, result = cycle(rows, at("2025-10-15T10:07"))
    backend.write(backend.read(), result.plan, LAYOUT, "zh")

    assert cells_of(backend, 2)["id"] == "REQ-00001"
    filled = cells_of(backend, 3)
    assert filled["id"] == "REQ-00002"
    assert filled["submitted_at"] == datetime(2025, 10, 15, 10, 7)
    assert filled["content"] == "宣传册500本"


def test_done_status_fills_done_at_once() -> None:
    backend, _, result = cycle([request(status="已完成")], at("2025-09-29T10:00"))
    backend.write(backend.read(), result.plan, LAYOUT, "zh")
    assert cells_of(backend)["done_at"] == datetime(2025, 9, 29, 10, 0)


def test_second_cycle_at_the_same_time_writes_nothing() -> None:
    rows = [
        request(),
        request(id=None, submitted_at=None),
        request(id="REQ-00003", quantity="十", required_by="下周三"),
    ]
    backend, config, result = cycle(rows, at("2025-09-29T10:00"))
    assert result.plan
    backend.write(backend.read(), result.plan, LAYOUT, "zh")

    again = run_cycle(backend.read(), LAYOUT, config, {}, at("2025-09-29T10:00"))
    assert again.plan.edits == []
    assert again.plan.outputs == []


def test_bad_cells_show_in_the_check_column_and_the_problems_tab() -> None:
    bad = request(quantity="十", required_by="下周三", owner="路人甲")
    backend, _, result = cycle([bad], at("2025-09-29T10:00"))
    backend.write(backend.read(), result.plan, LAYOUT, "zh")

    check = str(cells_of(backend)["check"])
    assert "数量:填写的是“十”;应为数字,例如 12.5" in check
    assert "要求完成时间:填写的是“下周三”" in check
    assert "责任人:填写的是“路人甲”" in check
    problems = backend.grids["问题清单"].rows
    assert problems[0][:6] == ["表", "行", "编号", "列", "代码", "问题"]
    own = [row for row in problems[1:] if row[0] == "需求提报"]
    assert {row[3] for row in own} == {"数量", "要求完成时间", "责任人"}
    assert all(row[1] == 2 for row in own)


def test_required_by_earlier_than_the_lead_time_asks_for_an_expedite() -> None:
    rush = request(required_by=datetime(2025, 9, 29, 12, 0))
    _, _, result = cycle([rush], at("2025-09-26T11:00"))
    codes = [p.code for p in result.problems]
    assert "expedite-needed" in codes
    message = next(p for p in result.problems if p.code == "expedite-needed")
    assert message.text("zh") == (
        "要求完成时间“2025-09-29 12:00”早于标准时效(最早 2025-09-30 18:00);"
        "请与后勤确认加急"
    )


def test_waiting_for_customer_pauses_the_clock() -> None:
    since = at("2025-09-29T09:00")
    history = (
        StatusChange("处理中", "open", at("2025-09-26T10:00")),
        StatusChange("等待客户", "waiting_customer", since),
    )
    known = {
        ("requests", "REQ-00001"): ItemState(
            first_seen=at("2025-09-26T10:00"),
            status="等待客户",
            meaning="waiting_customer",
            status_since=since,
            flag="on_track",
            history=history,
        )
    }
    paused = request(status="等待客户")
    _, _, result = cycle([paused], at("2025-10-09T09:00"), known)
    evaluation = result.evaluations["requests"][0]
    # Paused since Monday 09:00 with 1.5 working days left: never overdue while paused.
    assert evaluation.flag is not Flag.OVERDUE
    assert evaluation.paused_hours["customer"] == pytest.approx(10 * 24)


def test_the_engine_refuses_a_naive_now() -> None:
    backend = MemoryBackend({"需求提报": grid("requests", [request()])})
    config, _ = load_config(backend.read(), LAYOUT)
    with pytest.raises(ValueError, match="time zone"):
        run_cycle(backend.read(), LAYOUT, config, {}, datetime(2025, 9, 29, 10))


def test_missing_tab_is_a_problem_not_a_crash() -> None:
    snapshot = Snapshot(grids={})
    config, _ = load_config(snapshot, LAYOUT)
    result = run_cycle(snapshot, LAYOUT, config, {}, at("2025-09-29T10:00"))
    assert {p.code for p in result.problems} == {"missing-tab"}
    assert result.rows_read == 0


def test_a_due_time_in_an_unannounced_holiday_year_is_marked_provisional() -> None:
    late_december = request(submitted_at=datetime(2026, 12, 30, 10, 0))
    backend, _, result = cycle([late_december], at("2026-12-30T11:00"))
    backend.write(backend.read(), result.plan, LAYOUT, "zh")

    # Thu 12-31, (New Year's Day off), Mon 01-04, Tue 01-05.
    assert cells_of(backend)["due_done"] == datetime(2027, 1, 5, 18, 0)
    assert cells_of(backend)["check"] == (
        "截止时间按 2027 年尚未公布的节假日安排推算,公布后可能调整"
    )
    # A notice in the row, not a problem in the Problems tab.
    assert all(p.code != "provisional-due" for p in result.problems)


def test_rows_sharing_an_id_are_written_by_row_number() -> None:
    rows = [request(), request(content="宣传册500本")]
    _, _, result = cycle(rows, at("2025-09-29T10:00"))
    edits = {edit.row: edit for edit in result.plan.edits}
    assert edits[2].item_id is None and edits[3].item_id is None
    assert "与第 2 行重复" in str(edits[3].cells["check"])


def test_a_fault_on_one_row_leaves_it_alone_and_judges_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import automation.judge

    real = automation.judge.evaluate

    def fragile(record, *args, **kwargs):  # type: ignore[no-untyped-def]
        if record.row == 2:
            raise ZeroDivisionError("a bug")
        return real(record, *args, **kwargs)

    monkeypatch.setattr(automation.judge, "evaluate", fragile)
    rows = [request(), request(id="REQ-00002")]
    backend, _, result = cycle(rows, at("2025-09-29T10:00"))
    backend.write(backend.read(), result.plan, LAYOUT, "zh")

    assert cells_of(backend, 2)["check"] == (
        "这一行未能计算时效(服务内部出错),已保持原样;请告知管理员"
    )
    assert cells_of(backend, 2)["flag"] is None
    assert cells_of(backend, 3)["flag"] == "正常"


def test_a_row_without_a_known_status_is_not_judged() -> None:
    backend, _, result = cycle([request(status="搞定了")], at("2025-10-15T10:00"))
    backend.write(backend.read(), result.plan, LAYOUT, "zh")

    assert result.evaluations["requests"][0].flag is None
    assert result.item_updates == []
    assert cells_of(backend)["flag"] is None
    assert str(cells_of(backend)["check"]).startswith("状态:填写的是“搞定了”")
