"""Building messages and writing them to the outbox, read back as a client would."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from automation.errors import MailError
from automation.mail import OutboxTransport, Rendered, Transport, build_message, render
from automation.mail.message import KEY_HEADER, format_address, parse_address
from automation.mail.outbox import safe_name

CHINA = timezone(timedelta(hours=8))
WHEN = datetime(2025, 3, 14, 9, 0, tzinfo=CHINA)
SUBJECT = "【后勤协同】每日摘要:3 项逾期,2 项有风险"
HTML = "<!DOCTYPE html><html><body style='x'><p>逾期 <b>3</b> 项</p></body></html>"
TEXT = "逾期 3 项\n"
KEY = "digest_owner:2025-03-14:zhangwei@example.com"


def make(key: str = KEY, **changes: object) -> EmailMessage:
    arguments: dict[str, object] = {
        "sender": "后勤协同 <noreply@example.com>",
        "to": ["张伟 <zhangwei@example.com>"],
        "cc": ["Li Na <lina@example.com>"],
        "key": key,
        "when": WHEN,
    }
    arguments.update(changes)
    rendered = Rendered(subject=SUBJECT, html=HTML, text=TEXT)
    return build_message(rendered, **arguments)  # type: ignore[arg-type]


def read_back(path: Path) -> EmailMessage:
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_eml_parses_back_with_headers_and_both_parts(tmp_path: Path) -> None:
    OutboxTransport(tmp_path).send(make())

    [eml] = tmp_path.glob("*.eml")
    parsed = read_back(eml)

    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Subject"] == SUBJECT
    assert parsed["From"].addresses[0].display_name == "后勤协同"
    assert parsed["To"].addresses[0].addr_spec == "zhangwei@example.com"
    assert parsed["To"].addresses[0].display_name == "张伟"
    assert parsed["Cc"] == "Li Na <lina@example.com>"
    assert parsed["Date"].datetime == WHEN
    assert parsed[KEY_HEADER] == KEY
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    # The file has CRLF line ends, as SMTP does; the parser keeps them in 8bit parts.
    assert text is not None and text.get_content().replace("\r\n", "\n") == TEXT
    assert html is not None and html.get_content().strip() == HTML
    assert html.get_content_charset() == "utf-8"


def test_chinese_headers_travel_encoded_as_smtp_needs(tmp_path: Path) -> None:
    OutboxTransport(tmp_path).send(make())

    raw = next(tmp_path.glob("*.eml")).read_bytes()
    headers = raw.split(b"\r\n\r\n", 1)[0]

    assert headers.isascii()
    assert b"=?utf-8?" in headers
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")


def test_same_key_twice_gives_one_file_pair(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path)

    outbox.send(make())
    outbox.send(make(to=["lina@example.com"]))

    files = sorted(path.name for path in tmp_path.iterdir())
    assert [Path(name).suffix for name in files] == [".eml", ".html"]
    assert read_back(tmp_path / files[0])["To"] == "lina@example.com"


def test_different_keys_give_different_file_pairs(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path)

    outbox.send(make(key="alert_overdue:R-1:1"))
    outbox.send(make(key="alert_overdue:R-1/1"))

    assert len(list(tmp_path.glob("*.eml"))) == 2
    assert len(list(tmp_path.glob("*.html"))) == 2


def test_preview_shows_the_headers_escaped_above_the_mail(tmp_path: Path) -> None:
    rendered = Rendered(subject="<b>x</b> 摘要", html=HTML, text=TEXT)
    message = build_message(
        rendered, sender="noreply@example.com", to=["a@example.com"], key=KEY, when=WHEN
    )

    OutboxTransport(tmp_path / "new" / "outbox").send(message)

    page = next((tmp_path / "new" / "outbox").glob("*.html")).read_text("utf-8")
    assert page.startswith("<!DOCTYPE html><html><body style='x'><div")
    assert "<strong>Subject:</strong> &lt;b&gt;x&lt;/b&gt; 摘要" in page
    assert "<strong>To:</strong> a@example.com" in page
    assert page.index("Subject:") < page.index("<p>逾期 <b>3</b> 项</p>")


def test_outbox_leaves_no_temporary_files(tmp_path: Path) -> None:
    OutboxTransport(tmp_path).send(make())

    assert sorted(path.suffix for path in tmp_path.iterdir()) == [".eml", ".html"]


def test_message_without_key_is_refused(tmp_path: Path) -> None:
    message = make()
    del message[KEY_HEADER]

    with pytest.raises(MailError, match=KEY_HEADER):
        OutboxTransport(tmp_path).send(message)
    assert list(tmp_path.iterdir()) == []


def test_outbox_is_a_transport() -> None:
    transport: Transport = OutboxTransport(Path("unused"))

    assert transport.name == "outbox"


def test_message_id_is_stable_per_key() -> None:
    first, again, other = make(), make(when=WHEN + timedelta(days=1)), make(key="k2")

    assert first["Message-ID"] == again["Message-ID"]
    assert first["Message-ID"] != other["Message-ID"]
    assert str(first["Message-ID"]).endswith("@example.com>")


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make(when=datetime(2025, 3, 14, 9, 0))


@pytest.mark.parametrize("key", ["a\r\nBcc: x@example.com", "", " padded"])
def test_key_must_be_one_clean_line(key: str) -> None:
    with pytest.raises(ValueError, match="key must be one line"):
        make(key=key)


@pytest.mark.parametrize(
    "address",
    [
        "Eve\r\nBcc: evil@example.com <eve@example.com>",
        "eve@example.com\nBcc: evil@example.com",
        "not an address",
        "alice@example.org)<bob@example.org>",
        "a@example.com, b@example.com",
        "",
    ],
)
def test_address_that_could_smuggle_or_mislead_is_refused(address: str) -> None:
    with pytest.raises(MailError, match="People tab"):
        make(to=[address])


def test_subject_with_line_breaks_stays_one_header() -> None:
    rendered = Rendered(subject="a\r\nBcc: evil@example.com", html=HTML, text=TEXT)

    message = build_message(
        rendered, sender="noreply@example.com", to=["a@example.com"], key=KEY, when=WHEN
    )
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)

    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "a Bcc: evil@example.com"


def test_no_recipient_is_refused() -> None:
    with pytest.raises(MailError, match="recipient"):
        make(to=[])


def test_format_address_quotes_names_that_need_it() -> None:
    written = format_address("Zhang, Wei", "zhangwei@example.com")

    assert written == '"Zhang, Wei" <zhangwei@example.com>'
    assert parse_address(written).display_name == "Zhang, Wei"


def test_safe_name_keeps_readable_part_and_separates_lookalikes() -> None:
    assert safe_name("digest_owner:2025-03-14").startswith("digest_owner_2025-03-14-")
    assert safe_name("a:b") != safe_name("a/b")
    assert "/" not in safe_name("../../etc/passwd")
    assert not safe_name("../../etc/passwd").startswith(".")


def test_rendered_mail_round_trips_through_the_outbox(tmp_path: Path) -> None:
    item = {
        "table": "需求提报",
        "table_key": "requests",
        "id": "R-1",
        "summary": "展会样品10套 · 华东电气",
        "stage": "完成",
        "due": "2025-03-13 18:00",
        "flag": "overdue",
        "flag_label": "已逾期",
        "late_hours": 15.0,
        "left_hours": None,
        "owner": "张伟",
        "requester": "李娜",
        "status": "处理中",
        "progress": "",
        "provisional": False,
    }
    context = {
        "recipient": {"name": "张伟", "email": "zhangwei@example.com"},
        "generated_at": "2025-03-14 09:00",
        "item": item,
    }
    rendered = render("alert_overdue", "zh", context)
    message = build_message(
        rendered,
        sender="noreply@example.com",
        to=["zhangwei@example.com"],
        key="alert_overdue:R-1",
        when=WHEN,
    )

    OutboxTransport(tmp_path).send(message)

    parsed = read_back(next(tmp_path.glob("*.eml")))
    assert parsed["Subject"] == "【后勤协同】已逾期:R-1 展会样品10套 · 华东电气"
    html = parsed.get_body(preferencelist=("html",))
    assert html is not None and "逾期 15 小时" in html.get_content()
