"""Mail people read: templates rendered per kind and language, messages, transports.

`render` fills the Jinja templates in `templates/`, `build_message` wraps the result
in a standard email message, and a `Transport` hands it on; `OutboxTransport`, the
default, writes it to a folder instead of sending it.
"""

from automation.mail.compose import KINDS, Rendered, render
from automation.mail.message import build_message, format_address
from automation.mail.outbox import OutboxTransport, Transport

__all__ = [
    "KINDS",
    "OutboxTransport",
    "Rendered",
    "Transport",
    "build_message",
    "format_address",
    "render",
]
