"""Spreadsheets on the fake Sheets API, laid out and filled like the demo workbook.

Shared by the Sheets backend tests, the contract suite and the benchmark: a fake
spreadsheet with every tab of the layout (header row in the chosen language), the
configuration defaults, and the demo's data rows, written through the backend's own
`append_rows` so they arrive as the service would find them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from automation.backends.sheets import SheetsBackend
from automation.backends.sheets_api import Quota, RetryPolicy
from automation.demo_data import REFERENCE, build_demo
from automation.layout import Language, Layout, load_defaults, load_layout
from automation.model import CellValue
from tests.fake_sheets import FakeSheetsAPI, FakeSpreadsheet

UNLIMITED = Quota(10**9, 10**9)  # the fake has no quota unless a test sets one


class Clock:
    """A monotonic clock for a Quota under test: sleeping moves it on, and is noted."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def no_sleep(seconds: float) -> None:
    """A sleep that returns at once, for backends under test."""


def backend(
    api: FakeSheetsAPI,
    key: str,
    *,
    layout: Layout | None = None,
    retry: RetryPolicy | None = None,
    quota: Quota | None = None,
    sleeps: list[float] | None = None,
    max_payload: int | None = None,
) -> SheetsBackend:
    """A SheetsBackend on the fake through a real gspread client; sleeps recorded."""

    def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    options: dict[str, Any] = {}
    if max_payload is not None:
        options["max_payload"] = max_payload
    return SheetsBackend(
        api.client(),
        key,
        layout=layout,
        retry=retry,
        quota=quota or UNLIMITED,
        sleep=sleep,
        jitter=lambda low, high: high,  # the longest wait: budgets are tested hardest
        **options,
    )


def blank_spreadsheet(
    api: FakeSheetsAPI,
    *,
    language: Language = "zh",
    time_zone: str = "Asia/Shanghai",
    locale: str = "zh_CN",
    skip: Sequence[str] = (),
    rows: int = 1000,
) -> str:
    """A spreadsheet with every layout tab but `skip` (table keys), headers only."""
    layout = load_layout()
    tabs = {
        spec.title(language): [[field.label(language) for field in spec.fields]]
        for spec in layout.tables
        if spec.key not in skip
    }
    return api.create_spreadsheet(
        "agreement", sheets=tabs, time_zone=time_zone, locale=locale, rows=rows, cols=40
    )


def fill(
    api: FakeSheetsAPI,
    key: str,
    tables: Mapping[str, Sequence[Mapping[str, CellValue]]],
    *,
    language: Language = "zh",
) -> None:
    """Append rows (table key to rows of field key to value) through the backend."""
    layout = load_layout()
    writer = backend(api, key)
    for table, rows in tables.items():
        writer.append_rows(layout, language, table, [dict(row) for row in rows])


def demo_tables(now: datetime = REFERENCE) -> dict[str, list[dict[str, CellValue]]]:
    """The configuration defaults and the demo's rows, People from the demo."""
    data: dict[str, Any] = build_demo(now)
    tables: dict[str, list[dict[str, CellValue]]] = dict(load_defaults())  # type: ignore[arg-type]
    tables["people"] = data.pop("people")
    tables.update(data)
    return tables


def demo_spreadsheet(
    api: FakeSheetsAPI,
    *,
    language: Language = "zh",
    time_zone: str = "Asia/Shanghai",
    locale: str = "zh_CN",
    skip: Sequence[str] = (),
) -> str:
    """A spreadsheet holding the demo, as `automation demo` builds its workbook.

    Built once per set of arguments and copied after that: tests stay fast.
    """
    template = _demo_template(language, time_zone, locale, tuple(skip))
    return api.add_copy(template)


@functools.cache
def _demo_template(
    language: Language, time_zone: str, locale: str, skip: tuple[str, ...]
) -> FakeSpreadsheet:
    builder = FakeSheetsAPI()
    key = blank_spreadsheet(
        builder, language=language, time_zone=time_zone, locale=locale, skip=skip
    )
    tables = {k: v for k, v in demo_tables().items() if k not in skip}
    fill(builder, key, tables, language=language)
    return builder.book(key)
