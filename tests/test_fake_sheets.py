"""The fake Sheets API, driven through a real gspread client over HTTP."""

from __future__ import annotations

from typing import Any

import gspread
import pytest
from gspread.exceptions import APIError, SpreadsheetNotFound

from tests.fake_sheets import (
    DateCell,
    FakeSheetsAPI,
    FormulaCell,
    SheetsError,
    Span,
    parse_range,
)

SHANGHAI_SERIAL = 45731 + 14 / 24  # 2025-03-15 14:00 wall-clock time


@pytest.fixture
def api() -> FakeSheetsAPI:
    return FakeSheetsAPI()


def make_book(api: FakeSheetsAPI, locale: str = "zh_CN") -> str:
    return api.create_spreadsheet(
        "团队表",
        time_zone="Asia/Shanghai",
        locale=locale,
        sheets={
            "需求提报": [
                ["需求编号", "标题", "数量"],
                ["R1", "甲", 3],
                ["R2", "乙", 4],
            ],
            "It's": [["a", "b"], [1.5, True]],
        },
        rows=20,
        cols=8,
    )


def open_book(api: FakeSheetsAPI, key: str) -> gspread.Spreadsheet:
    return api.client().open_by_key(key)


def write(sh: gspread.Spreadsheet, option: str, a1: str, values: list[Any]) -> Any:
    return sh.values_batch_update(
        {"valueInputOption": option, "data": [{"range": a1, "values": values}]}
    )


def test_open_by_key_reads_metadata_in_one_request(api: FakeSheetsAPI) -> None:
    key = make_book(api)
    client = gspread.Client(auth=None, session=api.session())  # type: ignore[arg-type]

    sh = client.open_by_key(key)

    assert (sh.title, sh.timezone, sh.locale) == ("团队表", "Asia/Shanghai", "zh_CN")
    assert api.count("get") == 1
    tab = sh.worksheet("需求提报")
    assert (tab.index, tab.row_count, tab.col_count, tab.frozen_row_count) == (
        0,
        20,
        8,
        0,
    )
    assert [ws.title for ws in sh.worksheets()] == ["需求提报", "It's"]


def test_unknown_spreadsheet_is_not_found(api: FakeSheetsAPI) -> None:
    with pytest.raises(SpreadsheetNotFound):
        api.client().open_by_key("no-such-key")


def test_batch_get_reads_two_tabs_in_one_request(api: FakeSheetsAPI) -> None:
    sh = open_book(api, make_book(api))
    api.reset_counts()

    answer = sh.values_batch_get(["'需求提报'!A1:Z", "'It''s'!A:C"])

    assert api.count("values:batchGet") == 1
    first, second = answer["valueRanges"]
    assert first["range"] == "'需求提报'!A1:H20"  # clipped to the 20x8 grid
    assert first["values"] == [
        ["需求编号", "标题", "数量"],
        ["R1", "甲", "3"],
        ["R2", "乙", "4"],
    ]
    assert second == {
        "range": "'It''s'!A1:C20",
        "majorDimension": "ROWS",
        "values": [["a", "b"], ["1.5", "TRUE"]],
    }


def test_trailing_blanks_are_trimmed_and_empty_ranges_have_no_values(
    api: FakeSheetsAPI,
) -> None:
    key = make_book(api)
    api.set_cell(key, "需求提报", "E5", "x")
    sh = open_book(api, key)

    answer = sh.values_batch_get(["需求提报!D1:H20", "需求提报!A10:B12"])

    ranges = answer["valueRanges"]
    assert ranges[0]["values"] == [[], [], [], [], ["", "x"]]
    assert "values" not in ranges[1]


def test_raw_keeps_text_and_user_entered_parses(api: FakeSheetsAPI) -> None:
    key = make_book(api)
    sh = open_book(api, key)
    formula = '=IMPORTXML("https://example.com", "//title")'

    write(sh, "RAW", "需求提报!D2", [[formula, "2025-03-15 14:00", "007"]])
    write(sh, "USER_ENTERED", "需求提报!D3", [[formula, "2025-03-15 14:00", "007"]])

    rows = api.values(key, "需求提报")
    assert rows[1][3:] == [formula, "2025-03-15 14:00", "007"]
    assert rows[2][3:] == [FormulaCell(formula), DateCell(SHANGHAI_SERIAL), 7.0]
    shown = sh.values_batch_get(
        ["需求提报!D2:F3"], params={"valueRenderOption": "FORMULA"}
    )
    assert shown["valueRanges"][0]["values"] == [
        [formula, "2025-03-15 14:00", "007"],
        [formula, pytest.approx(SHANGHAI_SERIAL), 7],
    ]


def test_unformatted_dates_as_serial_or_formatted_string(api: FakeSheetsAPI) -> None:
    key = make_book(api)
    sh = open_book(api, key)
    write(sh, "USER_ENTERED", "需求提报!D2", [["2025-03-15 14:00", "2025-03-15"]])

    def read(date_option: str) -> list[Any]:
        answer = sh.values_batch_get(
            ["需求提报!D2:E2"],
            params={
                "valueRenderOption": "UNFORMATTED_VALUE",
                "dateTimeRenderOption": date_option,
            },
        )
        return list(answer["valueRanges"][0]["values"][0])

    serial, day = read("SERIAL_NUMBER")
    assert serial == pytest.approx(45731.583333, abs=1e-6)
    assert day == 45731
    assert read("FORMATTED_STRING") == ["2025/3/15 14:00:00", "2025/3/15"]


@pytest.mark.parametrize(
    ("locale", "shown"),
    [
        ("zh_CN", ["2025/3/15 14:00:00", "2025/3/15", "1234.5", "FALSE"]),
        ("en_US", ["3/15/2025 14:00:00", "3/15/2025", "1234.5", "FALSE"]),
    ],
)
def test_formatted_values_follow_the_locale(
    api: FakeSheetsAPI, locale: str, shown: list[str]
) -> None:
    key = make_book(api, locale=locale)
    sh = open_book(api, key)
    write(sh, "USER_ENTERED", "需求提报!D2", [["2025-03-15 14:00", "2025/3/15"]])
    write(sh, "RAW", "需求提报!F2", [[1234.5, False]])

    answer = sh.values_batch_get(["需求提报!D2:G2"])

    assert answer["valueRanges"][0]["values"] == [shown]


def test_missing_value_input_option_is_refused(api: FakeSheetsAPI) -> None:
    sh = open_book(api, make_book(api))

    with pytest.raises(APIError) as caught:
        sh.values_batch_update({"data": [{"range": "需求提报!A1", "values": [["x"]]}]})

    assert caught.value.code == 400
    assert caught.value.error["status"] == "INVALID_ARGUMENT"


def test_injected_429_raises_once_then_the_call_succeeds(api: FakeSheetsAPI) -> None:
    sh = open_book(api, make_book(api))
    api.fail("values:batchGet", 429, retry_after=7)

    with pytest.raises(APIError) as caught:
        sh.values_batch_get(["需求提报"])

    assert caught.value.code == 429
    assert caught.value.error["status"] == "RESOURCE_EXHAUSTED"
    assert caught.value.response.headers["Retry-After"] == "7"
    assert sh.values_batch_get(["需求提报"])["valueRanges"][0]["values"][1][0] == "R1"
    assert api.count("values:batchGet") == 2


@pytest.mark.parametrize(("status", "name"), [(500, "INTERNAL"), (503, "UNAVAILABLE")])
def test_injected_server_errors_carry_google_status(
    api: FakeSheetsAPI, status: int, name: str
) -> None:
    sh = open_book(api, make_book(api))
    api.fail("batchUpdate", status, times=2)

    for _ in range(2):
        with pytest.raises(APIError) as caught:
            sh.batch_update({"requests": []})
        assert (caught.value.code, caught.value.error["status"]) == (status, name)
    assert sh.batch_update({"requests": []})["replies"] == []


def test_before_hook_moves_rows_between_read_and_write(api: FakeSheetsAPI) -> None:
    key = make_book(api)
    sh = open_book(api, key)
    rows = sh.values_batch_get(["需求提报"])["valueRanges"][0]["values"]
    r2_row = next(i for i, row in enumerate(rows, start=1) if row[0] == "R2")

    api.before(
        "values:batchUpdate",
        lambda fake: fake.insert_rows(key, "需求提报", 2, [["R0", "新", 1]]),
    )
    write(sh, "RAW", f"需求提报!C{r2_row}", [["已完成"]])

    # The write aimed at R2 by position, but R1 now stands there.
    assert api.values(key, "需求提报")[2] == ["R1", "甲", "已完成"]
    assert api.values(key, "需求提报")[3] == ["R2", "乙", 4.0]
    assert api.sheet(key, "需求提报").row_count == 21
    write(sh, "RAW", "需求提报!A1", [["需求编号"]])  # the hook ran once only
    assert len(api.values(key, "需求提报")) == 4


def test_row_helpers_delete_sort_and_set(api: FakeSheetsAPI) -> None:
    key = make_book(api)
    api.set_cell(key, "需求提报", "C2", 9)
    api.sort_rows(key, "需求提报", column_index=2)
    assert [row[0] for row in api.values(key, "需求提报")] == ["需求编号", "R2", "R1"]

    api.delete_rows(key, "需求提报", 2, 2)

    assert api.values(key, "需求提报") == [
        ["需求编号", "标题", "数量"],
        ["R1", "甲", 9.0],
    ]
    assert api.sheet(key, "需求提报").row_count == 19


def test_batch_update_is_atomic(api: FakeSheetsAPI) -> None:
    key = make_book(api)
    sh = open_book(api, key)
    body = {
        "requests": [
            {"addSheet": {"properties": {"title": "新表"}}},
            {"deleteSheet": {"sheetId": 99}},
        ]
    }

    with pytest.raises(APIError) as caught:
        sh.batch_update(body)

    assert caught.value.code == 400
    assert "requests[1].deleteSheet" in caught.value.error["message"]
    assert [s.title for s in api.book(key).sheets] == ["需求提报", "It's"]


def test_values_batch_update_is_atomic_and_refuses_past_the_grid(
    api: FakeSheetsAPI,
) -> None:
    key = make_book(api)
    sh = open_book(api, key)
    body = {
        "valueInputOption": "RAW",
        "data": [
            {"range": "需求提报!A2", "values": [["changed"]]},
            {"range": "需求提报!A21", "values": [["too far"]]},
        ],
    }

    with pytest.raises(APIError) as caught:
        sh.values_batch_update(body)

    assert caught.value.code == 400
    assert "exceeds grid limits" in caught.value.error["message"]
    assert api.values(key, "需求提报")[1][0] == "R1"
    sheet_id = api.sheet(key, "需求提报").sheet_id
    append = {"sheetId": sheet_id, "dimension": "ROWS", "length": 5}
    sh.batch_update({"requests": [{"appendDimension": append}]})
    answer = sh.values_batch_update(body)
    assert answer["totalUpdatedCells"] == 2
    assert answer["responses"][1]["updatedRange"] == "'需求提报'!A21"


def test_batch_update_effects_are_kept_in_state(api: FakeSheetsAPI) -> None:
    key = make_book(api)
    sh = open_book(api, key)
    sheet_id = api.sheet(key, "需求提报").sheet_id
    span = {"sheetId": sheet_id, "startRowIndex": 1, "endRowIndex": 20}
    rule = {
        "condition": {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": "是"}]}
    }
    body = {
        "requests": [
            {
                "updateSheetProperties": {
                    "properties": {
                        "sheetId": sheet_id,
                        "gridProperties": {"frozenRowCount": 1},
                    },
                    "fields": "gridProperties.frozenRowCount",
                }
            },
            {"setDataValidation": {"range": span, "rule": rule}},
            {"addProtectedRange": {"protectedRange": {"range": span}}},
            {"insertDimension": {"range": {**dim(sheet_id), "startIndex": 1}}},
        ]
    }

    replies = sh.batch_update(body)["replies"]

    sheet = api.sheet(key, "需求提报")
    assert sheet.frozen_rows == 1
    assert sheet.validations == [{"range": span, "rule": rule}]
    assert replies[2]["addProtectedRange"]["protectedRange"]["protectedRangeId"] > 0
    assert api.values(key, "需求提报")[1:3] == [[], ["R1", "甲", 3.0]]
    assert sh.worksheet("需求提报").frozen_row_count == 1


def dim(sheet_id: int) -> dict[str, Any]:
    return {"sheetId": sheet_id, "dimension": "ROWS", "endIndex": 2}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'It''s'!A:C", Span("It's", 0, 0, None, 3, anchor_only=False)),
        ("'需求提报'!A1:Z", Span("需求提报", 0, 0, None, 26, anchor_only=False)),
        ("需求提报!B5", Span("需求提报", 4, 1, 5, 2, anchor_only=True)),
        ("需求提报", Span("需求提报", 0, 0, None, None, anchor_only=True)),
        ("'需求提报'", Span("需求提报", 0, 0, None, None, anchor_only=True)),
        ("A2:C3", Span("需求提报", 1, 0, 3, 3, anchor_only=False)),
        ("'It''s'!2:4", Span("It's", 1, 0, 4, None, anchor_only=False)),
    ],
)
def test_a1_ranges_parse(api: FakeSheetsAPI, text: str, expected: Span) -> None:
    book = api.book(make_book(api))

    assert parse_range(book, text) == expected


@pytest.mark.parametrize("text", ["Nope!A1", "'It's'!A1", "需求提报!1A"])
def test_bad_ranges_are_refused(api: FakeSheetsAPI, text: str) -> None:
    book = api.book(make_book(api))

    with pytest.raises(SheetsError, match="Unable to parse range"):
        parse_range(book, text)


def test_other_hosts_answer_404_without_network(api: FakeSheetsAPI) -> None:
    response = api.session().get("https://www.googleapis.com/drive/v3/files/x")

    assert response.status_code == 404
    assert api.requests[-1][1] == "unknown"


def test_add_sheet_refuses_a_sheet_id_in_use(api: FakeSheetsAPI) -> None:
    key = make_book(api)
    sh = open_book(api, key)
    taken = api.sheet(key, "It's").sheet_id

    with pytest.raises(APIError) as caught:
        sh.batch_update(
            {"requests": [{"addSheet": {"properties": {"sheetId": taken}}}]}
        )

    assert caught.value.code == 400
    assert f"id {taken} already exists" in caught.value.error["message"]
    sh.batch_update({"requests": [{"addSheet": {"properties": {"sheetId": 7}}}]})
    assert api.book(key).sheets[-1].sheet_id == 7


def test_validations_and_number_formats_replace_their_range(
    api: FakeSheetsAPI,
) -> None:
    key = make_book(api)
    sh = open_book(api, key)
    sheet_id = api.sheet(key, "需求提报").sheet_id
    span = {"sheetId": sheet_id, "startRowIndex": 1, "endRowIndex": 20}
    other = {**span, "startColumnIndex": 2, "endColumnIndex": 3}

    def one_of(*values: str) -> dict[str, Any]:
        listed = [{"userEnteredValue": value} for value in values]
        return {"condition": {"type": "ONE_OF_LIST", "values": listed}}

    def number_format(kind: str, pattern: str) -> dict[str, Any]:
        return {
            "repeatCell": {
                "range": span,
                "cell": {
                    "userEnteredFormat": {
                        "numberFormat": {"type": kind, "pattern": pattern}
                    }
                },
                "fields": "userEnteredFormat.numberFormat",
            }
        }

    sh.batch_update(
        {
            "requests": [
                {"setDataValidation": {"range": span, "rule": one_of("是")}},
                {"setDataValidation": {"range": other, "rule": one_of("甲")}},
                {"setDataValidation": {"range": span, "rule": one_of("是", "否")}},
                number_format("DATE", "yyyy-mm-dd"),
                number_format("DATE_TIME", "yyyy-mm-dd hh:mm"),
            ]
        }
    )

    sheet = api.sheet(key, "需求提报")
    assert sheet.validations == [
        {"range": other, "rule": one_of("甲")},
        {"range": span, "rule": one_of("是", "否")},
    ]
    assert sheet.number_formats == [
        {
            "range": span,
            "numberFormat": {"type": "DATE_TIME", "pattern": "yyyy-mm-dd hh:mm"},
        }
    ]
    sh.batch_update({"requests": [{"setDataValidation": {"range": other}}]})
    assert api.sheet(key, "需求提报").validations == [
        {"range": span, "rule": one_of("是", "否")}
    ]


def test_repeat_cell_of_other_fields_is_refused(api: FakeSheetsAPI) -> None:
    key = make_book(api)
    sh = open_book(api, key)
    sheet_id = api.sheet(key, "需求提报").sheet_id
    bold = {"userEnteredFormat": {"textFormat": {"bold": True}}}
    request = {
        "repeatCell": {
            "range": {"sheetId": sheet_id},
            "cell": bold,
            "fields": "userEnteredFormat.textFormat.bold",
        }
    }

    with pytest.raises(APIError) as caught:
        sh.batch_update({"requests": [request]})

    assert caught.value.code == 400
    assert "number formats only" in caught.value.error["message"]


def test_developer_metadata_is_created_updated_and_deleted(
    api: FakeSheetsAPI,
) -> None:
    key = make_book(api)
    http = api.client().http_client
    sheet_id = api.sheet(key, "It's").sheet_id
    created = {
        "metadataKey": "automation.layout",
        "metadataValue": "one",
        "location": {"sheetId": sheet_id},
        "visibility": "DOCUMENT",
    }

    replies = http.batch_update(
        key,
        {
            "requests": [
                {"createDeveloperMetadata": {"developerMetadata": created}},
                {
                    "createDeveloperMetadata": {
                        "developerMetadata": {
                            "metadataKey": "other",
                            "location": {"spreadsheet": True},
                            "visibility": "DOCUMENT",
                        }
                    }
                },
            ]
        },
    )["replies"]
    metadata_id = replies[0]["createDeveloperMetadata"]["developerMetadata"][
        "metadataId"
    ]
    lookup = {"developerMetadataLookup": {"metadataId": metadata_id}}
    http.batch_update(
        key,
        {
            "requests": [
                {
                    "updateDeveloperMetadata": {
                        "dataFilters": [lookup],
                        "developerMetadata": {"metadataValue": "two"},
                        "fields": "metadataValue",
                    }
                }
            ]
        },
    )

    sheets = http.fetch_sheet_metadata(key)["sheets"]
    assert sheets[1]["developerMetadata"] == [
        {
            **created,
            "metadataId": metadata_id,
            "metadataValue": "two",
            "location": {"sheetId": sheet_id, "locationType": "SHEET"},
        }
    ]
    answer = http.batch_update(
        key, {"requests": [{"deleteDeveloperMetadata": {"dataFilter": lookup}}]}
    )
    deleted = answer["replies"][0]["deleteDeveloperMetadata"]
    assert [d["metadataId"] for d in deleted["deletedDeveloperMetadata"]] == [
        metadata_id
    ]
    after = http.fetch_sheet_metadata(key)
    assert "developerMetadata" not in after["sheets"][1]
    assert [m["metadataKey"] for m in after["developerMetadata"]] == ["other"]


def test_updating_developer_metadata_that_is_not_there_is_refused(
    api: FakeSheetsAPI,
) -> None:
    key = make_book(api)
    sh = open_book(api, key)
    lookup = {"developerMetadataLookup": {"metadataKey": "automation.layout"}}
    request = {
        "updateDeveloperMetadata": {
            "dataFilters": [lookup],
            "developerMetadata": {"metadataValue": "x"},
            "fields": "metadataValue",
        }
    }

    with pytest.raises(APIError) as caught:
        sh.batch_update({"requests": [request]})

    assert caught.value.code == 400
    assert "No developer metadata matches" in caught.value.error["message"]
