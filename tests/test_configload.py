"""Reading the configuration tabs: defaults, aliases, and the exact problem messages."""

from __future__ import annotations

import tomllib
from datetime import date, time
from zoneinfo import ZoneInfo

import pytest

from automation.config import Clock, Config, Meaning, SlaRule
from automation.configload import load_config, usable
from automation.layout import SHEETS_CONFIG, Language, load_defaults, load_layout
from automation.model import CellValue, Grid, Snapshot
from automation.problems import Problem

LAYOUT = load_layout()
SLA_ROW: dict[str, CellValue] = {
    "rule": "ORD-X",
    "table": "orders",
    "stage": "picked",
    "within": 2,
    "clock": "working_hours",
}


def tab(
    table: str,
    language: Language,
    rows: list[dict[str, CellValue]],
    keys: list[str] | None = None,
) -> Grid:
    """A tab as a backend reads it: a header in `language`, then one row per dict."""
    spec = LAYOUT.table(table)
    if keys is None:
        used = {key for row in rows for key in row}
        keys = [field.key for field in spec.fields if field.key in used]
    header: list[CellValue] = [spec.field(key).label(language) for key in keys]
    body = [[row.get(key) for key in keys] for row in rows]
    return Grid(spec.title(language), [header, *body])


def load(*grids: Grid) -> tuple[Config, list[Problem]]:
    return load_config(Snapshot({grid.title: grid for grid in grids}), LAYOUT)


def messages(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.message("zh", LAYOUT), p.message("en", LAYOUT)) for p in problems]


def default_people(*extra: dict[str, CellValue]) -> list[dict[str, CellValue]]:
    rows: list[dict[str, CellValue]] = [
        {k: v for k, v in row.items() if isinstance(v, str | bool)}
        for row in load_defaults()["people"]
    ]
    return [*rows, *extra]


def test_missing_tabs_give_the_defaults_without_problems() -> None:
    config, problems = load_config(Snapshot(grids={}), LAYOUT)

    assert problems == []
    assert usable(problems)
    assert config.language == "zh"
    assert config.calendar.time_zone == ZoneInfo("Asia/Shanghai")
    assert config.calendar.working_hours == (
        (time(9, 0), time(12, 0)),
        (time(13, 30), time(18, 0)),
    )
    assert set(config.people) == {"王芳", "张三", "李四", "赵敏"}
    assert config.at_risk_share == 0.25
    assert config.escalation_after_hours == 24.0
    assert config.targets["support_cost_ratio"].low == pytest.approx(0.03)
    assert config.targets["support_cost_ratio"].high == pytest.approx(0.05)
    assert config.schedules["daily_digest"] == "30 8 * * mon-fri"


def test_default_sla_rules_are_those_of_defaults_toml() -> None:
    config, _ = load_config(Snapshot(grids={}), LAYOUT)
    raw = tomllib.loads((SHEETS_CONFIG / "defaults.toml").read_text("utf-8"))["sla"]

    expected = tuple(
        SlaRule(
            rule=row["rule"],
            table=row["table"],
            stage=row["stage"],
            within=float(row["within"]),
            clock=Clock(row["clock"]),
            when_field=row.get("when_field"),
            when_values=frozenset([row["when_values"]] if "when_values" in row else []),
            emergency=row.get("emergency", False),
        )
        for row in raw
    )
    assert config.sla == expected
    emergency = next(rule for rule in config.sla if rule.rule == "REQ-EMERG")
    assert (emergency.within, emergency.clock, emergency.emergency) == (
        2.0,
        Clock.CALENDAR_HOURS,
        True,
    )


BAD_CELLS = {
    "bad clock": (
        [tab("sla", "en", [{**SLA_ROW, "clock": "hours"}])],
        "“时效规则”第 2 行“计时方式”列:填写的是“hours”;应为calendar_hours/"
        "working_hours/working_days/calendar_days,例如 working_days",
        "SLA, row 2, column “Clock”: found “hours”; expected calendar_hours/"
        "working_hours/working_days/calendar_days, for example working_days",
    ),
    "bad number of hours in SLA": (
        [tab("sla", "zh", [{**SLA_ROW, "within": "三天"}])],
        "“时效规则”第 2 行“时限”列:填写的是“三天”;应为正数,例如 24",
        "SLA, row 2, column “Within”: found “三天”; expected a positive number, "
        "for example 24",
    ),
    "bad escalation hours": (
        [
            tab(
                "settings",
                "en",
                [{"key": "escalation_after_hours", "value": "one day"}],
            )
        ],
        "“设置”第 2 行“值”列:填写的是“one day”;应为小时数,例如 24",
        "Settings, row 2, column “Value”: found “one day”; expected a number of "
        "hours, for example 24",
    ),
    "unknown table": (
        [tab("sla", "zh", [{**SLA_ROW, "table": "Invoices"}])],
        "“时效规则”第 2 行“表”列:填写的是“Invoices”;应为requests/orders/returns,"
        "例如 orders",
        "SLA, row 2, column “Table”: found “Invoices”; expected "
        "requests/orders/returns, for example orders",
    ),
    "unknown stage": (
        [tab("sla", "en", [SLA_ROW, {**SLA_ROW, "rule": "ORD-Y", "stage": "packing"}])],
        "“时效规则”第 3 行“环节”列:填写的是“packing”;应为audited/picked/"
        "handed_over/shipped/delivered,例如 audited",
        "SLA, row 3, column “Stage”: found “packing”; expected audited/picked/"
        "handed_over/shipped/delivered, for example audited",
    ),
    "bad email in People": (
        [
            tab(
                "people",
                "zh",
                default_people(
                    {
                        "name": "钱七",
                        "email": "qian.qi@",
                        "role": "sales",
                        "department": "销售二部",
                        "backup": "赵敏",
                    },
                    {
                        "name": "孙八",
                        "email": "sun.ba@example.com",
                        "role": "sales",
                        "department": "销售二部",
                        "backup": "钱七",
                    },
                ),
            )
        ],
        "“人员”第 6 行“邮箱”列:填写的是“qian.qi@”;应为邮箱地址,例如 li.si@example.com",
        "People, row 6, column “Email”: found “qian.qi@”; expected an email "
        "address, for example li.si@example.com",
    ),
    "bad time zone": (
        [tab("calendar", "en", [{"item": "time_zone", "value": "Beijing"}])],
        "“日历”第 2 行“值”列:填写的是“Beijing”;应为时区,例如 Asia/Shanghai",
        "Calendar, row 2, column “Value”: found “Beijing”; expected a time zone, "
        "for example Asia/Shanghai",
    ),
    "bad working hours": (
        [
            tab(
                "calendar",
                "zh",
                [
                    {"item": "time_zone", "value": "Asia/Shanghai"},
                    {"item": "工作时间", "value": "9-18"},
                ],
            )
        ],
        "“日历”第 3 行“值”列:填写的是“9-18”;应为时间段,例如 09:00-12:00, 13:30-18:00",
        "Calendar, row 3, column “Value”: found “9-18”; expected time ranges, "
        "for example 09:00-12:00, 13:30-18:00",
    ),
    "bad language": (
        [tab("settings", "zh", [{"key": "language", "value": "fr"}])],
        "“设置”第 2 行“值”列:填写的是“fr”;应为zh 或 en,例如 zh",
        "Settings, row 2, column “Value”: found “fr”; expected zh or en, "
        "for example zh",
    ),
    "missing required column": (
        [tab("sla", "en", [], keys=["rule", "table", "stage", "within"])],
        "“时效规则”:缺少“计时方式”列;运行 automation init 可补上表头",
        "SLA: the column “Clock” is missing; `automation init` adds the header",
    ),
}


@pytest.mark.parametrize(("grids", "zh", "en"), BAD_CELLS.values(), ids=list(BAD_CELLS))
def test_a_bad_cell_gives_exactly_one_error(
    grids: list[Grid], zh: str, en: str
) -> None:
    _, problems = load(*grids)

    assert messages(problems) == [(zh, en)]
    assert problems[0].severity == "error"
    assert not usable(problems)


def test_an_unknown_setting_is_a_warning_and_keeps_it_usable() -> None:
    settings = tab(
        "settings",
        "en",
        [{"key": "language", "value": "en"}, {"key": "colour", "value": "blue"}],
    )

    config, problems = load(settings)

    assert messages(problems) == [
        (
            "“设置”第 3 行“键”列:填写的是“colour”;应为已知的设置项,例如 at_risk_share",
            "Settings, row 3, column “Key”: found “colour”; expected a known setting, "
            "for example at_risk_share",
        )
    ]
    assert problems[0].severity == "warning"
    assert usable(problems)
    assert config.language == "en"


def test_english_aliases_resolve_to_the_stored_value() -> None:
    config, _ = load_config(Snapshot(grids={}), LAYOUT)

    assert config.status("Done") == ("已完成", Meaning.DONE)
    assert config.status(" waiting for CUSTOMER ") == (
        "等待客户",
        Meaning.WAITING_CUSTOMER,
    )
    assert config.status("已取消") == ("已取消", Meaning.CANCELLED)
    assert config.status("Finished") is None
    assert config.lists["delivery_modes"].canonical("Next day") == "次日达"


def test_settings_fall_back_key_by_key() -> None:
    settings = tab(
        "settings",
        "zh",
        [
            {"key": "status_done", "value": "已完成|Done, 已关闭|Closed"},
            {"key": "status_cancelled", "value": ""},
        ],
    )

    config, problems = load(settings)

    assert problems == []
    assert config.status("closed") == ("已关闭", Meaning.DONE)
    assert config.status("Done") == ("已完成", Meaning.DONE)
    assert config.status("In progress") == ("处理中", Meaning.OPEN)
    assert config.status("已取消") is None
    assert config.lists["priorities"].values == ("普通", "加急")


def test_sla_rows_accept_either_language() -> None:
    row: dict[str, CellValue] = {
        "rule": "ORD-NEXT",
        "table": "Orders",
        "stage": "Shipping",
        "when_field": "配送方式",
        "when_values": "Next day",
        "within": "12",
        "clock": "自然小时",
        "effective_from": "2025-11-01",
        "active": "否",
    }

    config, problems = load(tab("sla", "en", [row]))

    assert problems == []
    assert config.sla == (
        SlaRule(
            rule="ORD-NEXT",
            table="orders",
            stage="shipped",
            within=12.0,
            clock=Clock.CALENDAR_HOURS,
            when_field="delivery_mode",
            when_values=frozenset({"次日达"}),
            effective_from=date(2025, 11, 1),
            active=False,
        ),
    )


def test_calendar_extra_holidays_and_working_days() -> None:
    rows: list[dict[str, CellValue]] = [
        {"item": "time_zone", "value": "Asia/Shanghai"},
        {"item": "country", "value": "cn"},
        {"item": "working_hours", "value": "08:30-12:00, 13:00-17:30"},
        {"item": "holiday", "value": "2025-10-09"},
        {"item": "假日", "value": date(2025, 12, 31)},
        {"item": "working_day", "value": "2025/9/28"},
        {"item": "调休上班", "value": "2025-10-11"},
        {"item": "confirmed_through", "value": 2026},
    ]

    config, problems = load(tab("calendar", "zh", rows))

    assert problems == []
    assert config.calendar.country == "CN"
    assert config.calendar.working_hours == (
        (time(8, 30), time(12, 0)),
        (time(13, 0), time(17, 30)),
    )
    assert config.calendar.extra_holidays == {date(2025, 10, 9), date(2025, 12, 31)}
    assert config.calendar.extra_working_days == {
        date(2025, 9, 28),
        date(2025, 10, 11),
    }
    assert config.calendar.confirmed_through == 2026


def test_people_read_from_english_headers() -> None:
    rows = default_people(
        {
            "name": "Anna",
            "email": "mailto:anna@example.com",
            "role": "Sales",
            "department": "销售三部",
            "manager": "王芳",
            "language": "EN",
            "active": "no",
        }
    )

    config, problems = load(tab("people", "en", rows))

    assert problems == []
    anna = config.people["Anna"]
    assert (anna.email, anna.role, anna.language, anna.active) == (
        "anna@example.com",
        "sales",
        "en",
        False,
    )
    assert config.active_person("Anna") is None


def test_english_readers_see_the_english_alias_of_stored_values() -> None:
    config, _ = load()

    assert config.shown("处理中", "en") == "In progress"
    assert config.shown("次日达", "en") == "Next day"
    assert config.shown("处理中", "zh") == "处理中"
    assert config.shown("no alias", "en") == "no alias"
