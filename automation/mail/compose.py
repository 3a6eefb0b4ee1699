"""Turn a kind of mail, a language and a context into a subject, HTML and plain text.

Templates live in `templates/` at the project root: `<kind>.<lang>.subject.j2`,
`<kind>.<lang>.html.j2` and `<kind>.<lang>.txt.j2`. HTML templates are autoescaped, so
cell text never runs as markup; a missing context key fails loudly instead of
rendering blank. Known limit: the folder is found beside the package source, so an
install that does not ship `templates/` next to `automation/` cannot render mail.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from automation.errors import MailError
from automation.layout import Language

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

KINDS = (
    "digest_owner",
    "digest_requester",
    "problems_digest",
    "alert_emergency",
    "alert_overdue",
    "alert_escalation",
)
LANGUAGES: tuple[Language, ...] = ("zh", "en")

# Every kind of line break and run of blanks, including the Unicode separators some
# mail clients honour, so a cell can never start a new line in a subject.
_BLANKS = re.compile(r"[\s\u2028\u2029\x85]+")
# Template blocks leave runs of empty lines in plain text; one empty line is enough.
_EXTRA_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Rendered:
    """One composed mail: a one-line subject, the HTML part and the plain-text part."""

    subject: str
    html: str
    text: str


def render(kind: str, language: Language, context: Mapping[str, object]) -> Rendered:
    """Render the three templates of `kind` in `language` with `context`.

    `language` chooses the templates and is passed to them as `language`. Raises
    ValueError for an unknown kind or language and MailError when a template is
    missing or needs a key the context lacks.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind of mail {kind!r}; expected one of {KINDS}")
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; expected 'zh' or 'en'")

    values = {**context, "language": language}
    subject = _render_one(f"{kind}.{language}.subject.j2", values)
    html = _render_one(f"{kind}.{language}.html.j2", values)
    text = _EXTRA_BLANK_LINES.sub(
        "\n\n", _render_one(f"{kind}.{language}.txt.j2", values)
    )
    logger.debug("rendered mail kind=%s language=%s", kind, language)
    return Rendered(subject=oneline(subject), html=html, text=text)


def oneline(value: object, limit: int | None = None) -> str:
    """Collapse all line breaks and blank runs to single spaces, cutting at `limit`."""
    text = _BLANKS.sub(" ", str(value)).strip()
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + "…"
    return text


def hours(value: object) -> str:
    """Format a number of hours with one decimal, dropping a trailing `.0`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    text = f"{value:.1f}"
    return text.removesuffix(".0")


def nl2br(value: object) -> Markup:
    """Escape cell text and keep its line breaks as `<br>` in HTML."""
    lines = str(value).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return Markup("<br>").join(escape(line) for line in lines)


def _render_one(name: str, values: Mapping[str, object]) -> str:
    try:
        template = environment().get_template(name)
        return template.render(values)
    except jinja2.TemplateNotFound as error:
        raise MailError(
            f"mail template {error.name} is missing from {TEMPLATES}; "
            "restore it from the project's templates folder"
        ) from error
    except jinja2.UndefinedError as error:
        raise MailError(
            f"mail template {name} needs a value the context lacks ({error.message}); "
            "pass it when composing this kind of mail"
        ) from error


def _autoescape(name: str | None) -> bool:
    # Only HTML templates escape; subjects and plain text must keep "<" and "&".
    return name is not None and name.endswith(".html.j2")


@cache
def environment() -> jinja2.Environment:
    """The one Jinja environment for all mail, built on first use."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["oneline"] = oneline
    env.filters["hours"] = hours
    env.filters["nl2br"] = nl2br
    return env
