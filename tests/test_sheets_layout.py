"""`init` on a Google spreadsheet: the layout plan, applied through the fake API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import pytest

from automation.backends.sheets_api import Json, SheetsCalls
from automation.backends.sheets_layout import (
    LayoutPlan,
    apply_layout,
    plan_layout,
)
from automation.backends.sheets_values import quote_title
from automation.layout import Language, Layout, load_defaults, load_layout
from automation.model import Grid, Snapshot
from tests.fake_sheets import FakeSheetsAPI
from tests.sheets_fixtures import UNLIMITED, no_sleep

Defaults = dict[str, list[dict[str, object]]]

LISTS: dict[str, list[str]] = {
    "statuses": ["新提报", "处理中", "已完成"],
    "people": ["张三", "李四"],
    "departments": ["销售一部", "后勤部"],
    "delivery_modes": ["标准", "次日达"],
}
# What init may send: nothing that deletes, moves or rewrites what is there.
ADDING = {
    "addSheet",
    "appendDimension",
    "updateSheetProperties",
    "addConditionalFormatRule",
    "addProtectedRange",
    "setDataValidation",
    "repeatCell",
    "createDeveloperMetadata",
    "updateDeveloperMetadata",
}


class Calls(SheetsCalls):
    """The backend's own calls, without quota or sleeps, plus a read of every tab."""

    def __init__(self, api: FakeSheetsAPI, key: str) -> None:
        super().__init__(api.client(), key, quota=UNLIMITED, sleep=no_sleep)

    def snapshot(self, metadata: Json) -> Snapshot:
        titles = [sheet["properties"]["title"] for sheet in metadata["sheets"]]
        answers = self.batch_get([quote_title(title) for title in titles])
        grids = {}
        for title, values in zip(titles, answers, strict=True):
            rows = [[None if value == "" else value for value in row] for row in values]
            grids[title] = Grid(title, rows)
        return Snapshot(grids)


@pytest.fixture(scope="module")
def layout() -> Layout:
    return load_layout()


def plan(
    api: FakeSheetsAPI,
    key: str,
    layout: Layout,
    defaults: Defaults | None = None,
    language: Language = "zh",
    lists: Mapping[str, Sequence[str]] = LISTS,
) -> LayoutPlan:
    calls = Calls(api, key)
    metadata = calls.metadata()
    found = plan_layout(
        metadata, calls.snapshot(metadata), layout, defaults or {}, language, lists
    )
    assert found.report.changed == bool(found.structure or found.values)
    assert {kind for request in found.structure for kind in request} <= ADDING
    return found


def init(
    api: FakeSheetsAPI,
    key: str,
    layout: Layout,
    defaults: Defaults | None = None,
    language: Language = "zh",
    lists: Mapping[str, Sequence[str]] = LISTS,
) -> LayoutPlan:
    found = plan(api, key, layout, defaults, language, lists)
    apply_layout(Calls(api, key), found)
    return found


def kinds(found: LayoutPlan) -> list[str]:
    return [kind for request in found.structure for kind in request]


def body(sheet_id: int, first: int, last: int, rows: int = 1000) -> Json:
    return {
        "sheetId": sheet_id,
        "startRowIndex": 1,
        "endRowIndex": rows,
        "startColumnIndex": first,
        "endColumnIndex": last,
    }


def one_of(values: list[str]) -> Json:
    return {
        "condition": {
            "type": "ONE_OF_LIST",
            "values": [{"userEnteredValue": value} for value in values],
        },
        "inputMessage": "请从下拉列表中选择一个值。",
        "strict": False,
        "showCustomUi": True,
    }


@pytest.fixture
def api() -> FakeSheetsAPI:
    return FakeSheetsAPI()


@pytest.fixture
def blank(api: FakeSheetsAPI) -> str:
    return api.create_spreadsheet("协同表", sheets={"Sheet1": [["keep me"]]})


# An empty spreadsheet


def test_empty_spreadsheet_gets_every_tab_and_its_header(
    api: FakeSheetsAPI, blank: str, layout: Layout
) -> None:
    defaults = load_defaults()

    found = init(api, blank, layout, defaults)

    book = api.book(blank)
    assert [s.title for s in book.sheets] == ["Sheet1", *(t.zh for t in layout.tables)]
    assert api.values(blank, "Sheet1") == [["keep me"]]
    for spec in layout.tables:
        sheet = api.sheet(blank, spec.zh)
        assert api.values(blank, spec.zh)[0] == [f.zh for f in spec.fields]
        assert sheet.frozen_rows == 1
        assert sheet.column_count >= len(spec.fields)
    configs = [t.key for t in layout.of_kind("config")]
    assert found.report.tabs_created == tuple(t.key for t in layout.tables)
    assert found.report.columns_added == sum(len(t.fields) for t in layout.tables)
    assert found.report.rows_added == sum(len(defaults[key]) for key in configs)


def test_empty_config_tabs_get_their_default_rows_as_plain_values(
    api: FakeSheetsAPI, blank: str, layout: Layout
) -> None:
    defaults = load_defaults()

    init(api, blank, layout, defaults)

    settings = api.values(blank, "设置")
    assert settings[1] == ["language", "zh", "提示与邮件语言:zh 或 en"]
    assert len(settings) == len(defaults["settings"]) + 1
    people = api.values(blank, "人员")
    assert people[2] == [
        "张三",
        "zhang.san@example.com",
        "logistics",
        "后勤部",
        "王芳",
        "李四",
        True,
        "zh",
    ]
    assert people[1][4:6] == [None, None]  # no manager, no backup: left blank
    sla = api.values(blank, "时效规则")
    assert sla[1][:7] == [
        "REQ-EXPO",
        "requests",
        "done",
        "type",
        "展会物料",
        3.0,
        "working_days",
    ]
    assert api.values(blank, "订单") == [[f.zh for f in layout.table("orders").fields]]


def test_empty_spreadsheet_gets_drop_downs_on_choice_columns(
    api: FakeSheetsAPI, blank: str, layout: Layout
) -> None:
    init(api, blank, layout)

    orders = api.sheet(blank, "订单")
    rules = {
        (v["range"]["startColumnIndex"], v["range"]["endColumnIndex"]): v
        for v in orders.validations
    }
    assert set(rules) == {(3, 4), (4, 5), (6, 7), (9, 10), (19, 20)}
    assert rules[(19, 20)] == {
        "range": body(orders.sheet_id, 19, 20),
        "rule": one_of(LISTS["statuses"]),
    }
    assert rules[(3, 4)]["rule"] == one_of(LISTS["people"])  # sales rep
    assert rules[(6, 7)]["rule"] == one_of(LISTS["delivery_modes"])
    returns = api.sheet(blank, "售后")  # its kind list is not in LISTS: no drop-down
    assert [v["range"]["startColumnIndex"] for v in returns.validations] == [6, 7, 11]


def test_empty_spreadsheet_gets_flag_colours_and_protections(
    api: FakeSheetsAPI, blank: str, layout: Layout
) -> None:
    init(api, blank, layout)

    orders = api.sheet(blank, "订单")
    formulas = {
        rule["booleanRule"]["condition"]["values"][0]["userEnteredValue"]: rule
        for rule in orders.conditional_formats
    }
    overdue = formulas['=OR($AB2="已逾期",$AB2="Overdue")']
    assert overdue["ranges"] == [
        {
            "sheetId": orders.sheet_id,
            "startRowIndex": 1,
            "startColumnIndex": 27,
            "endColumnIndex": 28,
        }
    ]
    fill = overdue["booleanRule"]["format"]["backgroundColor"]
    assert (round(fill["red"] * 255), round(fill["green"] * 255)) == (0xFF, 0xC7)
    assert set(formulas) == {
        '=OR($AB2="已逾期",$AB2="Overdue")',
        '=OR($AB2="有风险",$AB2="At risk")',
    }
    (protected,) = orders.protected_ranges
    assert protected["range"] == {
        "sheetId": orders.sheet_id,
        "startRowIndex": 0,
        "startColumnIndex": 20,  # due_audited .. check
        "endColumnIndex": 29,
    }
    assert protected["warningOnly"] is True
    assert "自动化服务" in protected["description"]
    inventory = api.sheet(blank, "库存")
    assert [p["range"]["startColumnIndex"] for p in inventory.protected_ranges] == [7]
    assert api.sheet(blank, "设置").protected_ranges == []
    assert api.sheet(blank, "问题清单").protected_ranges == []


def test_empty_spreadsheet_gets_date_formats_on_date_columns(
    api: FakeSheetsAPI, blank: str, layout: Layout
) -> None:
    init(api, blank, layout)

    def formats(title: str) -> list[tuple[int, int, str, str]]:
        return [
            (
                f["range"]["startColumnIndex"],
                f["range"]["endColumnIndex"],
                f["numberFormat"]["type"],
                f["numberFormat"]["pattern"],
            )
            for f in api.sheet(blank, title).number_formats
        ]

    stamp = ("DATE_TIME", "yyyy-mm-dd hh:mm")
    # placed at; audited at .. delivered at; audit due .. due
    assert formats("订单") == [(1, 2, *stamp), (10, 16, *stamp), (20, 26, *stamp)]
    assert formats("时效规则") == [(8, 9, "DATE", "yyyy-mm-dd")]
    assert formats("问题清单") == [(6, 7, *stamp)]
    assert formats("库存") == []
    orders = api.sheet(blank, "订单")
    assert orders.number_formats[0]["range"] == body(orders.sheet_id, 1, 2)


def test_init_records_what_it_set_in_developer_metadata(
    api: FakeSheetsAPI, blank: str, layout: Layout
) -> None:
    init(api, blank, layout)

    orders = api.sheet(blank, "订单")
    recorded = {entry["metadataKey"]: entry for entry in orders.developer_metadata}
    assert set(recorded) == {
        "automation.layout.drop_downs",
        "automation.layout.formats",
    }
    for entry in recorded.values():
        assert entry["visibility"] == "DOCUMENT"
        assert entry["location"]["sheetId"] == orders.sheet_id
        assert len(entry["metadataValue"]) == 16
    assert api.sheet(blank, "库存").developer_metadata == []  # nothing to record


def recorded(api: FakeSheetsAPI, key: str, title: str, what: str) -> Json:
    """The developer metadata entry `init` keeps on a tab for `what` it set."""
    for entry in api.sheet(key, title).developer_metadata:
        if entry["metadataKey"] == f"automation.layout.{what}":
            return entry
    raise AssertionError(f"{title} has no record of {what}")


def test_second_init_plans_nothing_and_sends_no_request(
    api: FakeSheetsAPI, blank: str, layout: Layout
) -> None:
    defaults = load_defaults()
    init(api, blank, layout, defaults)
    api.reset_counts()

    again = init(api, blank, layout, defaults)

    assert (again.structure, again.values) == ([], [])
    assert not again.report.changed
    assert api.count("batchUpdate") == 0
    assert api.count("values:batchUpdate") == 0


def test_english_init_names_tabs_and_headers_in_english(
    api: FakeSheetsAPI, blank: str, layout: Layout
) -> None:
    init(api, blank, layout, language="en")

    assert api.values(blank, "Orders")[0] == [
        f.en for f in layout.table("orders").fields
    ]
    assert not plan(api, blank, layout, language="en").report.changed


# A spreadsheet people already use


def test_people_data_stays_and_missing_columns_are_appended(
    api: FakeSheetsAPI, layout: Layout
) -> None:
    fields = [f.en for f in layout.table("orders").fields if f.key != "check"]
    shuffled = [*reversed(fields), "My notes"]  # moved columns, English labels
    rows = [shuffled, [f"v{n}" for n in range(len(shuffled))], ["O-2", "", "x"]]
    key = api.create_spreadsheet(
        "协同表", sheets={"Orders": rows}, rows=50, cols=len(shuffled)
    )
    before = api.values(key, "Orders")

    found = init(api, key, layout)

    after = api.values(key, "Orders")
    assert after[0] == [*shuffled, "检查结果"]
    assert after[1:] == before[1:]
    assert "orders" not in found.report.tabs_created
    orders = api.sheet(key, "Orders")
    assert (orders.column_count, orders.row_count) == (len(shuffled) + 1, 50)
    listed = ("Sales rep", "Department", "Delivery mode", "Owner", "Status")
    assert {v["range"]["startColumnIndex"] for v in orders.validations} == {
        shuffled.index(label) for label in listed
    }
    flag = shuffled.index("Flag")
    assert {r["ranges"][0]["startColumnIndex"] for r in orders.conditional_formats} == {
        flag
    }
    # owned columns now sit first (reversed), and "check" came last
    assert [
        (p["range"]["startColumnIndex"], p["range"]["endColumnIndex"])
        for p in orders.protected_ranges
    ] == [(0, 8), (len(shuffled), len(shuffled) + 1)]
    assert not plan(api, key, layout).report.changed


def test_a_config_tab_in_use_gets_no_defaults_and_keeps_a_blank_header_cell(
    api: FakeSheetsAPI, layout: Layout
) -> None:
    spec = layout.table("settings")
    key = api.create_spreadsheet(
        "协同表", sheets={"设置": [["键", "", "值"], ["language", "", "en"]]}
    )

    found = init(api, key, layout, load_defaults())

    assert api.values(key, "设置") == [
        ["键", None, "值", "说明"],
        ["language", None, "en"],
    ]
    assert found.report.rows_added == sum(
        len(rows) for name, rows in load_defaults().items() if name != spec.key
    )


def test_a_narrow_short_grid_grows_to_fit(api: FakeSheetsAPI, layout: Layout) -> None:
    orders = [f.zh for f in layout.table("orders").fields]
    key = api.create_spreadsheet(
        "协同表", sheets={"订单": [orders[:5]], "设置": []}, rows=10, cols=5
    )
    defaults = load_defaults()

    found = init(api, key, layout, defaults)

    grown = api.sheet(key, "订单")
    assert (grown.column_count, grown.row_count) == (len(orders), 10)
    assert api.values(key, "订单") == [orders]
    settings = api.sheet(key, "设置")
    assert settings.row_count == len(defaults["settings"]) + 1
    assert len(api.values(key, "设置")) == len(defaults["settings"]) + 1
    appended = [r["appendDimension"] for r in found.structure if "appendDimension" in r]
    assert appended == [
        {"sheetId": grown.sheet_id, "dimension": "COLUMNS", "length": 24},
        {
            "sheetId": settings.sheet_id,
            "dimension": "ROWS",
            "length": len(defaults["settings"]) + 1 - 10,
        },
    ]
    assert grown.validations[0]["range"]["endRowIndex"] == 10
    assert not plan(api, key, layout, defaults).report.changed


def test_a_frozen_header_and_protections_people_set_are_respected(
    api: FakeSheetsAPI, layout: Layout
) -> None:
    inventory = [f.zh for f in layout.table("inventory").fields]
    key = api.create_spreadsheet("协同表", sheets={"库存": [inventory]})
    sheet = api.sheet(key, "库存")
    sheet.frozen_rows = 2
    sheet.protected_ranges.append(
        {"protectedRangeId": 5, "range": {"sheetId": sheet.sheet_id}}
    )

    found = init(api, key, layout)

    assert [r for r in found.structure if sheet.sheet_id in _sheet_ids(r)] == []
    assert api.sheet(key, "库存").frozen_rows == 2


def _sheet_ids(request: object) -> set[int]:
    """Every sheetId a request names, however deep."""
    if isinstance(request, dict):
        found = {request["sheetId"]} if "sheetId" in request else set()
        return found.union(*(_sheet_ids(value) for value in request.values()))
    if isinstance(request, list):
        return set().union(*(_sheet_ids(item) for item in request))
    return set()


# Drop-downs and formats Google does not show


def test_changed_lists_redo_drop_downs_once(
    api: FakeSheetsAPI, blank: str, layout: Layout
) -> None:
    init(api, blank, layout)
    before = recorded(api, blank, "订单", "drop_downs")["metadataValue"]
    changed = {**LISTS, "statuses": [*LISTS["statuses"], "已取消"]}

    found = init(api, blank, layout, lists=changed)

    updated = {
        r["updateDeveloperMetadata"]["dataFilters"][0]["developerMetadataLookup"][
            "metadataId"
        ]
        for r in found.structure
        if "updateDeveloperMetadata" in r
    }
    with_status = ("需求提报", "订单", "售后")
    assert updated == {
        recorded(api, blank, title, "drop_downs")["metadataId"] for title in with_status
    }
    assert set(kinds(found)) == {"setDataValidation", "updateDeveloperMetadata"}
    assert found.values == []
    orders = api.sheet(blank, "订单")
    status = [v for v in orders.validations if v["range"]["startColumnIndex"] == 19]
    assert status == [
        {"range": body(orders.sheet_id, 19, 20), "rule": one_of(changed["statuses"])}
    ]
    assert len(orders.validations) == 5
    assert recorded(api, blank, "订单", "drop_downs")["metadataValue"] != before
    api.reset_counts()
    assert init(api, blank, layout, lists=changed).structure == []
    assert api.count("batchUpdate") == 0


def test_init_without_lists_leaves_the_drop_downs_alone(
    api: FakeSheetsAPI, blank: str, layout: Layout
) -> None:
    # `automation init` lays out with no lists, then again with the lists it read.
    init(api, blank, layout, lists={})
    init(api, blank, layout)
    api.reset_counts()

    for lists in ({}, LISTS):
        assert not init(api, blank, layout, lists=lists).report.changed

    assert api.count("batchUpdate") == 0
    assert len(api.sheet(blank, "订单").validations) == 5


def test_a_grid_grown_since_gets_its_drop_downs_and_formats_again(
    api: FakeSheetsAPI, blank: str, layout: Layout
) -> None:
    init(api, blank, layout)
    orders = api.sheet(blank, "订单")
    orders.row_count = 1500

    found = init(api, blank, layout)

    assert set(kinds(found)) == {
        "setDataValidation",
        "repeatCell",
        "updateDeveloperMetadata",
    }
    ends = {
        request[kind]["range"]["endRowIndex"]
        for request in found.structure
        for kind in ("setDataValidation", "repeatCell")
        if kind in request
    }
    assert ends == {1500}
    assert found.report.formats_added == 5 + 3


# The plan alone


def test_new_sheet_ids_are_unused_and_named_by_later_requests(layout: Layout) -> None:
    metadata = {
        "properties": {"timeZone": "Asia/Shanghai"},
        "sheets": [
            {"properties": {"sheetId": 0, "title": "Sheet1", "gridProperties": {}}},
            {"properties": {"sheetId": 1, "title": "Notes", "gridProperties": {}}},
            {"properties": {"sheetId": 3, "title": "Old", "gridProperties": {}}},
        ],
    }
    snapshot = Snapshot({t: Grid(t, []) for t in ("Sheet1", "Notes", "Old")})

    found = plan_layout(metadata, snapshot, layout, {}, "zh", LISTS)

    added = [
        r["addSheet"]["properties"]["sheetId"]
        for r in found.structure
        if "addSheet" in r
    ]
    assert len(added) == len(layout.tables) == len(set(added))
    assert not set(added) & {0, 1, 3}
    orders_id = added[1]
    assert any(
        r.get("setDataValidation", {}).get("range", {}).get("sheetId") == orders_id
        for r in found.structure
    )


def test_a_tab_missing_from_the_snapshot_is_refused(layout: Layout) -> None:
    metadata = {"sheets": [{"properties": {"sheetId": 0, "title": "订单"}}]}

    with pytest.raises(ValueError, match="no values for tab '订单'"):
        plan_layout(metadata, Snapshot({}), layout, {}, "zh", LISTS)


def test_default_values_go_out_as_raw_json(layout: Layout) -> None:
    metadata = {"properties": {"timeZone": "Asia/Shanghai"}, "sheets": []}
    defaults: Defaults = {
        "sla": [
            {
                "rule": "X",
                "within": 3,
                "active": True,
                "effective_from": date(2025, 3, 15),
            }
        ],
        "orders": [{"customer": "a configuration tab only"}],
    }

    found = plan_layout(metadata, Snapshot({}), layout, defaults, "zh", {})

    rows = [v for v in found.values if v["range"].endswith("2:J2")]
    assert rows == [
        {
            "range": "'时效规则'!A2:J2",
            "values": [["X", "", "", "", "", 3, "", "", 45731.0, True]],
        }
    ]
    assert found.report.rows_added == 1


def test_list_entries_that_would_be_formulas_are_left_out(layout: Layout) -> None:
    metadata: Json = {"sheets": []}
    lists = {"statuses": ["处理中", "=IMPORTXML(1)", "+1"]}

    found = plan_layout(metadata, Snapshot({}), layout, {}, "zh", lists)

    offered = {
        tuple(
            v["userEnteredValue"]
            for v in r["setDataValidation"]["rule"]["condition"]["values"]
        )
        for r in found.structure
        if "setDataValidation" in r
    }
    assert offered == {("处理中",)}
