"""Rendering every kind of mail in both languages, and keeping cell text inert."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from typing import Any

import pytest

from automation.errors import MailError
from automation.mail.compose import KINDS, LANGUAGES, Rendered, oneline, render
from automation.mail.message import build_message

CHINA = timezone(timedelta(hours=8))
HOSTILE_SUMMARY = "<script>alert(1)</script>"
HOSTILE_LINES = "Subject\r\nBcc: evil@example.com"
HOSTILE_FORMULA = '=HYPERLINK("http://evil.example","click")'


def item(language: str, number: int, flag: str, **changes: Any) -> dict[str, Any]:
    """A realistic item as the service passes it to the templates."""
    zh = language == "zh"
    labels = {
        "overdue": ("已逾期", "Overdue"),
        "at_risk": ("有风险", "At risk"),
        "on_track": ("正常", "On track"),
    }
    values: dict[str, Any] = {
        "table": "需求提报" if zh else "Requests",
        "table_key": "requests",
        "id": f"R-20250312-{number:03d}",
        "summary": "展会样品10套 · 华东电气"
        if zh
        else "10 show samples · East Electric",
        "stage": "完成" if zh else "Done",
        "due": "2025-03-13 18:00",
        "flag": flag,
        "flag_label": labels[flag][0 if zh else 1],
        "late_hours": 15.0 if flag == "overdue" else None,
        "left_hours": None if flag == "overdue" else 1.5,
        "owner": "张伟" if zh else "Zhang Wei",
        "requester": "李娜" if zh else "Li Na",
        "status": "处理中" if zh else "In progress",
        "progress": "已联系仓库,等待出库" if zh else "Warehouse called, waiting",
        "provisional": False,
    }
    values.update(changes)
    return values


def common(language: str) -> dict[str, Any]:
    name = "王芳" if language == "zh" else "Wang Fang"
    return {
        "recipient": {"name": name, "email": "wangfang@example.com"},
        "generated_at": "2025-03-14 09:00",
        "language": language,
    }


def sample_context(kind: str, language: str) -> dict[str, Any]:
    """A context for `kind` with a few items, as the digest and alert jobs build it."""
    context = common(language)
    overdue = [item(language, 1, "overdue"), item(language, 2, "overdue")]
    at_risk = [item(language, 3, "at_risk", provisional=True)]
    due_today = [item(language, 4, "on_track", due="2025-03-14 18:00")]
    if kind == "digest_owner":
        context |= {"overdue": overdue, "at_risk": at_risk, "due_today": due_today}
    elif kind == "digest_requester":
        context["open"] = overdue[:1] + at_risk + due_today
    elif kind == "problems_digest":
        context["problems"] = [
            {
                "tab": "需求提报" if language == "zh" else "Requests",
                "row": 12,
                "id": "R-20250312-005",
                "column": "数量" if language == "zh" else "Quantity",
                "message": "填写的是“十”;应为数字"
                if language == "zh"
                else "not a number",
            },
            {
                "tab": "订单" if language == "zh" else "Orders",
                "row": 7,
                "id": "",
                "column": "客户" if language == "zh" else "Customer",
                "message": "未填写" if language == "zh" else "is empty",
            },
        ]
    elif kind == "alert_escalation":
        context |= {"items": overdue, "threshold_hours": "24"}
    else:
        context["item"] = overdue[0]
    return context


def items_of(context: dict[str, Any]) -> list[dict[str, Any]]:
    """The items or problems a context carries, in the order the mail shows them."""
    if "item" in context:
        return [context["item"]]
    if "problems" in context:
        return list(context["problems"])
    keys = ("overdue", "at_risk", "due_today", "open", "items")
    return [entry for key in keys for entry in context.get(key, [])]


def hostile_context(kind: str, language: str) -> dict[str, Any]:
    """The sample context with every item's text cells replaced by attacks."""
    context = sample_context(kind, language)
    for entry in items_of(context):
        for field in ("summary", "message"):
            if field in entry:
                entry[field] = HOSTILE_SUMMARY
        for field in ("id", "column"):
            entry[field] = HOSTILE_LINES
        if "progress" in entry:
            entry["progress"] = HOSTILE_FORMULA + "\n<b>bold</b>"
    if "owner" in context:
        context["owner"] = HOSTILE_LINES
    context["recipient"] = {"name": "<i>x</i>\r\nBcc: a@b.c", "email": "a@example.com"}
    return context


ALL = [(kind, language) for kind in KINDS for language in LANGUAGES]


@pytest.mark.parametrize(("kind", "language"), ALL)
def test_every_kind_renders_its_items_in_both_parts(kind: str, language: str) -> None:
    context = sample_context(kind, language)

    rendered = render(kind, language, context)  # type: ignore[arg-type]

    assert "\n" not in rendered.subject and rendered.subject == rendered.subject.strip()
    assert rendered.html.lstrip().startswith("<!DOCTYPE html>")
    for part in (rendered.html, rendered.text):
        assert context["recipient"]["name"] in part
        positions = [
            part.find(entry["id"] or entry["column"]) for entry in items_of(context)
        ]
        assert -1 not in positions
        assert positions == sorted(positions)


@pytest.mark.parametrize(("kind", "language"), ALL)
def test_text_part_lists_the_same_items_as_the_html_part(
    kind: str, language: str
) -> None:
    context = sample_context(kind, language)

    rendered = render(kind, language, context)  # type: ignore[arg-type]

    ids = re.compile(r"R-\d{8}-\d{3}")
    assert ids.findall(rendered.text) == ids.findall(rendered.html)
    summaries = [
        entry.get("summary") or entry["message"] for entry in items_of(context)
    ]
    for summary in summaries:
        assert rendered.text.count(summary) == rendered.html.count(summary) >= 1


@pytest.mark.parametrize(
    ("kind", "language", "subject"),
    [
        ("digest_owner", "zh", "【后勤协同】每日摘要:2 项逾期,1 项有风险,1 项今日到期"),
        (
            "digest_owner",
            "en",
            "[Logistics] Daily digest: 2 overdue, 1 at risk, 1 due today",
        ),
        (
            "digest_requester",
            "zh",
            "【后勤协同】需求进度:3 项未完成,1 项逾期,1 项有风险",
        ),
        (
            "digest_requester",
            "en",
            "[Logistics] Your requests: 3 open, 1 overdue, 1 at risk",
        ),
        ("problems_digest", "zh", "【后勤协同】表格问题:您录入的行中有 2 个问题"),
        ("problems_digest", "en", "[Logistics] 2 problems in rows you entered"),
        (
            "alert_emergency",
            "zh",
            "【后勤协同】紧急事项:R-20250312-001 展会样品10套 · 华东电气"
            "(截止 2025-03-13 18:00)",
        ),
        (
            "alert_emergency",
            "en",
            "[Logistics] Emergency: R-20250312-001 10 show samples · East Electric"
            " (due 2025-03-13 18:00)",
        ),
        (
            "alert_overdue",
            "zh",
            "【后勤协同】已逾期:R-20250312-001 展会样品10套 · 华东电气",
        ),
        (
            "alert_overdue",
            "en",
            "[Logistics] Overdue: R-20250312-001 10 show samples · East Electric",
        ),
        (
            "alert_escalation",
            "zh",
            "【后勤协同】逾期升级:2 项逾期超过 24 小时",
        ),
        (
            "alert_escalation",
            "en",
            "[Logistics] Escalation: 2 items late past 24 h",
        ),
    ],
)
def test_subjects_count_and_name_things(kind: str, language: str, subject: str) -> None:
    rendered = render(kind, language, sample_context(kind, language))  # type: ignore[arg-type]

    assert rendered.subject == subject


def test_english_problem_subject_uses_the_singular_for_one() -> None:
    context = sample_context("problems_digest", "en")
    context["problems"] = context["problems"][:1]

    rendered = render("problems_digest", "en", context)

    assert rendered.subject == "[Logistics] 1 problem in rows you entered"


@pytest.mark.parametrize(("kind", "language"), ALL)
def test_hostile_cell_text_stays_inert_in_html(kind: str, language: str) -> None:
    rendered = render(kind, language, hostile_context(kind, language))  # type: ignore[arg-type]

    assert "<script" not in rendered.html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "<b>bold</b>" not in rendered.html and "<i>x</i>" not in rendered.html
    assert "\r" not in rendered.subject and "\n" not in rendered.subject


@pytest.mark.parametrize(("kind", "language"), ALL)
def test_hostile_cell_text_cannot_add_a_header(kind: str, language: str) -> None:
    context = hostile_context(kind, language)
    for entry in items_of(context):
        if "summary" in entry:
            entry["summary"] = HOSTILE_LINES
    rendered = render(kind, language, context)  # type: ignore[arg-type]

    message = build_message(
        rendered,
        sender="后勤协同 <noreply@example.com>",
        to=["wangfang@example.com"],
        key=f"{kind}:{language}",
        when=datetime(2025, 3, 14, 9, 0, tzinfo=CHINA),
    )
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)

    assert parsed["Bcc"] is None
    assert parsed.get_all("To") == ["wangfang@example.com"]
    assert "\n" not in str(parsed["Subject"])


def test_subject_folds_line_breaks_of_a_cell_into_spaces() -> None:
    context = sample_context("alert_overdue", "en")
    context["item"]["summary"] = HOSTILE_LINES

    rendered = render("alert_overdue", "en", context)

    assert rendered.subject.endswith("Subject Bcc: evil@example.com")


def test_long_summary_is_cut_in_the_subject_but_not_in_the_body() -> None:
    context = sample_context("alert_overdue", "zh")
    context["item"]["summary"] = "很长的事项" * 40

    rendered = render("alert_overdue", "zh", context)

    assert rendered.subject.endswith("…")
    assert len(rendered.subject) < 100
    assert "很长的事项" * 40 in rendered.html


def test_progress_note_keeps_its_line_breaks_in_html() -> None:
    context = sample_context("alert_overdue", "en")
    context["item"]["progress"] = "first <line>\nsecond"

    rendered = render("alert_overdue", "en", context)

    assert "first &lt;line&gt;<br>second" in rendered.html
    assert "Progress: first <line> second" in rendered.text


def test_flag_badges_are_coloured_by_flag() -> None:
    rendered = render("digest_owner", "en", sample_context("digest_owner", "en"))

    assert re.search(r"background:#c62828;color:#ffffff;\">Overdue<", rendered.html)
    assert re.search(r"background:#f9a825;color:#3e2723;\">At risk<", rendered.html)
    assert re.search(r"background:#2e7d32;color:#ffffff;\">On track<", rendered.html)


def test_hours_late_and_left_are_shown() -> None:
    rendered = render("digest_owner", "zh", sample_context("digest_owner", "zh"))

    assert rendered.html.count("逾期 15 小时") == 2
    assert rendered.text.count("逾期 15 小时") == 2
    assert "剩余 1.5 小时" in rendered.html and "剩余 1.5 小时" in rendered.text


def test_provisional_due_times_are_marked_and_explained() -> None:
    context = sample_context("digest_owner", "en")

    with_provisional = render("digest_owner", "en", context)
    context["at_risk"][0]["provisional"] = False
    without = render("digest_owner", "en", context)

    assert "(provisional)" in with_provisional.html
    assert "not yet officially announced" in with_provisional.text
    assert "provisional" not in without.html and "provisional" not in without.text


def test_footer_says_why_and_where_to_change_things() -> None:
    rendered = render(
        "digest_requester", "zh", sample_context("digest_requester", "zh")
    )

    for part in (rendered.html, rendered.text):
        assert "是因为这些需求是您提报的" in part
        assert "请直接在共享表格中更新" in part
        assert "生成于 2025-03-14 09:00" in part


def test_empty_owner_digest_says_nothing_is_due() -> None:
    context = common("en") | {"overdue": [], "at_risk": [], "due_today": []}

    rendered = render("digest_owner", "en", context)

    assert "Nothing of yours is overdue" in rendered.html
    assert "Nothing of yours is overdue" in rendered.text


def test_missing_context_key_is_an_error_not_a_blank() -> None:
    context = sample_context("digest_owner", "en")
    del context["due_today"]

    with pytest.raises(MailError, match="due_today"):
        render("digest_owner", "en", context)


def test_missing_item_field_is_an_error_not_a_blank() -> None:
    context = sample_context("alert_overdue", "zh")
    del context["item"]["progress"]

    with pytest.raises(MailError, match="progress"):
        render("alert_overdue", "zh", context)


def test_unknown_kind_or_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        render("weekly_party", "en", {})
    with pytest.raises(ValueError, match="unknown language"):
        render("digest_owner", "fr", {})  # type: ignore[arg-type]


def test_language_argument_wins_over_the_context() -> None:
    context = sample_context("alert_overdue", "zh") | {"language": "en"}

    rendered = render("alert_overdue", "zh", context)

    assert '<html lang="zh-CN">' in rendered.html


def test_oneline_collapses_every_kind_of_line_break() -> None:
    assert oneline(" a\r\nb\u2028c\x85d\t e ") == "a b c d e"
    assert oneline("abcdef", limit=4) == "abc…"


def test_rendered_is_immutable() -> None:
    rendered = Rendered(subject="s", html="h", text="t")

    with pytest.raises(AttributeError):
        rendered.subject = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("language", "subject", "intro"),
    [
        ("zh", "【后勤协同】逾期升级:2 项逾期超过 48 小时", "升级阈值 48 小时"),
        ("en", "[Logistics] Escalation: 2 items late past 48 h", "threshold of 48 h"),
    ],
)
def test_escalation_lists_a_managers_items(
    language: str, subject: str, intro: str
) -> None:
    context = common(language) | {
        "items": [item(language, 1, "overdue"), item(language, 2, "overdue")],
        "threshold_hours": "48",
    }

    rendered = render("alert_escalation", language, context)  # type: ignore[arg-type]

    assert rendered.subject == subject
    html_words = re.sub(r"<[^>]+>", "", rendered.html)
    for part in (html_words, rendered.text):
        assert intro in part
        assert "R-20250312-001" in part and "R-20250312-002" in part


@pytest.mark.parametrize(
    ("language", "hours", "shown"),
    [
        ("zh", 26.5, "逾期 26.5 小时"),
        ("zh", 3475.4, "逾期 144.8 天"),
        ("en", 47.9, "47.9 h late"),
        ("en", 72.0, "3 days late"),
    ],
)
def test_long_delays_read_in_days(language: str, hours: float, shown: str) -> None:
    late = item(language, 1, "overdue") | {"late_hours": hours}
    context = common(language) | {"items": [late], "threshold_hours": "24"}

    rendered = render("alert_escalation", language, context)  # type: ignore[arg-type]

    assert shown in rendered.text
    assert shown in re.sub(r"<[^>]+>", "", rendered.html)
