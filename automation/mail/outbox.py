"""Where composed messages go: the transport protocol and the outbox folder.

The outbox is the embedded default: instead of sending, each message is written as
`<key>.eml` (the bytes SMTP would carry) and `<key>.html` (a preview to open in a
browser). The file names come from the X-Automation-Key header, so sending the same
notification again replaces its files instead of adding new ones.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Protocol

from automation.errors import MailError
from automation.files import write_atomically
from automation.mail.message import KEY_HEADER

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")
_BODY_TAG = re.compile(r"<body[^>]*>", re.IGNORECASE)
_PREVIEW_STYLE = (
    "font-family:monospace;font-size:13px;background:#fff8c5;color:#1f2328;"
    "border-bottom:1px solid #d4a72c;padding:8px 12px;margin:0;"
)


class Transport(Protocol):
    """Something that hands a finished message on; raises MailError when it cannot."""

    name: str

    def send(self, message: EmailMessage) -> None: ...


class OutboxTransport:
    """Write each message into a folder instead of sending it."""

    name = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def send(self, message: EmailMessage) -> None:
        """Write `<safe-key>.eml` and `<safe-key>.html`, replacing earlier ones."""
        key = message.get(KEY_HEADER)
        if not key:
            raise MailError(
                f"message has no {KEY_HEADER} header; build it with "
                "automation.mail.message.build_message"
            )
        stem = safe_name(str(key))
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            raw = message.as_bytes(policy=SMTP)
            page = preview(message).encode()
            # A reader of the outbox, or a crash, never sees half a file.
            write_atomically(self.folder / f"{stem}.eml", lambda out: out.write(raw))
            write_atomically(self.folder / f"{stem}.html", lambda out: out.write(page))
        except OSError as error:
            raise MailError(
                f"could not write to the outbox {self.folder} ({error}); "
                "check that the folder exists and is writable"
            ) from error
        logger.info("outbox wrote message %s (%d bytes)", stem[-12:], len(raw))


def safe_name(key: str) -> str:
    """A file name for `key`: its readable characters and a hash against clashes."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    readable = _UNSAFE.sub("_", key).strip("._")[:80]
    return f"{readable}-{digest}" if readable else digest


def preview(message: EmailMessage) -> str:
    """The message's HTML part with a small block showing From, To, Cc and Subject."""
    body = message.get_body(preferencelist=("html",))
    if body is None or not isinstance(body, EmailMessage):
        raise MailError(
            "message has no HTML part to preview; build it with build_message"
        )
    page = str(body.get_content())

    rows = [
        f"<strong>{name}:</strong> {html.escape(str(message[name]))}"
        for name in ("From", "To", "Cc", "Subject")
        if message[name] is not None
    ]
    block = f'<div style="{_PREVIEW_STYLE}">' + "<br>".join(rows) + "</div>"

    match = _BODY_TAG.search(page)
    if match is None:
        return block + page
    return page[: match.end()] + block + page[match.end() :]
