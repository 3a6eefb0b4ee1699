"""Rows of data tabs checked into records and the exact problems people read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automation.config import ChoiceList, Config, Meaning, Person
from automation.layout import Language, load_defaults, load_layout
from automation.model import BoundTable, CellValue, Grid, bind
from automation.validation import ValidatedTable, validate_table

LAYOUT = load_layout()
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 3, 20, 12, 0, tzinfo=SHANGHAI)


def _fold(text: str) -> str:
    return "".join(text.split()).casefold()


def _entries(text: str) -> list[tuple[str, str]]:
    pairs = []
    for part in text.split(","):
        value, _, alias = part.partition("|")
        pairs.append((value.strip(), alias.strip()))
    return pairs


def make_config(language: Language = "zh") -> Config:
    """A configuration built by hand from the default Settings and People rows."""
    defaults = load_defaults()
    setting = {
        str(row["key"]): str(row.get("value", "")) for row in defaults["settings"]
    }
    lists = {}
    for key in ("departments", "request_types", "priorities", "delivery_modes"):
        pairs = _entries(setting[key])
        lists[key] = ChoiceList(
            key,
            tuple(value for value, _ in pairs),
            {_fold(alias): value for value, alias in pairs if alias},
        )
    statuses: dict[str, Meaning] = {}
    status_aliases: dict[str, str] = {}
    for meaning in Meaning:
        ((label, alias),) = _entries(setting[f"status_{meaning.value}"])
        statuses[label] = meaning
        status_aliases[_fold(alias)] = label
    people = {
        str(row["name"]): Person(
            name=str(row["name"]),
            email=str(row["email"]),
            role=str(row["role"]),
            department=str(row["department"]),
        )
        for row in defaults["people"]
    }
    people["钱七"] = Person(
        "钱七", "qian.qi@example.com", "sales", "销售二部", active=False
    )
    return Config(
        language=language,
        people=people,
        lists=lists,
        statuses=statuses,
        status_aliases=status_aliases,
    )


REQUEST: dict[str, CellValue] = {
    "id": "REQ-0001",
    "submitted_at": "2025-03-15 09:00",
    "department": "销售一部",
    "requester": "赵敏",
    "type": "展会物料",
    "priority": "普通",
    "customer": "华东电气",
    "content": "展会样品 20 套",
    "quantity": 20,
    "required_by": "2025-03-18",
    "owner": "张三",
    "status": "处理中",
    "progress": "",
    "done_at": None,
}
ORDER: dict[str, CellValue] = {
    "id": "ORD-0001",
    "placed_at": "2025-03-15 09:00",
    "customer": "华东电气",
    "sales_rep": "赵敏",
    "department": "销售一部",
    "urgent": "否",
    "delivery_mode": "标准",
    "quantity": 10,
    "amount": "¥12,000",
    "owner": "张三",
    "audited_at": "2025-03-15 09:30",
    "picked_at": "2025-03-15 10:00",
    "handed_over_at": "2025-03-15 11:00",
    "shipped_at": "2025-03-15 15:00",
    "promised_by": "2025-03-17",
    "delivered_at": "2025-03-17 10:00",
    "damaged_qty": 0,
    "carrier": "顺丰",
    "tracking_no": "SF123",
    "status": "已完成",
}
SATISFACTION: dict[str, CellValue] = {
    "month": "2025-03",
    "customer": "华东电气",
    "department": "销售一部",
    "score": 95,
    "comment": "",
}
VALID = {"requests": REQUEST, "orders": ORDER, "satisfaction": SATISFACTION}


def make_table(
    table: str,
    rows: Sequence[Mapping[str, CellValue]],
    language: Language = "zh",
    drop: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
) -> BoundTable:
    """A bound tab with every field's column but `drop`, and `extra` headers."""
    spec = LAYOUT.table(table)
    keys = [f.key for f in spec.fields if f.key not in drop]
    header: list[CellValue] = [spec.field(k).label(language) for k in keys]
    header.extend(extra)
    body = [[row.get(k) for k in keys] + [None] * len(extra) for row in rows]
    return bind(spec, Grid(spec.title(language), [header, *body]))


def validate(
    table: str,
    rows: Sequence[Mapping[str, CellValue]],
    language: Language = "zh",
    **kwargs: tuple[str, ...],
) -> ValidatedTable:
    bound = make_table(table, rows, language, **kwargs)
    return validate_table(bound, make_config(language), NOW)


def messages(result: ValidatedTable, language: Language) -> list[str]:
    return [p.message(language, LAYOUT) for p in result.problems]


# --- good rows -----------------------------------------------------------------------


def test_valid_request_becomes_typed_record() -> None:
    result = validate("requests", [REQUEST])

    assert result.problems == []
    (record,) = result.records
    assert record.table == "requests"
    assert record.row == 2
    assert record.item_id == "REQ-0001"
    assert record.fingerprint == result.table.fingerprint(result.table.grid.rows[1])
    assert record.meaning is Meaning.OPEN
    assert record.invalid == frozenset()
    assert record.values["submitted_at"] == datetime(2025, 3, 15, 9, tzinfo=SHANGHAI)
    # "_by" fields mean the end of a day typed without a time.
    assert record.values["required_by"] == datetime(
        2025, 3, 18, 23, 59, tzinfo=SHANGHAI
    )
    assert record.values["quantity"] == 20.0
    assert record.values["status"] == "处理中"
    assert record.values["done_at"] is None
    assert "due" not in record.values  # owned columns are the service's


def test_valid_order_and_other_spellings() -> None:
    order = dict(
        ORDER,
        id=7.0,
        department=" Sales 1 ",
        sales_rep="赵 敏",
        urgent="✓",
        delivery_mode="next day",
        quantity="１０",
        status="Done",
        promised_by=date(2025, 3, 17),
        delivered_at=datetime(2025, 3, 17, 2, 0, tzinfo=UTC),
    )
    result = validate("orders", [order], "en")

    assert result.problems == []
    (record,) = result.records
    assert record.item_id == "7"
    assert record.meaning is Meaning.DONE
    assert record.values["department"] == "销售一部"
    assert record.values["sales_rep"] == "赵敏"
    assert record.values["urgent"] is True
    assert record.values["delivery_mode"] == "次日达"
    assert record.values["quantity"] == 10
    assert record.values["amount"] == 12000.0
    assert record.values["status"] == "已完成"
    assert record.values["promised_by"] == datetime(
        2025, 3, 17, 23, 59, tzinfo=SHANGHAI
    )
    assert record.values["delivered_at"] == datetime(2025, 3, 17, 10, tzinfo=SHANGHAI)


def test_blank_rows_are_skipped_and_ids_keep_leading_zeros() -> None:
    rows = [dict(REQUEST, id="007"), {}, dict(REQUEST, id=None, submitted_at=None)]
    result = validate("requests", rows)

    assert [r.row for r in result.records] == [2, 4]
    assert result.records[0].item_id == "007"
    # The service fills a blank id and submission time: not a problem.
    assert result.records[1].item_id is None
    assert result.problems == []


# --- the exact message of each bad cell ----------------------------------------------

BAD_CELLS = [
    (
        "requests",
        "required_by",
        "下周一",
        "zh",
        "“需求提报”第 2 行“要求完成时间”列:填写的是“下周一”;"
        "应为日期和时间,例如 2025-03-15 14:00",
    ),
    (
        "requests",
        "required_by",
        "next monday",
        "en",
        "Requests, row 2, column “Required by”: found “next monday”; "
        "expected a date and time, for example 2025-03-15 14:00",
    ),
    (
        "requests",
        "quantity",
        "二十",
        "zh",
        "“需求提报”第 2 行“数量”列:填写的是“二十”;应为数字,例如 12.5",
    ),
    (
        "orders",
        "quantity",
        2.5,
        "en",
        "Orders, row 2, column “Quantity”: found “2.5”; "
        "expected a whole number, for example 12",
    ),
    (
        "orders",
        "quantity",
        -3,
        "zh",
        "“订单”第 2 行“数量”列:填写的是“-3”;不能为负数,例如 3",
    ),
    (
        "orders",
        "amount",
        "-1,200",
        "en",
        "Orders, row 2, column “Amount”: found “-1200”; it cannot be negative, "
        "for example 1200",
    ),
    (
        "orders",
        "urgent",
        "maybe",
        "en",
        "Orders, row 2, column “Urgent”: found “maybe”; expected yes or no",
    ),
    (
        "orders",
        "urgent",
        "也许",
        "zh",
        "“订单”第 2 行“加急”列:填写的是“也许”;应为“是”或“否”",
    ),
    (
        "requests",
        "department",
        "市场部",
        "zh",
        "“需求提报”第 2 行“需求部门”列:填写的是“市场部”;"
        "应为以下之一:销售一部、销售二部、销售三部、后勤部",
    ),
    (
        "requests",
        "department",
        "Marketing",
        "en",
        "Requests, row 2, column “Department”: found “Marketing”; "
        "expected one of: 销售一部, 销售二部, 销售三部, 后勤部",
    ),
    (
        "requests",
        "requester",
        "钱七",
        "zh",
        "“需求提报”第 2 行“提报人”列:填写的是“钱七”;"
        "此人不在“人员”表中或已停用,请填写在职人员姓名,例如 王芳",
    ),
    (
        "requests",
        "owner",
        "Nobody",
        "en",
        "Requests, row 2, column “Owner”: found “Nobody”; this person is not active "
        "in the People tab, use an active person's name, for example 王芳",
    ),
    (
        "requests",
        "status",
        "搞定了",
        "zh",
        "“需求提报”第 2 行“状态”列:填写的是“搞定了”;"
        "应为以下之一:新提报、处理中、等待客户、等待销售、已完成、已取消",
    ),
    (
        "orders",
        "status",
        "Finished",
        "en",
        "Orders, row 2, column “Status”: found “Finished”; expected one of: "
        "新提报, 处理中, 等待客户, 等待销售, 已完成, 已取消",
    ),
    (
        "requests",
        "content",
        None,
        "zh",
        "“需求提报”第 2 行“需求内容”列:未填写;此列必须填写",
    ),
    (
        "requests",
        "content",
        "   ",
        "en",
        "Requests, row 2, column “Content”: is empty; this column must be filled in",
    ),
    (
        "requests",
        "requester",
        None,
        "en",
        "Requests, row 2, column “Requester”: is empty; "
        "expected an active person's name, for example 王芳",
    ),
    (
        "orders",
        "quantity",
        None,
        "zh",
        "“订单”第 2 行“数量”列:未填写;应为整数,例如 12",
    ),
    (
        "requests",
        "type",
        "",
        "en",
        "Requests, row 2, column “Type”: is empty; expected one of: "
        "展会物料, 演示设备, 合同追加, 现场紧急缺货, 其他, for example 展会物料",
    ),
    (
        "requests",
        "status",
        None,
        "zh",
        "“需求提报”第 2 行“状态”列:未填写;"
        "应为以下之一:新提报、处理中、等待客户、等待销售、已完成、已取消,例如 新提报",
    ),
    (
        "satisfaction",
        "score",
        120,
        "zh",
        "“满意度”第 2 行“评分”列:填写的是“120”;应在 0 到 100 之间,例如 50",
    ),
    (
        "satisfaction",
        "score",
        "-5",
        "en",
        "Satisfaction, row 2, column “Score”: found “-5”; "
        "expected a value from 0 to 100, for example 50",
    ),
    (
        "satisfaction",
        "month",
        "三月",
        "en",
        "Satisfaction, row 2, column “Month”: found “三月”; "
        "expected a month, for example 2025-03",
    ),
    (
        "satisfaction",
        "month",
        None,
        "zh",
        "“满意度”第 2 行“月份”列:未填写;应为月份,例如 2025-03",
    ),
    (
        "orders",
        "amount",
        "about twelve thousand yuan, to be confirmed later",
        "en",
        "Orders, row 2, column “Amount”: found “about twelve thousand yuan, to be "
        "confi…”; expected a number, for example 12.5",
    ),
    (
        "orders",
        "placed_at",
        time(9, 30),
        "zh",
        "“订单”第 2 行“下单时间”列:填写的是“09:30”;"
        "应为日期和时间,例如 2025-03-15 14:00",
    ),
]


@pytest.mark.parametrize(("table", "key", "cell", "language", "message"), BAD_CELLS)
def test_bad_cell_message(
    table: str, key: str, cell: CellValue, language: Language, message: str
) -> None:
    result = validate(table, [dict(VALID[table], **{key: cell})], language)

    assert messages(result, language) == [message]
    (problem,) = result.problems
    assert (problem.table, problem.row, problem.field) == (table, 2, key)
    assert problem.severity == "error"
    (record,) = result.records
    assert record.invalid == frozenset({key})
    assert record.values[key] is None
    assert problem.item_id == record.item_id


# --- rules across cells and rows -----------------------------------------------------


def test_duplicate_ids() -> None:
    rows = [dict(REQUEST, id="REQ-1"), dict(REQUEST, id="REQ-2")]
    rows += [dict(REQUEST, id=" REQ-1 "), dict(REQUEST, id="REQ-1")]
    result = validate("requests", rows, "en")

    assert messages(result, "en") == [
        "Requests, row 4, column “Request ID”: ID “REQ-1” is also used in row 2; "
        "IDs must be unique, change one of them",
        "Requests, row 5, column “Request ID”: ID “REQ-1” is also used in row 2; "
        "IDs must be unique, change one of them",
    ]
    assert [r.item_id for r in result.records] == ["REQ-1", "REQ-2", None, None]
    assert result.problems[0].params == {"found": "REQ-1", "other_row": "2"}


def test_order_stage_before_placement() -> None:
    order = dict(ORDER, audited_at="2025-03-15 08:00")
    result = validate("orders", [order])

    assert messages(result, "zh") == [
        "“订单”第 2 行“审核时间”列:填写的是“2025-03-15 08:00”,"
        "早于“下单时间”(2025-03-15 09:00);时间顺序不对,请核对"
    ]
    (problem,) = result.problems
    assert problem.severity == "warning"
    # The times may be right and the other cell wrong: the value is kept.
    (record,) = result.records
    assert record.values["audited_at"] == datetime(2025, 3, 15, 8, tzinfo=SHANGHAI)
    assert record.invalid == frozenset()


def test_order_stages_out_of_order_report_the_later_field() -> None:
    order = dict(ORDER, picked_at="2025-03-15 11:30", handed_over_at="2025-03-15 11:00")
    result = validate("orders", [order], "en")

    assert messages(result, "en") == [
        "Orders, row 2, column “Handed over at”: found “2025-03-15 11:00”, earlier "
        "than “Picked at” (2025-03-15 11:30); the times are out of order, please check"
    ]


def test_order_stages_skip_blank_ones() -> None:
    order = dict(
        ORDER, picked_at=None, handed_over_at=None, audited_at="2025-03-15 16:00"
    )
    result = validate("orders", [order])

    assert [(p.code, p.field) for p in result.problems] == [
        ("time-order", "shipped_at")
    ]
    assert result.problems[0].params["before_label"] == "审核时间"


def test_request_done_before_submission() -> None:
    result = validate("requests", [dict(REQUEST, done_at="2025-03-14 18:00")], "en")

    assert messages(result, "en") == [
        "Requests, row 2, column “Done at”: found “2025-03-14 18:00”, earlier than "
        "“Submitted at” (2025-03-15 09:00); the times are out of order, please check"
    ]


def test_time_in_the_future() -> None:
    soon = NOW + timedelta(minutes=9)
    later = NOW + timedelta(hours=2)
    rows = [
        dict(REQUEST, id="R1", done_at=soon.replace(tzinfo=None)),
        dict(REQUEST, id="R2", done_at=later.replace(tzinfo=None)),
        # Deadlines may well be in the future.
        dict(REQUEST, id="R3", required_by="2026-01-01"),
    ]
    result = validate("requests", rows, "en")

    assert messages(result, "en") == [
        "Requests, row 3, column “Done at”: found “2025-03-20 14:00”, which is in the "
        "future; a time that has happened cannot be later than now, please check"
    ]
    assert result.problems[0].severity == "warning"


def test_future_is_judged_in_the_configured_zone() -> None:
    bound = make_table("requests", [dict(REQUEST, done_at="2025-03-20 12:05")])
    now_utc = NOW.astimezone(UTC)

    assert validate_table(bound, make_config(), now_utc).problems == []


def test_missing_and_unknown_columns() -> None:
    result = validate("orders", [ORDER], drop=("customer", "carrier"), extra=("备注",))

    assert messages(result, "zh") == [
        "“订单”:缺少“客户”列;运行 automation init 可补上表头",
        "“订单”:表头“备注”无法识别,此列已忽略",
    ]
    assert [p.severity for p in result.problems] == ["error", "warning"]
    assert [p.row for p in result.problems] == [None, None]
    (record,) = result.records
    assert record.values["customer"] is None
    assert record.invalid == frozenset()


def test_missing_column_in_english() -> None:
    result = validate("requests", [REQUEST], "en", drop=("status",))

    assert messages(result, "en") == [
        "Requests: the column “Status” is missing; `automation init` adds the header"
    ]
    assert result.records[0].meaning is None


GARBAGE_REQUEST: dict[str, CellValue] = {
    key: "???" for key in REQUEST if key not in ("customer", "progress")
}


def test_garbage_in_every_cell_gives_one_problem_per_bad_cell() -> None:
    result = validate("requests", [GARBAGE_REQUEST])

    typed = {
        f.key
        for f in LAYOUT.table("requests").fields
        if not f.owned and f.type not in ("text", "id")
    }
    assert sorted(p.field or "" for p in result.problems) == sorted(typed)
    (record,) = result.records
    assert record.invalid == typed
    assert record.item_id == "???"
    assert record.values["content"] == "???"
    assert record.meaning is None


def test_lists_missing_from_the_configuration_accept_any_text() -> None:
    bound = make_table("requests", [dict(REQUEST, department="市场部", owner="谁")])
    config = Config(statuses={"处理中": Meaning.OPEN})

    result = validate_table(bound, config, NOW)

    assert result.problems == []
    assert result.records[0].values["department"] == "市场部"
    assert result.records[0].values["owner"] == "谁"


def test_now_must_be_aware() -> None:
    bound = make_table("requests", [REQUEST])

    with pytest.raises(ValueError, match="naive"):
        validate_table(bound, make_config(), datetime(2025, 3, 20, 12))


def test_only_data_tabs() -> None:
    spec = LAYOUT.table("people")
    bound = bind(spec, Grid("人员", [["姓名"]]))

    with pytest.raises(ValueError, match="not a data tab"):
        validate_table(bound, make_config(), NOW)


# --- anything at all in every cell ---------------------------------------------------

ZONES = st.sampled_from([UTC, SHANGHAI, ZoneInfo("America/New_York")])
CELLS: st.SearchStrategy[CellValue] = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.sampled_from(
        ["2025-03-15 14:00", "2025年3月15日", "是", "张三", "销售一部", "-1"]
    ),
    st.integers(),
    st.floats(),
    st.floats(min_value=19_000, max_value=81_000),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=ZONES),
    st.times(),
)


def _rows(table: str) -> st.SearchStrategy[list[list[CellValue]]]:
    width = len(LAYOUT.table(table).fields)
    row = st.lists(CELLS, min_size=width, max_size=width)
    return st.lists(row, min_size=1, max_size=4)


@pytest.mark.parametrize("table", ["requests", "orders"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_anything_in_any_cell_never_raises(table: str, data: st.DataObject) -> None:
    spec = LAYOUT.table(table)
    rows = data.draw(_rows(table))
    bound = bind(spec, Grid(spec.zh, [[f.zh for f in spec.fields], *rows]))

    result = validate_table(bound, make_config(), NOW)

    filled = {number for number, _ in bound.data_rows()}
    assert {r.row for r in result.records} == filled
    for problem in result.problems:
        assert problem.row in filled
        assert problem.field is not None
        assert not spec.field(problem.field).owned
        assert problem.message("zh", LAYOUT)
        assert problem.message("en", LAYOUT)
    for record in result.records:
        with_problem = {p.field for p in result.problems if p.row == record.row}
        assert record.invalid <= with_problem
        for key, value in record.values.items():
            assert (value is None) or key not in record.invalid
            if isinstance(value, datetime):
                assert value.tzinfo is SHANGHAI
