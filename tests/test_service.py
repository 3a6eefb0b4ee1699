"""The whole cycle on the embedded default: a workbook file, SQLite state, an outbox."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from automation.backends.workbook import WorkbookBackend
from automation.configload import drop_down_lists, load_config
from automation.layout import load_defaults, load_layout
from automation.mail.outbox import OutboxTransport
from automation.model import CellValue, Snapshot
from automation.service import Service
from automation.state import StateStore

SHANGHAI = ZoneInfo("Asia/Shanghai")
LAYOUT = load_layout()
NOW = datetime(2025, 10, 15, 10, 0, tzinfo=SHANGHAI)

GARBAGE: list[CellValue] = [
    '=IMPORTXML("http://x","//a")',
    "<script>alert(1)</script>",
    "下周三",
    "-5",
    "9/31",
    "十",
    "   ",
    "Subject\r\nBcc: evil@example.com",
    "+1",
    "@SUM(A1)",
    "😀" * 3,
    "0007",
    99999999999,
    -3.5,
    True,
]


OPEN: list[Service] = []


def request_row(**values: CellValue) -> dict[str, CellValue]:
    """An on-site emergency request typed half an hour before NOW."""
    row: dict[str, CellValue] = {
        "department": "销售一部",
        "requester": "赵敏",
        "type": "现场紧急缺货",
        "content": "客户现场缺 3 块控制板",
        "owner": "张三",
        "status": "处理中",
        "submitted_at": datetime(2025, 10, 15, 9, 30),
    }
    row.update(values)
    return row


@pytest.fixture(autouse=True)
def close_services() -> Iterator[None]:
    """Every service a test opens is closed, so no database connection leaks."""
    yield
    while OPEN:
        OPEN.pop().close()


def make_service(tmp_path: Path, state: str | None = None) -> tuple[Service, Path]:
    workbook = tmp_path / "workbook.xlsx"
    backend = WorkbookBackend(workbook)
    defaults = load_defaults()
    config, _ = load_config(Snapshot(grids={}), LAYOUT)
    backend.init(LAYOUT, defaults, "zh", drop_down_lists(config))
    service = Service(
        backend,
        StateStore(state or tmp_path / "state.sqlite"),
        OutboxTransport(tmp_path / "outbox"),
    )
    OPEN.append(service)
    return service, workbook


def people_cells(path: Path) -> dict[tuple[str, int, int], object]:
    """Every cell a person typed in the data tabs: (tab, row, column) -> value."""
    book = load_workbook(path)
    cells = {}
    for spec in LAYOUT.of_kind("data"):
        sheet = book[spec.zh]
        owned = {
            index
            for index, label in enumerate(
                next(sheet.iter_rows(max_row=1, values_only=True))
            )
            if (found := spec.match_header(str(label or ""))) and found.owned
        }
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                if cell.column - 1 not in owned and cell.value is not None:
                    cells[(spec.key, cell.row, cell.column)] = cell.value
    return cells


def test_garbage_in_every_cell_runs_to_the_end_and_keeps_what_people_typed(
    tmp_path: Path,
) -> None:
    service, workbook = make_service(tmp_path)
    for spec in LAYOUT.of_kind("data"):
        rows = []
        for offset in range(len(GARBAGE)):
            rows.append(
                {
                    field.key: GARBAGE[(offset + index) % len(GARBAGE)]
                    for index, field in enumerate(spec.fields)
                    if not field.owned
                }
            )
        service.backend.append_rows(LAYOUT, "zh", spec.key, rows)
    before = people_cells(workbook)

    summary = service.run_once(NOW)

    assert summary.outcome == "ok"
    assert summary.rows_read == len(GARBAGE) * len(LAYOUT.of_kind("data"))
    assert summary.problems > 100
    after = people_cells(workbook)
    # A cell holding only spaces counts as blank: the service may fill an id there.
    typed = {
        k: v for k, v in before.items() if not (isinstance(v, str) and not v.strip())
    }
    assert {k: after.get(k) for k in typed} == typed
    book = load_workbook(workbook)
    problems = book["问题清单"]
    assert problems.max_row > 100
    typed_formulas = [
        cell
        for spec in LAYOUT.of_kind("data")
        for row in book[spec.zh].iter_rows(min_row=2)
        for cell in row
        if isinstance(cell.value, str) and cell.value.startswith("=")
    ]
    assert typed_formulas
    assert all(cell.data_type == "s" for cell in typed_formulas)


def test_second_cycle_at_the_same_time_writes_no_cell_and_no_mail(
    tmp_path: Path, state_db_url: str
) -> None:
    service, workbook = make_service(tmp_path, state_db_url)
    service.backend.append_rows(
        LAYOUT,
        "zh",
        "requests",
        [
            request_row(),
            request_row(
                id="REQ-00007",
                type="展会物料",
                content="展会样品10套",
                owner="李四",
                submitted_at=datetime(2025, 9, 26, 10, 0),
            ),
            request_row(
                id="REQ-00009",
                type="合同追加",
                content="追加配件100件",
                owner="李四",
                submitted_at=datetime(2025, 10, 14, 9, 0),
            ),
        ],
    )

    first = service.run_once(NOW)
    assert first.outcome == "ok"
    assert first.cells_written > 0
    assert first.mail_sent >= 2
    outbox = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(outbox) == first.mail_sent
    bytes_before = workbook.read_bytes()

    second = service.run_once(NOW)
    assert second.outcome == "ok"
    assert (second.cells_written, second.mail_queued, second.mail_sent) == (0, 0, 0)
    assert workbook.read_bytes() == bytes_before
    assert sorted((tmp_path / "outbox").glob("*.eml")) == outbox

    kinds = {
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)[
            "X-Automation-Key"
        ].split(":")[0]
        for p in outbox
    }
    assert kinds == {
        "alert_emergency",  # REQ (new id): on-site shortage 30 minutes ago
        "alert_escalation",  # REQ-00007: due 09-30, far past the 24 h threshold
        "alert_overdue",  # REQ-00009: 24 h add-on, due an hour ago
        "digest_owner",
        "digest_requester",
    }


def test_a_restart_neither_repeats_nor_drops_mail(
    tmp_path: Path, state_db_url: str
) -> None:
    service, workbook = make_service(tmp_path, state_db_url)
    service.backend.append_rows(
        LAYOUT,
        "zh",
        "requests",
        [request_row(id="REQ-00001")],
    )

    class Down:
        name = "down"

        def send(self, message: object) -> None:
            raise OSError("connection refused")

    service.transport = Down()
    first = service.run_once(NOW)
    assert first.mail_queued >= 1
    assert first.mail_failed == first.mail_queued
    assert not (tmp_path / "outbox").exists()

    service.close()
    restarted = Service(
        WorkbookBackend(workbook),
        StateStore(state_db_url),
        OutboxTransport(tmp_path / "outbox"),
    )
    OPEN.append(restarted)
    later = restarted.run_once(NOW.replace(minute=10))
    assert later.mail_queued == 0
    assert later.mail_sent == first.mail_queued
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == first.mail_queued


def test_broken_configuration_keeps_the_last_good_one(tmp_path: Path) -> None:
    service, workbook = make_service(tmp_path)
    assert service.run_once(NOW).used_last_good_config is False

    book = load_workbook(workbook)
    sla = book["时效规则"]
    for row in sla.iter_rows(min_row=2):
        if row[0].value == "REQ-EXPO":
            row[5].value = "三天"
    book.save(workbook)

    summary = service.run_once(NOW.replace(minute=5))
    assert summary.outcome == "ok"
    assert summary.used_last_good_config is True
    assert summary.config_problems == 1
    problems = [row for row in load_workbook(workbook)["问题清单"].values]
    assert any(r[0] == "时效规则" and "三天" in str(r[5]) for r in problems[1:])
    # No one is admin in the default People tab: the logistics manager hears of it.
    mails = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in (tmp_path / "outbox").glob("*.eml")
    ]
    told = [m for m in mails if m["X-Automation-Key"].startswith("problems_digest:")]
    assert [str(m["To"]) for m in told] == ["王芳 <wang.fang@example.com>"]
    body = told[0].get_body(("plain",)).get_content()
    assert "时效规则" in body and "三天" in body
