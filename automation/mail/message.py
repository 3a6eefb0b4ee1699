"""Wrap a rendered mail into a standard email message, ready for any transport.

Addresses go through `email.headerregistry`, so Chinese display names are encoded
per RFC 2047 and a CR or LF in any value can never start a header of its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from email.errors import HeaderParseError, ObsoleteHeaderDefect
from email.headerregistry import Address, AddressHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import SMTP
from typing import cast

from automation.errors import MailError
from automation.mail.compose import Rendered, oneline

KEY_HEADER = "X-Automation-Key"
_FALLBACK_DOMAIN = "automation.invalid"
_REGISTRY = HeaderRegistry()


def build_message(
    rendered: Rendered,
    *,
    sender: str,
    to: Sequence[str],
    cc: Sequence[str] = (),
    key: str,
    when: datetime,
) -> EmailMessage:
    """Build a multipart/alternative message (plain text and HTML, UTF-8).

    Addresses are "addr@example.com" or "Name <addr@example.com>". `key` names the
    notification (same key, same Message-ID) and is kept in X-Automation-Key; `when`
    must be timezone-aware. Raises MailError for an address that cannot be used.
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("when must be timezone-aware, e.g. datetime(..., tzinfo=tz)")
    if not key or key != oneline(key):
        raise ValueError(f"key must be one line without blanks at its ends: {key!r}")
    if not to:
        raise MailError("a message needs at least one recipient; check the People tab")

    from_address = parse_address(sender)
    message = EmailMessage(policy=SMTP)
    message["From"] = from_address
    message["To"] = [parse_address(value) for value in to]
    if cc:
        message["Cc"] = [parse_address(value) for value in cc]
    message["Subject"] = oneline(rendered.subject)
    message["Date"] = when
    message["Message-ID"] = message_id(key, from_address.domain)
    message[KEY_HEADER] = key

    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return message


def message_id(key: str, domain: str = "") -> str:
    """A Message-ID that depends only on the key and the sender's domain."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain or _FALLBACK_DOMAIN}>"


def format_address(name: str, email: str) -> str:
    """Write a person as "Name <addr>", quoting the name where it needs quotes."""
    return str(Address(display_name=oneline(name), addr_spec=email.strip()))


def parse_address(value: str) -> Address:
    """Turn "addr" or "Name <addr>" into one Address, or raise MailError."""
    if "\r" in value or "\n" in value:
        # Folding a line break away could join two addresses into one; refuse it.
        raise MailError(
            f"address {value!r} contains a line break; fix it in the People tab"
        )
    try:
        header = _REGISTRY("To", value)
    except (HeaderParseError, ValueError, IndexError) as error:
        raise MailError(_bad_address(value)) from error

    invalid = [d for d in header.defects if not isinstance(d, ObsoleteHeaderDefect)]
    addresses = cast(AddressHeader, header).addresses
    if invalid or len(addresses) != 1:
        raise MailError(_bad_address(value))

    address = addresses[0]
    if not address.username or not address.domain:
        raise MailError(_bad_address(value))
    return address


def _bad_address(value: str) -> str:
    return (
        f"{value!r} is not one mail address; write it as name@example.com "
        'or "Name <name@example.com>" in the People tab'
    )
