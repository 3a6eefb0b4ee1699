"""`automation demo` end to end: the workbook and the outbox a new user looks at."""

from __future__ import annotations

import contextlib
import email
import email.policy
import io
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook

from automation.cli import main
from automation.layout import load_layout

LAYOUT = load_layout()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("demo")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["demo", "--dir", str(folder)]) == 0
    return folder, out.getvalue()


def test_demo_prints_what_it_did_and_where_to_look(demo: tuple[Path, str]) -> None:
    folder, printed = demo
    assert "Demo at 2025-10-15 10:00" in printed
    for line in ("rows read", "problems", "overdue", "at risk", "mails written"):
        assert line in printed
    assert str(folder / "workbook.xlsx") in printed
    assert str(folder / "outbox") in printed


def test_demo_workbook_has_every_tab_and_computed_columns(
    demo: tuple[Path, str],
) -> None:
    folder, _ = demo
    book = load_workbook(folder / "workbook.xlsx")
    assert [spec.zh for spec in LAYOUT.tables] == book.sheetnames

    requests = list(book["需求提报"].values)
    header = list(requests[0])
    rows = requests[1:]
    assert len(rows) >= 100
    flags = {row[header.index("时效标记")] for row in rows}
    assert {"正常", "有风险", "已逾期", "按时完成", "逾期完成"} <= flags
    assert all(row[header.index("需求编号")] for row in rows)
    checks = [
        row[header.index("检查结果")] for row in rows if row[header.index("检查结果")]
    ]
    assert any("下周三" in check for check in checks)

    problems = list(book["问题清单"].values)
    assert len(problems) > 5
    assert {row[0] for row in problems[1:]} >= {"需求提报", "订单", "售后"}
    kpis = list(book["KPI"].values)
    assert {row[2] for row in kpis[1:]} >= {
        "时效达成率",
        "交付准时率",
        "订单响应时效(小时)",
    }
    log = list(book["通知记录"].values)
    assert len(log) > 1


def test_demo_outbox_holds_readable_mail_in_pairs(demo: tuple[Path, str]) -> None:
    folder, _ = demo
    outbox = folder / "outbox"
    messages = sorted(outbox.glob("*.eml"))
    assert len(messages) >= 10
    assert {p.stem for p in outbox.glob("*.html")} == {p.stem for p in messages}

    kinds = set()
    for path in messages:
        message = email.message_from_bytes(
            path.read_bytes(), policy=email.policy.default
        )
        kinds.add(message["X-Automation-Key"].split(":")[0])
        assert message["To"].addresses[0].addr_spec.endswith("@example.com")
        assert "\n" not in str(message["Subject"])
        html = message.get_body(("html",))
        assert html is not None and "<script" not in html.get_content()
    assert {
        "alert_emergency",
        "alert_escalation",
        "digest_owner",
        "digest_requester",
        "problems_digest",
    } <= kinds


def test_demo_twice_gives_the_same_first_cycle(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    # A second demo in a folder holding a first one starts again from nothing.
    folder, first = demo
    again = tmp_path / "again"
    shutil.copytree(folder, again)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["demo", "--dir", str(again)]) == 0
    assert out.getvalue().replace(str(again), "DIR") == first.replace(
        str(folder), "DIR"
    )
    mails = sorted(path.name for path in (again / "outbox").glob("*.eml"))
    assert mails == sorted(path.name for path in (folder / "outbox").glob("*.eml"))
    assert len(list((again / "outbox").glob("*.eml"))) >= 10
