"""The Google Sheets backend through a real gspread client on the fake Sheets API.

What a cycle costs in requests, rows found by id when people sort, insert, delete or
edit between the cycle's read and its write, text that never becomes a formula, dates
whatever the locale, retries inside a budget, and the quota across spreadsheets.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest

from automation.backends.sheets import SheetsBackend, spreadsheet_key
from automation.backends.sheets_api import (
    GridChanged,
    Quota,
    RetryPolicy,
    SheetsUnavailable,
)
from automation.backends.sheets_values import to_serial
from automation.demo_data import REFERENCE
from automation.errors import BackendError
from automation.layout import load_layout
from automation.mail.outbox import OutboxTransport
from automation.model import TabContent, WritePlan
from automation.service import CycleSummary, Service
from automation.state import StateStore
from tests.fake_sheets import (
    DateCell,
    FakeSheetsAPI,
    FakeSpreadsheet,
    FormulaCell,
    Stored,
)
from tests.sheets_fixtures import (
    Clock,
    backend,
    blank_spreadsheet,
    demo_spreadsheet,
    fill,
)

REQUESTS = "需求提报"
Hook = Callable[[FakeSheetsAPI], None]


def service(api: FakeSheetsAPI, key: str, folder: Path, **options: object) -> Service:
    folder.mkdir(parents=True, exist_ok=True)
    return Service(
        backend(api, key, **options),  # type: ignore[arg-type]
        StateStore(str(folder / f"{key}.sqlite")),
        OutboxTransport(folder / "outbox"),
    )


def run(api: FakeSheetsAPI, key: str, folder: Path, **options: object) -> CycleSummary:
    cycle = service(api, key, folder, **options)
    try:
        return cycle.run_once(REFERENCE)
    finally:
        cycle.close()


def calm_spreadsheet(api: FakeSheetsAPI) -> str:
    """The demo after one cycle nobody disturbed: what each row should get."""
    return api.add_copy(_calm_book())


@functools.cache
def _calm_book() -> FakeSpreadsheet:
    api = FakeSheetsAPI()
    key = demo_spreadsheet(api)
    with tempfile.TemporaryDirectory() as folder:
        assert run(api, key, Path(folder)).outcome == "ok"
    return api.book(key)


def before_write(api: FakeSheetsAPI, action: Hook) -> None:
    """Run `action` after the cycle's read, just before its write looks at the rows."""
    api.before("values:batchGet", lambda fake: fake.before("values:batchGet", action))


def header(api: FakeSheetsAPI, key: str, title: str) -> list[Stored]:
    return api.values(key, title)[0]


TYPED = ("content", "requester", "department", "type", "priority", "owner", "progress")


def by_content(api: FakeSheetsAPI, key: str) -> dict[str, dict[str, Stored]]:
    """Every request row keyed by what people typed in it, as field key to value."""
    layout = load_layout()
    spec = layout.table("requests")
    rows = api.values(key, REQUESTS)
    keys = [spec.match_header(str(label)) for label in rows[0]]
    found: dict[str, dict[str, Stored]] = {}
    for row in rows[1:]:
        cells = {
            field.key: (row[i] if i < len(row) else None)
            for i, field in enumerate(keys)
            if field is not None
        }
        if cells.get("content"):
            typed = "|".join(str(cells.get(key)) for key in TYPED)
            assert typed not in found, "test data needs rows that differ"
            found[typed] = cells
    return found


SERVICE_KEYS = ("id", "due", "due_done", "due_response", "stage", "flag", "check")


def service_cells(row: dict[str, Stored]) -> tuple[Stored, ...]:
    return tuple(row.get(key) for key in SERVICE_KEYS)


# What a cycle costs


def test_a_cycle_reads_once_and_writes_once_then_steady_state_reads_once(
    tmp_path: Path,
) -> None:
    api = FakeSheetsAPI()
    key = demo_spreadsheet(api)
    cycle = service(api, key, tmp_path)

    first = cycle.run_once(REFERENCE)
    assert first.outcome == "ok"
    assert (first.rows_read, first.problems, first.overdue) == (512, 10, 16)
    assert first.cells_written == 2922  # the same cells as the demo workbook
    # Metadata once; the cycle's read, the re-read of edited tabs to find rows by
    # id, the read that checks no row moved during the write; one write.
    assert api.counts() == {
        "get": 1,
        "values:batchGet": 3,
        "values:batchUpdate": 1,
        "batchUpdate": 0,
    }

    api.reset_counts()
    second = cycle.run_once(REFERENCE)
    cycle.close()
    assert second.cells_written == 0
    assert api.counts() == {
        "get": 0,
        "values:batchGet": 1,
        "values:batchUpdate": 0,
        "batchUpdate": 0,
    }


def test_metadata_is_read_again_only_while_a_tab_is_missing(tmp_path: Path) -> None:
    api = FakeSheetsAPI()
    key = demo_spreadsheet(api, skip=("kpi",))
    sheets = backend(api, key)
    sheets.read()
    sheets.read()
    assert api.count("get") == 2  # KPI is missing: each read looks for it

    cycle = Service(
        sheets,
        StateStore(str(tmp_path / "state.sqlite")),
        OutboxTransport(tmp_path / "outbox"),
    )
    cycle.run_once(REFERENCE)  # creates the KPI tab in the write
    cycle.close()
    assert api.count("batchUpdate") == 1
    assert header(api, key, "KPI")[0] == "月份"
    api.reset_counts()
    sheets.read()
    sheets.read()
    assert api.count("get") == 0


def test_a_large_first_write_goes_in_parts_of_whole_rows(tmp_path: Path) -> None:
    api = FakeSheetsAPI()
    whole, parted = demo_spreadsheet(api), demo_spreadsheet(api)
    run(api, whole, tmp_path / "whole")
    assert api.count("values:batchUpdate") == 1
    api.reset_counts()
    summary = run(api, parted, tmp_path / "parted", max_payload=20_000)
    assert summary.cells_written == 2922
    assert api.count("values:batchUpdate") >= 3
    sizes = [size for name, size in api.body_sizes if name == "values:batchUpdate"]
    assert max(sizes) <= 20_000  # as sent: Chinese text escaped, six bytes a letter
    for title in (REQUESTS, "订单", "问题清单", "KPI"):
        assert api.values(parted, title) == api.values(whole, title)


# Values


def test_dates_read_the_same_whatever_the_locale_and_time_zone() -> None:
    api = FakeSheetsAPI()
    grids = {}
    for locale, zone in (("zh_CN", "Asia/Shanghai"), ("de_DE", "America/New_York")):
        key = blank_spreadsheet(api, locale=locale, time_zone=zone)
        fill(
            api,
            key,
            {
                "requests": [
                    {
                        "id": "R-1",
                        "submitted_at": datetime(2025, 10, 15, 14, 30),
                        "required_by": date(2025, 10, 20),
                        "quantity": 7,
                        "customer": "007",
                    }
                ]
            },
        )
        snapshot = backend(api, key).read()
        grids[locale] = snapshot.grids[REQUESTS].rows
        assert snapshot.timezone == zone
        # Stored as serial numbers, not as text in the locale's spelling.
        stored = api.values(key, REQUESTS)[1]
        assert stored[1] == pytest.approx(to_serial(datetime(2025, 10, 15, 14, 30)))

    assert grids["zh_CN"] == grids["de_DE"]
    row = grids["zh_CN"][1]
    assert row[1] == datetime(2025, 10, 15, 14, 30)
    assert row[9] == date(2025, 10, 20)  # a whole day typed by a person stays a date
    assert row[8] == 7
    assert row[6] == "007"


def test_dates_people_typed_in_the_sheet_are_read_as_dates() -> None:
    api = FakeSheetsAPI()
    key = blank_spreadsheet(api, locale="en_US", time_zone="America/New_York")
    api.set_cell(key, REQUESTS, "B2", DateCell(to_serial(datetime(2025, 3, 15, 14, 0))))
    api.set_cell(key, REQUESTS, "J2", DateCell(45731.0, has_time=False))
    api.set_cell(key, REQUESTS, "A2", FormulaCell('="R-"&1', value="R-1"))
    api.set_cell(key, REQUESTS, "I2", "十")
    row = backend(api, key).read().grids[REQUESTS].rows[1]
    assert row[0] == "R-1"  # a formula is read as what it shows
    assert row[1] == datetime(2025, 3, 15, 14, 0)
    assert row[8] == "十"  # not a number: left for the check to report
    assert row[9] == date(2025, 3, 15)


def test_text_that_looks_like_a_formula_is_written_as_text(tmp_path: Path) -> None:
    api = FakeSheetsAPI()
    key = demo_spreadsheet(api)
    hostile = '=IMPORTXML("http://x","//a")'
    # A row whose id is a formula's text and whose quantity is bad: the id goes
    # into the Problems tab, the quantity's text into the check column.
    api.set_cell(key, REQUESTS, "A3", hostile)
    api.set_cell(key, REQUESTS, "I3", "=1+1")
    assert run(api, key, tmp_path).outcome == "ok"

    problems = api.values(key, "问题清单")
    ids = [row[2] for row in problems[1:] if len(row) > 2]
    assert hostile in ids
    assert not any(
        isinstance(cell, FormulaCell)
        for title in ("问题清单", REQUESTS)
        for row in api.values(key, title)
        for cell in row
    )
    check = api.values(key, REQUESTS)[2][-1]
    assert isinstance(check, str) and "=1+1" in check


def test_a_service_tab_is_created_and_grown_when_its_content_needs_it() -> None:
    api = FakeSheetsAPI()
    key = blank_spreadsheet(api, skip=("problems",), rows=20)
    sheets = backend(api, key)
    layout = load_layout()
    since = datetime(2025, 10, 15, 9, 30)
    rows = [["表", "行", "发现时间"], *[["需求提报", n, since] for n in range(2, 40)]]
    plan = WritePlan(outputs=[TabContent("problems", rows)])
    sheets.write(sheets.read(), plan, layout, "zh")
    assert api.values(key, "问题清单") == [["表", "行", "发现时间"]] + [
        ["需求提报", float(n), to_serial(since)] for n in range(2, 40)
    ]
    created = api.sheet(key, "问题清单")
    assert created.frozen_rows == 1
    # The serial numbers of the "since" column show as dates, on every row.
    (shown,) = created.number_formats
    assert shown["numberFormat"]["pattern"] == "yyyy-mm-dd hh:mm"
    assert (shown["range"]["startColumnIndex"], shown["range"]["endColumnIndex"]) == (
        2,
        3,
    )
    assert shown["range"]["endRowIndex"] == created.row_count

    log = [["时间", "类型"], *[[since, "逾期提醒"]] * 30]  # 20 rows: the tab must grow
    api.reset_counts()
    plan = WritePlan(outputs=[TabContent("log", log)])
    sheets.write(sheets.read(), plan, layout, "zh")
    assert api.count("batchUpdate") == 1
    grown = api.sheet(key, "通知记录")
    assert grown.row_count >= 31 and len(api.values(key, "通知记录")) == 31
    (shown,) = grown.number_formats
    assert (shown["range"]["startRowIndex"], shown["range"]["endRowIndex"]) == (
        20,
        grown.row_count,
    )

    shorter = [["时间", "类型"], [since, "升级"]]
    plan = WritePlan(outputs=[TabContent("log", shorter)])
    sheets.write(sheets.read(), plan, layout, "zh")
    assert api.values(key, "通知记录") == [["时间", "类型"], [to_serial(since), "升级"]]


# People at work between the cycle's read and its write


def untouched(row: dict[str, Stored]) -> bool:
    return all(row.get(key) is None for key in SERVICE_KEYS if key != "id")


def assert_each_row_has_its_own_values(
    found: dict[str, dict[str, Stored]],
    expected: dict[str, dict[str, Stored]],
    skipped: int,
) -> None:
    """Every row holds what a calm cycle gave it, or nothing: never another row's.

    Rows found by number (no id yet, or an id typed twice) that moved are skipped.
    """
    left = [typed for typed, row in found.items() if untouched(row)]
    for typed, row in found.items():
        if typed not in left:
            assert service_cells(row) == service_cells(expected[typed]), typed
    assert len(left) == skipped


def test_sorting_rows_mid_cycle_never_moves_values_to_another_row(
    tmp_path: Path,
) -> None:
    api = FakeSheetsAPI()
    calm, busy = calm_spreadsheet(api), demo_spreadsheet(api)
    customer = header(api, busy, REQUESTS).index("客户")
    before_write(api, lambda fake: fake.sort_rows(busy, REQUESTS, customer))
    summary = run(api, busy, tmp_path / "busy")

    expected, found = by_content(api, calm), by_content(api, busy)
    assert found.keys() == expected.keys()
    assert 0 < summary.rows_skipped < 10  # the sort moved a few rows found by number
    assert_each_row_has_its_own_values(found, expected, summary.rows_skipped)


def test_inserting_rows_mid_cycle_leaves_them_alone(tmp_path: Path) -> None:
    api = FakeSheetsAPI()
    calm, busy = calm_spreadsheet(api), demo_spreadsheet(api)
    new = [[None, None, "销售一部", "Sophia Zhang", "合同追加", None, None, "新行"]]
    before_write(api, lambda fake: fake.insert_rows(busy, REQUESTS, 5, new))
    summary = run(api, busy, tmp_path / "busy")

    expected, found = by_content(api, calm), by_content(api, busy)
    added = next(k for k in found if k.startswith("新行|"))
    assert service_cells(found.pop(added)) == (None,) * len(SERVICE_KEYS)
    assert summary.rows_skipped < 10
    assert_each_row_has_its_own_values(found, expected, summary.rows_skipped)


def test_deleting_a_row_mid_cycle_skips_only_its_edits(tmp_path: Path) -> None:
    api = FakeSheetsAPI()
    calm, busy = calm_spreadsheet(api), demo_spreadsheet(api)
    gone = api.values(busy, REQUESTS)[9]
    before_write(api, lambda fake: fake.delete_rows(busy, REQUESTS, 10, 10))
    summary = run(api, busy, tmp_path / "busy")

    expected, found = by_content(api, calm), by_content(api, busy)
    assert not any(row["id"] == gone[0] for row in found.values())
    assert len(found) == len(expected) - 1
    # The deleted row's edit is skipped too, but it has no row left to show it.
    assert_each_row_has_its_own_values(found, expected, summary.rows_skipped - 1)


def test_a_row_edited_mid_cycle_waits_for_the_next_cycle(tmp_path: Path) -> None:
    api = FakeSheetsAPI()
    key = demo_spreadsheet(api)
    rows = api.values(key, REQUESTS)
    status = header(api, key, REQUESTS).index("状态")
    number = next(n for n, row in enumerate(rows[1:], 2) if row[status] == "处理中")
    edited = next(
        k for k, row in by_content(api, key).items() if row["id"] == rows[number - 1][0]
    )
    cell = f"{chr(65 + status)}{number}"
    before_write(api, lambda fake: fake.set_cell(key, REQUESTS, cell, "已完成"))

    first = run(api, key, tmp_path)
    row = by_content(api, key)[edited]
    assert row["status"] == "已完成"  # the person's edit stands
    assert row["flag"] is None  # and the service wrote nothing into that row
    assert first.rows_skipped == 1

    second = run(api, key, tmp_path)
    assert second.rows_skipped == 0
    assert by_content(api, key)[edited]["flag"] is not None


# Google saying no


def test_a_429_storm_longer_than_the_budget_gives_up_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api = FakeSheetsAPI()
    key = demo_spreadsheet(api)
    before = api.values(key, REQUESTS)
    api.fail("values:batchGet", 429, times=100)
    sleeps: list[float] = []
    policy = RetryPolicy(budget_seconds=30, max_attempts=10)
    with caplog.at_level(logging.INFO):
        summary = run(api, key, tmp_path, retry=policy, sleeps=sleeps)

    assert summary.outcome == "failed"
    assert "429" in summary.detail and "gave up" in summary.detail
    assert sum(sleeps) <= 30
    assert sleeps == sorted(sleeps)  # the waits grow
    assert api.values(key, REQUESTS) == before
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "429" in errors[0].getMessage()


def test_a_storm_during_the_write_leaves_the_sheet_as_it_was_and_the_next_cycle_repairs(
    tmp_path: Path,
) -> None:
    api = FakeSheetsAPI()
    calm, key = calm_spreadsheet(api), demo_spreadsheet(api)
    before = api.values(key, REQUESTS)
    api.reset_counts()
    # Waits of 1, 2 and 4 s fit the budget of 10 s; the fourth failure would need 8.
    api.fail("values:batchUpdate", 503, times=4)
    summary = run(api, key, tmp_path / "busy", retry=RetryPolicy(budget_seconds=10))
    assert api.count("values:batchUpdate") == 4
    assert summary.outcome == "conflict" and "503" in summary.detail
    assert api.values(key, REQUESTS) == before
    assert summary.mail_sent == 0  # mail waits for a cycle whose write landed

    repaired = run(api, key, tmp_path / "busy")
    assert repaired.outcome == "ok" and repaired.cells_written == 2922
    assert api.values(key, REQUESTS) == api.values(calm, REQUESTS)


def test_a_500_in_the_middle_of_a_cycle_is_retried(tmp_path: Path) -> None:
    api = FakeSheetsAPI()
    key = demo_spreadsheet(api)
    api.fail("values:batchUpdate", 500, times=2)
    sleeps: list[float] = []
    summary = run(api, key, tmp_path, sleeps=sleeps)
    assert summary.outcome == "ok" and summary.cells_written == 2922
    assert api.count("values:batchUpdate") == 3
    assert sleeps == [1.0, 2.0]  # exponential; the fixture's jitter takes the ceiling


def test_retry_after_is_honoured() -> None:
    api = FakeSheetsAPI()
    key = blank_spreadsheet(api)
    api.fail("values:batchGet", 429, times=1, retry_after=7)
    sleeps: list[float] = []
    backend(api, key, sleeps=sleeps).read()
    assert sleeps == [7.0]


def test_refusals_that_retrying_cannot_fix_say_what_to_do() -> None:
    api = FakeSheetsAPI()
    key = blank_spreadsheet(api)
    api.fail("get", 403)
    with pytest.raises(BackendError, match="share it with the service account"):
        backend(api, key).read()
    with pytest.raises(BackendError, match="no spreadsheet with key"):
        backend(api, "missing-key").read()
    assert api.count("get") == 2  # neither was retried


def test_a_dropped_connection_is_retried_like_a_5xx() -> None:
    import requests

    api = FakeSheetsAPI()
    key = blank_spreadsheet(api)
    sheets = backend(api, key, retry=RetryPolicy(max_attempts=2))
    calls = {"n": 0}
    original = sheets.calls.http.values_batch_get

    def flaky(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise requests.ConnectionError("reset by peer")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    sheets.calls.http.values_batch_get = flaky  # type: ignore[method-assign]
    assert REQUESTS in sheets.read().grids
    sheets.calls.http.values_batch_get = lambda *a, **k: (_ for _ in ()).throw(  # type: ignore[method-assign]
        requests.Timeout("slow")
    )
    with pytest.raises(SheetsUnavailable, match="no answer"):
        sheets.read()


# Quota


def test_several_spreadsheets_share_one_quota() -> None:
    api = FakeSheetsAPI()
    clock = Clock()
    quota = Quota(
        reads_per_minute=5, writes_per_minute=5, clock=clock, sleep=clock.sleep
    )
    keys = [blank_spreadsheet(api) for _ in range(3)]
    sheets = [backend(api, key, quota=quota) for key in keys]
    moments: list[float] = []
    original = quota.take

    def take(kind: str) -> float:
        waited = original(kind)  # type: ignore[arg-type]
        moments.append(clock.now)
        return waited

    quota.take = take  # type: ignore[method-assign]
    for _ in range(4):
        for one in sheets:
            one.read()

    assert len(moments) == 12 + 3  # twelve reads and the metadata of each spreadsheet
    for start in moments:
        assert sum(start <= m < start + 60 for m in moments) <= 5
    assert clock.now >= 120  # fifteen reads at five a minute take two minutes at least


def test_quota_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="at least one request"):
        Quota(reads_per_minute=0)


# Keys


@pytest.mark.parametrize(
    "given",
    [
        "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms",
        "https://docs.google.com/spreadsheets/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/edit#gid=0",
    ],
)
def test_a_spreadsheet_is_given_by_key_or_url(given: str) -> None:
    assert spreadsheet_key(given) == "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"


@pytest.mark.parametrize("given", ["https://example.com/sheet", "a b c", "短"])
def test_a_bad_spreadsheet_key_says_what_a_key_looks_like(given: str) -> None:
    with pytest.raises(BackendError, match=r"spreadsheet|Google Sheets URL"):
        spreadsheet_key(given)


def test_a_missing_key_file_says_where_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="no service-account key"):
        SheetsBackend.connect("1BxiMVs0XRA5nFMdKvBdBZjg", tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(BackendError, match="not a service-account key file"):
        SheetsBackend.connect("1BxiMVs0XRA5nFMdKvBdBZjg", tmp_path / "bad.json")


def test_a_tab_renamed_after_the_metadata_was_read_is_found_again() -> None:
    api = FakeSheetsAPI()
    key = blank_spreadsheet(api)
    sheets = backend(api, key)
    sheets.read()
    api.sheet(key, "订单").title = "Orders"  # someone renames it to its English title
    api.reset_counts()
    snapshot = sheets.read()
    assert "Orders" in snapshot.grids and "订单" not in snapshot.grids
    # The failed read, fresh metadata, the read again; later reads need no metadata.
    assert api.counts() == {
        "get": 1,
        "values:batchGet": 2,
        "values:batchUpdate": 0,
        "batchUpdate": 0,
    }


# People at work in the instant between the re-read of rows and the write


@pytest.mark.parametrize("action", ["sort", "insert", "delete"])
def test_rows_moved_at_the_instant_of_the_write_are_put_right(
    tmp_path: Path, action: str
) -> None:
    api = FakeSheetsAPI()
    calm, busy = calm_spreadsheet(api), demo_spreadsheet(api)
    customer = header(api, busy, REQUESTS).index("客户")
    new = [[None, None, "销售一部", "Sophia Zhang", "合同追加", None, None, "新行"]]
    gone = api.values(busy, REQUESTS)[9]
    moves: dict[str, Hook] = {
        "sort": lambda fake: fake.sort_rows(busy, REQUESTS, customer),
        "insert": lambda fake: fake.insert_rows(busy, REQUESTS, 5, new),
        "delete": lambda fake: fake.delete_rows(busy, REQUESTS, 10, 10),
    }
    api.before("values:batchUpdate", moves[action])
    api.reset_counts()
    summary = run(api, busy, tmp_path / "busy")

    # The write landed on the old row numbers; a second write put every cell back.
    assert api.count("values:batchUpdate") == 2
    assert summary.rows_skipped == 0
    expected, found = by_content(api, calm), by_content(api, busy)
    if action == "insert":
        added = next(k for k in found if k.startswith("新行|"))
        assert service_cells(found.pop(added)) == (None,) * len(SERVICE_KEYS)
    if action == "delete":
        deleted = next(k for k, row in expected.items() if row["id"] == gone[0])
        del expected[deleted]
    assert found.keys() == expected.keys()
    for typed, row in found.items():
        assert service_cells(row) == service_cells(expected[typed]), typed


def test_a_check_after_the_write_that_fails_does_not_undo_the_cycle(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api = FakeSheetsAPI()
    key = demo_spreadsheet(api)
    # The cycle's read and the re-read pass; the check after the write meets a storm.
    api.before(
        "values:batchUpdate",
        lambda fake: fake.fail("values:batchGet", 503, times=10),
    )
    summary = run(api, key, tmp_path, retry=RetryPolicy(budget_seconds=5))
    assert summary.outcome == "ok" and summary.cells_written == 2922
    assert summary.mail_sent == 31
    assert "could not check" in caplog.text


def test_a_row_inserted_at_the_instant_of_the_write_keeps_no_other_rows_id(
    tmp_path: Path,
) -> None:
    api = FakeSheetsAPI()
    calm, busy = demo_spreadsheet(api), demo_spreadsheet(api)
    for key in (calm, busy):
        for number in range(2, 7):
            api.set_cell(key, REQUESTS, f"A{number}", "")  # ids the cycle will fill
    run(api, calm, tmp_path / "calm")
    new = [[None, None, "销售一部", "Sophia Zhang", "合同追加", None, None, "新行"]]
    api.before(
        "values:batchUpdate", lambda fake: fake.insert_rows(busy, REQUESTS, 3, new)
    )
    run(api, busy, tmp_path / "busy")

    expected, found = by_content(api, calm), by_content(api, busy)
    added = next(typed for typed in found if typed.startswith("新行|"))
    assert service_cells(found.pop(added)) == (None,) * len(SERVICE_KEYS)
    for typed, row in found.items():  # every row its own id and dues, none doubled
        assert service_cells(row) == service_cells(expected[typed]), typed


def test_a_spreadsheet_keeping_time_in_another_zone_is_pointed_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api = FakeSheetsAPI()
    other = demo_spreadsheet(api, time_zone="America/New_York")
    same = demo_spreadsheet(api)  # Asia/Shanghai, as the demo's Calendar tab says
    run(api, same, tmp_path / "same")
    assert "time zone" not in caplog.text
    run(api, other, tmp_path / "other")
    (line,) = [r.getMessage() for r in caplog.records if "time zone" in r.getMessage()]
    assert "America/New_York" in line and "Asia/Shanghai" in line


def test_a_tab_that_shrank_since_the_metadata_fails_one_write_then_grows() -> None:
    api = FakeSheetsAPI()
    key = blank_spreadsheet(api)
    sheets = backend(api, key)
    layout = load_layout()
    kpi = [["月份"], *[["2025-10"]] * 30]
    sheets.read()
    before = api.values(key, "KPI")
    api.sheet(key, "KPI").row_count = 20  # someone deleted the tab's empty rows
    plan = WritePlan(outputs=[TabContent("kpi", kpi)])
    with pytest.raises(GridChanged, match="smaller than when it was last looked at"):
        sheets.write(sheets.read(), plan, layout, "zh")
    assert api.values(key, "KPI") == before

    api.reset_counts()
    sheets.write(sheets.read(), plan, layout, "zh")  # the next cycle looks again
    assert api.count("get") == 1 and api.count("batchUpdate") == 1
    assert len(api.values(key, "KPI")) == 31
