"""Reading the configuration tabs into a `Config`, with a problem for every bad cell.

A configuration tab that is missing or empty falls back to the defaults of
`sheets_config/defaults.toml`, so a fresh workbook works at once. The Settings tab
falls back key by key: a key without a row keeps its default, while a row with a blank
value clears it. Problems of severity "error" make the whole configuration unusable;
the service then keeps the last good one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from automation.config import (
    CalendarSettings,
    ChoiceList,
    Clock,
    Config,
    Meaning,
    Person,
    SlaRule,
    Target,
)
from automation.layout import (
    FieldSpec,
    Language,
    Layout,
    TableSpec,
    fold,
    load_defaults,
)
from automation.model import CellValue, Grid, Snapshot, bind
from automation.parsing import (
    Invalid,
    as_text,
    format_found,
    parse_bool,
    parse_date,
    parse_email,
    parse_number,
)
from automation.problems import Problem

LIST_KEYS = (
    "departments",
    "request_types",
    "priorities",
    "delivery_modes",
    "return_kinds",
)
STATUS_KEYS = {f"status_{meaning.value}": meaning for meaning in Meaning}
KNOWN_SETTINGS = frozenset(
    {
        "language",
        "at_risk_share",
        "escalation_after_hours",
        "sender",
        *LIST_KEYS,
        *STATUS_KEYS,
        *(f"id_prefix_{table}" for table in ("requests", "orders", "returns")),
    }
)
CLOCKS = {
    "calendar_hours": Clock.CALENDAR_HOURS,
    "自然小时": Clock.CALENDAR_HOURS,
    "working_hours": Clock.WORKING_HOURS,
    "工作小时": Clock.WORKING_HOURS,
    "working_days": Clock.WORKING_DAYS,
    "工作日": Clock.WORKING_DAYS,
    "calendar_days": Clock.CALENDAR_DAYS,
    "自然日": Clock.CALENDAR_DAYS,
}
DIRECTIONS = {
    "at_least": "at_least",
    "不低于": "at_least",
    "at_most": "at_most",
    "不高于": "at_most",
    "between": "between",
    "区间": "between",
}
ROLES = ("sales", "logistics", "manager", "admin")
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*[-–~至]\s*(\d{1,2}):(\d{2})$")

Row = dict[str, CellValue]


@dataclass
class _Reader:
    """Collects problems while one configuration is read."""

    defaults: dict[str, list[dict[str, object]]]  # defaults.toml, read once a load
    problems: list[Problem]

    def bad(
        self,
        table: str,
        row: int | None,
        field: str | None,
        found: object,
        expected: tuple[str, str],
        example: str,
        severity: str = "error",
    ) -> None:
        """Note a bad configuration cell; `expected` is said in Chinese and English."""
        self.problems.append(
            Problem(
                "config-bad-value",
                table,
                row,
                field,
                params={
                    "found": format_found(found),
                    "expected_zh": expected[0],
                    "expected_en": expected[1],
                    "example": example,
                },
                severity="warning" if severity == "warning" else "error",
            )
        )


def load_config(snapshot: Snapshot, layout: Layout) -> tuple[Config, list[Problem]]:
    """Read every configuration tab; usable when none of the problems is an error."""
    reader = _Reader(load_defaults(), [])
    tabs = _config_rows(snapshot, layout, reader)

    settings, setting_rows = _settings(tabs["settings"], reader)
    language: Language = "en" if settings.get("language", "zh") == "en" else "zh"
    lists = {key: _choice_list(key, settings.get(key, "")) for key in LIST_KEYS}
    statuses, status_aliases = _statuses(settings)
    people = _people(tabs["people"], reader)
    sla = _sla(tabs["sla"], layout, lists, reader)
    calendar = _calendar(tabs["calendar"], reader)
    targets = _targets(tabs["targets"], reader)

    english = {
        value: alias
        for key in (*LIST_KEYS, *STATUS_KEYS)
        for value, alias in _entries(settings.get(key, ""))
        if alias
    }
    config = Config(
        english=english,
        language=language,
        people=people,
        lists=lists,
        statuses=statuses,
        status_aliases=status_aliases,
        sla=sla,
        calendar=calendar,
        targets=targets,
        schedules={
            str(row["job"]): str(row["when"])
            for _, row in tabs["schedules"]
            if row.get("job") and row.get("when") and _flag(row.get("active"), True)
        },
        key_accounts={
            str(row["customer"]).strip(): str(row.get("contact") or "").strip()
            for _, row in tabs["key_accounts"]
            if row.get("customer")
        },
        settings=settings,
        at_risk_share=_number_setting(
            "at_risk_share",
            settings,
            setting_rows,
            reader,
            0.25,
            lambda share: 0 < share < 1,
            ("0% 到 100% 之间的比例", "a share between 0% and 100%"),
            "25%",
        ),
        escalation_after_hours=_number_setting(
            "escalation_after_hours",
            settings,
            setting_rows,
            reader,
            24.0,
            lambda hours: hours >= 0,
            ("小时数", "a number of hours"),
            "24",
        ),
        sender=settings.get("sender", "logistics-bot@example.com"),
    )
    return config, reader.problems


def usable(problems: Iterable[Problem]) -> bool:
    return not any(problem.severity == "error" for problem in problems)


# Tabs


def _config_rows(
    snapshot: Snapshot, layout: Layout, reader: _Reader
) -> dict[str, list[tuple[int | None, Row]]]:
    defaults = reader.defaults
    found: dict[str, list[tuple[int | None, Row]]] = {}
    for spec in layout.of_kind("config"):
        grid = snapshot.grid(spec)
        rows = _rows(spec, grid, reader) if grid is not None else []
        if not rows:
            # A missing or empty tab means "not configured yet": use the defaults.
            rows = [(None, _cells(row)) for row in defaults.get(spec.key, [])]
        found[spec.key] = rows
    return found


def _rows(spec: TableSpec, grid: Grid, reader: _Reader) -> list[tuple[int | None, Row]]:
    table = bind(spec, grid)
    for field in table.missing:
        if field.required:
            reader.problems.append(
                Problem(
                    "config-missing-column",
                    spec.key,
                    params={"expected_zh": field.zh, "expected_en": field.en},
                )
            )
    rows: list[tuple[int | None, Row]] = []
    for number, cells in table.data_rows():
        rows.append((number, {key: table.value(cells, key) for key in table.columns}))
    return rows


def _cells(row: Mapping[str, object]) -> Row:
    """A defaults.toml row as cells: TOML numbers and booleans are kept."""
    return {
        key: value if isinstance(value, (str, int, float, bool)) else str(value)
        for key, value in row.items()
    }


# Settings, lists and statuses


def _settings(
    rows: list[tuple[int | None, Row]], reader: _Reader
) -> tuple[dict[str, str], dict[str, int | None]]:
    """The settings by key, and the sheet row each came from (None: a default)."""
    settings = {
        as_text(row.get("key")).strip(): as_text(row.get("value")).strip()
        for row in reader.defaults.get("settings", [])
    }
    numbers: dict[str, int | None] = dict.fromkeys(settings)
    for number, row in rows:
        key = as_text(row.get("key")).strip().casefold()
        if not key:
            continue
        if key not in KNOWN_SETTINGS:
            reader.bad(
                "settings",
                number,
                "key",
                key,
                ("已知的设置项", "a known setting"),
                "at_risk_share",
                severity="warning",
            )
            continue
        settings[key] = as_text(row.get("value")).strip()
        numbers[key] = number
    language = settings.get("language", "zh")
    if language not in ("zh", "en"):
        reader.bad(
            "settings",
            numbers.get("language"),
            "value",
            language,
            ("zh 或 en", "zh or en"),
            "zh",
        )
    return settings, numbers


def _entries(text: str) -> list[tuple[str, str | None]]:
    """ "已完成|Done, 已取消" -> [("已完成", "Done"), ("已取消", None)]."""
    entries = []
    for part in re.split(r"[,,、;;\n]", text):
        if not part.strip():
            continue
        value, _, alias = part.partition("|")
        entries.append((value.strip(), alias.strip() or None))
    return entries


def _choice_list(key: str, text: str) -> ChoiceList:
    entries = _entries(text)
    return ChoiceList(
        key=key,
        values=tuple(value for value, _ in entries),
        aliases={fold(alias): value for value, alias in entries if alias},
    )


def _statuses(settings: Mapping[str, str]) -> tuple[dict[str, Meaning], dict[str, str]]:
    statuses: dict[str, Meaning] = {}
    aliases: dict[str, str] = {}
    for key, meaning in STATUS_KEYS.items():
        for value, alias in _entries(settings.get(key, "")):
            statuses[value] = meaning
            if alias:
                aliases[fold(alias)] = value
    return statuses, aliases


def _number_setting(
    key: str,
    settings: Mapping[str, str],
    rows: Mapping[str, int | None],
    reader: _Reader,
    default: float,
    allowed: Callable[[float], bool],
    expected: tuple[str, str],
    example: str,
) -> float:
    """A numeric setting, or its default (and a problem) when it is not `allowed`."""
    raw = settings.get(key)
    if not raw:
        return default
    value = parse_number(raw)
    if isinstance(value, Invalid) or value is None or not allowed(value):
        reader.bad("settings", rows.get(key), "value", raw, expected, example)
        return default
    return value


# People


def _people(rows: list[tuple[int | None, Row]], reader: _Reader) -> dict[str, Person]:
    people: dict[str, Person] = {}
    numbers: dict[str, int | None] = {}
    # Names of rows refused for a bad cell still count as listed, so that one bad
    # email does not also raise a warning on everyone who names that person.
    named: set[str] = set()
    for number, row in rows:
        name = as_text(row.get("name")).strip()
        email = parse_email(row.get("email"))
        if not name:
            continue
        if name in named:
            reader.bad(
                "people",
                number,
                "name",
                name,
                ("不重复的姓名", "a name used once"),
                name + "2",
            )
            continue
        named.add(name)
        if not isinstance(email, str):
            reader.bad(
                "people",
                number,
                "email",
                row.get("email"),
                ("邮箱地址", "an email address"),
                "li.si@example.com",
            )
            continue
        role = as_text(row.get("role")).strip().casefold()
        if role not in ROLES:
            reader.bad(
                "people", number, "role", role, (" / ".join(ROLES),) * 2, "logistics"
            )
        language = as_text(row.get("language")).strip().casefold()
        people[name] = Person(
            name=name,
            email=email,
            role=role,
            department=as_text(row.get("department")).strip(),
            manager=as_text(row.get("manager")).strip() or None,
            backup=as_text(row.get("backup")).strip() or None,
            active=_flag(row.get("active"), True),
            language="en" if language == "en" else "zh",
        )
        numbers[name] = number
    for person in people.values():
        for field, other in (("manager", person.manager), ("backup", person.backup)):
            if other and other not in named:
                reader.bad(
                    "people",
                    numbers[person.name],
                    field,
                    other,
                    ("本表中列出的姓名", "a name listed in this tab"),
                    next(iter(people)),
                    severity="warning",
                )
    return people


# SLA


def _sla(
    rows: list[tuple[int | None, Row]],
    layout: Layout,
    lists: Mapping[str, ChoiceList],
    reader: _Reader,
) -> tuple[SlaRule, ...]:
    rules = []
    seen: set[str] = set()
    tables = {spec.key: spec for spec in layout.of_kind("data") if spec.stages}
    for number, row in rows:
        rule_id = as_text(row.get("rule")).strip()
        if not rule_id:
            continue
        if rule_id in seen:
            reader.bad(
                "sla",
                number,
                "rule",
                rule_id,
                ("不重复的规则编号", "a rule id used once"),
                "REQ-2",
            )
            continue
        seen.add(rule_id)
        table = tables.get(_table_key(as_text(row.get("table")), tables))
        if table is None:
            reader.bad(
                "sla",
                number,
                "table",
                row.get("table"),
                ("/".join(tables),) * 2,
                "orders",
            )
            continue
        stage = _stage_key(as_text(row.get("stage")), table)
        if stage is None:
            stages = "/".join(s.key for s in table.stages)
            reader.bad(
                "sla",
                number,
                "stage",
                row.get("stage"),
                (stages, stages),
                stages.split("/")[0],
            )
            continue
        clock = CLOCKS.get(fold(as_text(row.get("clock"))))
        if clock is None:
            reader.bad(
                "sla",
                number,
                "clock",
                row.get("clock"),
                ("/".join(Clock),) * 2,
                "working_days",
            )
            continue
        within = parse_number(row.get("within"))
        if isinstance(within, Invalid) or within is None or within <= 0:
            reader.bad(
                "sla",
                number,
                "within",
                row.get("within"),
                ("正数", "a positive number"),
                "24",
            )
            continue
        when_field = as_text(row.get("when_field")).strip() or None
        when_values: frozenset[str] = frozenset()
        if when_field is not None:
            field = _field_key(when_field, table)
            if field is None:
                reader.bad(
                    "sla",
                    number,
                    "when_field",
                    when_field,
                    (table.zh + "的列名", "a column of " + table.en),
                    "type",
                )
                continue
            when_field = field
            allowed = lists.get(table.field(field).choices or "")
            values = []
            for value, _ in _entries(as_text(row.get("when_values"))):
                known = allowed.canonical(value) if allowed else value
                if known is None and allowed is not None:
                    reader.bad(
                        "sla",
                        number,
                        "when_values",
                        value,
                        (allowed.describe(),) * 2,
                        allowed.values[0] if allowed.values else "",
                    )
                    continue
                values.append(known or value)
            when_values = frozenset(values)
        effective = parse_date(row.get("effective_from"), ZoneInfo("UTC"))
        if isinstance(effective, Invalid):
            reader.bad(
                "sla",
                number,
                "effective_from",
                row.get("effective_from"),
                ("日期", "a date"),
                "2025-01-01",
            )
            continue
        rules.append(
            SlaRule(
                rule=rule_id,
                table=table.key,
                stage=stage,
                within=within,
                clock=clock,
                when_field=when_field,
                when_values=when_values,
                emergency=_flag(row.get("emergency"), False),
                effective_from=effective,
                active=_flag(row.get("active"), True),
            )
        )
    return tuple(rules)


def _table_key(text: str, tables: Mapping[str, TableSpec]) -> str:
    for spec in tables.values():
        if spec.matches_title(text):
            return spec.key
    return text


def _stage_key(text: str, table: TableSpec) -> str | None:
    wanted = fold(text)
    for stage in table.stages:
        if wanted in (fold(stage.key), fold(stage.zh), fold(stage.en)):
            return stage.key
    return None


def _field_key(text: str, table: TableSpec) -> str | None:
    spec = table.match_header(text)
    return spec.key if spec is not None else None


# Calendar and targets


def _calendar(rows: list[tuple[int | None, Row]], reader: _Reader) -> CalendarSettings:
    zone = ZoneInfo("Asia/Shanghai")
    country: str | None = "CN"
    hours: tuple[tuple[time, time], ...] = CalendarSettings().working_hours
    holidays: set[date] = set()
    working: set[date] = set()
    confirmed: int | None = None
    for number, row in rows:
        typed = as_text(row.get("item")).strip()
        item = fold(typed)
        raw = row.get("value")
        text = as_text(raw).strip()
        if item in ("time_zone", "时区"):
            try:
                zone = ZoneInfo(text)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                reader.bad(
                    "calendar",
                    number,
                    "value",
                    text,
                    ("时区", "a time zone"),
                    "Asia/Shanghai",
                )
        elif item in ("country", "国家"):
            country = text.upper() or None
        elif item in ("working_hours", "工作时间"):
            parsed = _working_hours(text)
            if parsed is None:
                reader.bad(
                    "calendar",
                    number,
                    "value",
                    text,
                    ("时间段", "time ranges"),
                    "09:00-12:00, 13:30-18:00",
                )
            else:
                hours = parsed
        elif item in ("holiday", "假日", "节假日"):
            day = parse_date(raw, zone)
            if isinstance(day, Invalid) or day is None:
                reader.bad(
                    "calendar", number, "value", text, ("日期", "a date"), "2025-05-06"
                )
            else:
                holidays.add(day)
        elif item in ("working_day", "工作日", "调休上班"):
            day = parse_date(raw, zone)
            if isinstance(day, Invalid) or day is None:
                reader.bad(
                    "calendar", number, "value", text, ("日期", "a date"), "2025-09-28"
                )
            else:
                working.add(day)
        elif item in ("confirmed_through", "已确认年份"):
            year = parse_number(raw)
            if isinstance(year, Invalid) or year is None or not 2000 <= year <= 2100:
                reader.bad(
                    "calendar", number, "value", text, ("年份", "a year"), "2026"
                )
            else:
                confirmed = int(year)
        elif item:
            reader.bad(
                "calendar",
                number,
                "item",
                typed,
                (
                    "time_zone、country、working_hours、holiday、working_day、"
                    "confirmed_through 之一",
                    "time_zone, country, working_hours, holiday, working_day or "
                    "confirmed_through",
                ),
                "holiday",
            )
    return CalendarSettings(
        time_zone=zone,
        country=country,
        working_hours=hours,
        extra_holidays=frozenset(holidays),
        extra_working_days=frozenset(working),
        confirmed_through=confirmed,
    )


def _working_hours(text: str) -> tuple[tuple[time, time], ...] | None:
    periods: list[tuple[time, time]] = []
    for part in re.split(r"[,,;;]", text):
        match = _HOURS.match(part.strip())
        if match is None:
            return None
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59:
            return None
        start = time(h1, m1)
        end = time(23, 59, 59) if h2 == 24 else time(h2, m2)
        if end <= start or (periods and start < periods[-1][1]):
            return None
        periods.append((start, end))
    return tuple(periods) or None


def _targets(rows: list[tuple[int | None, Row]], reader: _Reader) -> dict[str, Target]:
    targets = {}
    for number, row in rows:
        kpi = as_text(row.get("kpi")).strip()
        if not kpi:
            continue
        direction = DIRECTIONS.get(fold(as_text(row.get("direction"))))
        if direction is None:
            reader.bad(
                "targets",
                number,
                "direction",
                row.get("direction"),
                ("at_least、at_most 或 between", "at_least, at_most or between"),
                "at_least",
            )
            continue
        text = as_text(row.get("target")).strip()
        bounds = _bounds(text, direction)
        if bounds is None:
            reader.bad(
                "targets",
                number,
                "target",
                text,
                ("数值或区间", "a number or a range"),
                "98%",
            )
            continue
        amber = parse_number(row.get("amber"))
        targets[kpi] = Target(
            kpi=kpi,
            direction=direction,
            low=bounds[0],
            high=bounds[1],
            amber=amber if isinstance(amber, float) else 0.0,
            text=text,
        )
    return targets


def _bounds(text: str, direction: str) -> tuple[float | None, float | None] | None:
    parts = (
        re.split(r"\s*(?:-|–|~|至|to)\s*", text) if direction == "between" else [text]
    )
    numbers = [parse_number(part) for part in parts]
    if not numbers or any(not isinstance(n, float) for n in numbers):
        return None
    values = [n for n in numbers if isinstance(n, float)]
    if direction == "between":
        return (values[0], values[-1]) if len(values) == 2 else None
    return (values[0], None) if direction == "at_least" else (None, values[0])


# Cells


def _flag(value: CellValue, default: bool) -> bool:
    parsed = parse_bool(value)
    return default if parsed is None or isinstance(parsed, Invalid) else parsed


def list_name(field: FieldSpec) -> str | None:
    """The key in `drop_down_lists` whose values a field's drop-down offers."""
    if field.type == "choice":
        return field.choices
    return {"status": "statuses", "person": "people"}.get(field.type)


def drop_down_lists(config: Config) -> dict[str, list[str]]:
    """The values `init` offers in drop-downs: Settings lists, statuses, people.

    Keys are the Settings list names, "statuses" and "people"; aliases are left out.
    """
    lists = {key: list(choices.values) for key, choices in config.lists.items()}
    lists["statuses"] = list(config.statuses)
    lists["people"] = [name for name, person in config.people.items() if person.active]
    return lists
