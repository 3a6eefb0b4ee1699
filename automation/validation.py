"""Every row of a data tab, checked and turned into typed records plus problems.

`validate_table` reads each row people filled in, parses every cell they own by its
field type, and checks what a single row can tell: required cells, allowed choices,
active people, known statuses, ranges, unique ids, times in a possible order and event
times not in the future. A bad cell becomes a `Problem` and a None value; it never
stops the rest of its row, and a bad row never stops the tab.

Known limits: the "expected" and "example" parts of a message are written in the
configuration's language, so a problem reads fully in that language only. Choice
columns list their stored (usually Chinese) values, also in English messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from functools import partial

from automation import parsing
from automation.config import Config, Meaning
from automation.layout import FieldSpec, Language, TableSpec, fold
from automation.model import BoundTable, CellValue
from automation.parsing import Invalid, format_found
from automation.problems import Problem, Severity

logger = logging.getLogger(__name__)

FUTURE_TOLERANCE = timedelta(minutes=10)

# Stages of an order happen in this order; each filled time must not precede the
# previous filled one.
ORDERED_TIMES: Mapping[str, tuple[str, ...]] = {
    "orders": (
        "audited_at",
        "picked_at",
        "handed_over_at",
        "shipped_at",
        "delivered_at",
    ),
}

# What a blank required cell should hold, in each language, with an example.
EXPECTED: Mapping[str, Mapping[Language, str]] = {
    "datetime": {"zh": "日期和时间", "en": "a date and time"},
    "date": {"zh": "日期", "en": "a date"},
    "month": {"zh": "月份", "en": "a month"},
    "number": {"zh": "数字", "en": "a number"},
    "integer": {"zh": "整数", "en": "a whole number"},
    "bool": {"zh": "“是”或“否”", "en": "yes or no"},
    "email": {"zh": "邮箱地址", "en": "an email address"},
    "person": {"zh": "在职人员姓名", "en": "an active person's name"},
    "choice": {"zh": "以下之一:{values}", "en": "one of: {values}"},
}
EXAMPLES: Mapping[str, Mapping[Language, str]] = {
    "datetime": {"zh": parsing.EXAMPLE_DATETIME, "en": parsing.EXAMPLE_DATETIME},
    "date": {"zh": parsing.EXAMPLE_DATE, "en": parsing.EXAMPLE_DATE},
    "month": {"zh": parsing.EXAMPLE_MONTH, "en": parsing.EXAMPLE_MONTH},
    "number": {"zh": parsing.EXAMPLE_NUMBER, "en": parsing.EXAMPLE_NUMBER},
    "integer": {"zh": parsing.EXAMPLE_INTEGER, "en": parsing.EXAMPLE_INTEGER},
    "bool": {"zh": "是", "en": "yes"},
    "email": {"zh": parsing.EXAMPLE_EMAIL, "en": parsing.EXAMPLE_EMAIL},
}
JOINER: Mapping[Language, str] = {"zh": "、", "en": ", "}


@dataclass
class Record:
    """One row of a data tab as typed values; bad cells are None, named in `invalid`."""

    table: str
    row: int
    item_id: str | None
    fingerprint: str
    values: dict[str, object]
    invalid: frozenset[str] = frozenset()
    meaning: Meaning | None = None


@dataclass
class ValidatedTable:
    """A data tab's records and everything wrong with its header and cells."""

    table: BoundTable
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def validate_table(table: BoundTable, config: Config, now: datetime) -> ValidatedTable:
    """Check every filled row of a data tab; bad cells become problems, never errors."""
    if now.tzinfo is None:
        raise ValueError("validate_table needs an aware `now`; got a naive datetime")
    if table.spec.kind != "data":
        raise ValueError(f"{table.spec.key} is a {table.spec.kind} tab, not a data tab")

    checker = _RowChecker.build(table, config, now)
    result = ValidatedTable(table, problems=_header_problems(table, config.language))
    first_row: dict[str, int] = {}
    for number, cells in table.data_rows():
        record, found = checker.check(number, cells)
        _check_duplicate(record, found, first_row, checker.id_key)
        result.records.append(record)
        result.problems.extend(
            Problem(code, table.spec.key, number, key, record.item_id, params, severity)
            for code, key, params, severity in found
        )
    logger.debug(
        "validated tab %s: %d rows, %d problems",
        table.spec.key,
        len(result.records),
        len(result.problems),
    )
    return result


# A problem found in a row, before the row's id is known: code, field, params, severity.
_Found = tuple[str, str, dict[str, str], Severity]
_Parser = Callable[[CellValue], object]


def _header_problems(table: BoundTable, language: Language) -> list[Problem]:
    missing = [
        Problem(
            "missing-column", table.spec.key, params={"expected": spec.label(language)}
        )
        for spec in table.missing
        if spec.required and not spec.owned
    ]
    unknown = [
        Problem(
            "unknown-column",
            table.spec.key,
            params={"found": format_found(header)},
            severity="warning",
        )
        for header in table.unknown_headers
    ]
    return missing + unknown


def _check_duplicate(
    record: Record, found: list[_Found], first_row: dict[str, int], id_key: str | None
) -> None:
    if record.item_id is None or id_key is None:
        return
    other = first_row.setdefault(record.item_id, record.row)
    if other == record.row:
        return
    found.append(
        (
            "duplicate-id",
            id_key,
            {"found": record.item_id, "other_row": str(other)},
            "error",
        )
    )
    # Nothing may be written by this id: it would land in the first row.
    record.item_id = None


@dataclass(frozen=True)
class _Field:
    """One column to check, with everything precomputed for a fast row loop."""

    spec: FieldSpec
    key: str
    index: int
    parse: _Parser
    missing: tuple[str, dict[str, str]] | None
    numeric: bool
    event: bool


@dataclass
class _RowChecker:
    """Checks rows of one tab against one configuration at one moment."""

    spec: TableSpec
    table: BoundTable
    fields: tuple[_Field, ...]
    blank: dict[str, object]
    meanings: Mapping[str, Meaning]
    latest: datetime
    id_key: str | None
    start_key: str | None
    done_keys: tuple[str, ...]
    chain: tuple[str, ...]
    labels: Mapping[str, str]

    @classmethod
    def build(cls, table: BoundTable, config: Config, now: datetime) -> _RowChecker:
        spec = table.spec
        lookups = _Lookups.build(config)
        fields = []
        for key, index in table.columns.items():
            field_spec = spec.field(key)
            if field_spec.owned:
                continue
            fields.append(
                _Field(
                    spec=field_spec,
                    key=key,
                    index=index,
                    parse=lookups.parser(field_spec),
                    missing=lookups.missing(field_spec),
                    numeric=field_spec.type in ("number", "integer"),
                    event=field_spec.type == "datetime" and key.endswith("_at"),
                )
            )
        people = [f for f in spec.fields if not f.owned]
        blank: dict[str, object] = {f.key: None for f in people}
        id_key = spec.id_key
        return cls(
            spec=spec,
            table=table,
            fields=tuple(fields),
            blank=blank,
            meanings=lookups.meanings,
            latest=now.astimezone(config.calendar.time_zone) + FUTURE_TOLERANCE,
            id_key=id_key if id_key in table.columns else None,
            start_key=spec.start if spec.start in blank else None,
            done_keys=_done_keys(spec),
            chain=tuple(k for k in ORDERED_TIMES.get(spec.key, ()) if k in blank),
            labels={f.key: f.label(config.language) for f in people},
        )

    def check(
        self, number: int, cells: Sequence[CellValue]
    ) -> tuple[Record, list[_Found]]:
        """The record of one row and the problems of its cells."""
        values = dict(self.blank)
        invalid: set[str] = set()
        found: list[_Found] = []
        size = len(cells)
        for column in self.fields:
            cell = cells[column.index] if column.index < size else None
            problem = self._cell(column, cell, values)
            if problem is not None:
                found.append(problem)
                if problem[3] == "error":
                    invalid.add(column.key)
        if self.start_key is not None or self.chain:
            found.extend(self._time_order(values))
        status = values.get("status")
        item_id = values.get(self.id_key) if self.id_key else None
        record = Record(
            table=self.spec.key,
            row=number,
            item_id=item_id if isinstance(item_id, str) else None,
            fingerprint=self.table.fingerprint(cells),
            values=values,
            invalid=frozenset(invalid),
            meaning=self.meanings.get(status) if isinstance(status, str) else None,
        )
        return record, found

    def _cell(
        self, column: _Field, cell: CellValue, values: dict[str, object]
    ) -> _Found | None:
        """Parse one cell into `values`; the problem it has, if any."""
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            if column.missing is None:
                return None
            code, params = column.missing
            return code, column.key, dict(params), "error"
        value = column.parse(cell)
        if value is None:
            return None
        if isinstance(value, Invalid):
            return value.code, column.key, dict(value.params), "error"
        if column.numeric:
            problem = _range_problem(column.spec, value)  # type: ignore[arg-type]
            if problem is not None:
                return problem
        values[column.key] = value
        if column.event and value > self.latest:  # type: ignore[operator]
            return "in-future", column.key, {"found": format_found(value)}, "warning"
        return None

    def _time_order(self, values: Mapping[str, object]) -> list[_Found]:
        found: list[_Found] = []
        flagged: set[str] = set()
        start = values.get(self.start_key) if self.start_key else None
        if isinstance(start, datetime):
            for key in self.done_keys:
                later = values.get(key)
                if isinstance(later, datetime) and later < start:
                    found.append(self._order_problem(key, later, self.start_key, start))
                    flagged.add(key)
        previous: tuple[str, datetime] | None = None
        for key in self.chain:
            later = values.get(key)
            if not isinstance(later, datetime):
                continue
            if previous is not None and later < previous[1] and key not in flagged:
                found.append(self._order_problem(key, later, *previous))
            previous = (key, later)
        return found

    def _order_problem(
        self, key: str, later: datetime, before_key: str | None, before: datetime
    ) -> _Found:
        params = {
            "found": format_found(later),
            "before_label": self.labels.get(before_key or "", ""),
            "before": format_found(before),
        }
        return "time-order", key, params, "warning"


def _done_keys(spec: TableSpec) -> tuple[str, ...]:
    """The people's columns that complete a stage; each must follow the start."""
    keys = [stage.done for stage in spec.stages]
    if spec.has_field("done_at") and "done_at" not in keys:
        keys.append("done_at")
    return tuple(k for k in keys if spec.has_field(k) and not spec.field(k).owned)


def _range_problem(spec: FieldSpec, value: float) -> _Found | None:
    if spec.min is not None or spec.max is not None:
        low = spec.min if spec.min is not None else value
        high = spec.max if spec.max is not None else value
        if low <= value <= high:
            return None
        params = {
            "found": format_found(float(value)),
            "min": format_found(float(low)),
            "max": format_found(float(high)),
            "example": format_found(float(low + high) / 2),
        }
        return "out-of-range", spec.key, params, "error"
    if value < 0:
        params = {
            "found": format_found(float(value)),
            "example": format_found(float(-value)),
        }
        return "negative-number", spec.key, params, "error"
    return None


def _spellings(values: Sequence[str], aliases: Mapping[str, str]) -> dict[str, str]:
    """Every accepted spelling (exact or folded, values before aliases) to its value."""
    known = {fold(alias): value for alias, value in aliases.items()}
    known.update({fold(value): value for value in values})
    known.update({value: value for value in values})
    return known


@dataclass(frozen=True)
class _Lookups:
    """Dictionaries built once per configuration, so no row scans a list."""

    config: Config
    language: Language
    tz: tzinfo
    choices: Mapping[str, Mapping[str, str]]
    people: Mapping[str, str]
    statuses: Mapping[str, str]
    meanings: Mapping[str, Meaning]

    @classmethod
    def build(cls, config: Config) -> _Lookups:
        choices = {
            key: _spellings(choice_list.values, choice_list.aliases)
            for key, choice_list in config.lists.items()
        }
        active = [person.name for person in config.people.values() if person.active]
        return cls(
            config=config,
            language=config.language,
            tz=config.calendar.time_zone,
            choices=choices,
            people=_spellings(active, {}),
            statuses=_spellings(tuple(config.statuses), config.status_aliases),
            meanings=dict(config.statuses),
        )

    def parser(self, spec: FieldSpec) -> _Parser:
        """The function that reads one cell of this field."""
        tz = self.tz
        kind = spec.type
        if kind == "datetime":
            end_of_day = spec.key.endswith("_by")
            return partial(parsing.parse_datetime, tz=tz, end_of_day=end_of_day)
        if kind == "date":
            return partial(parsing.parse_date, tz=tz)
        if kind == "month":
            return partial(parsing.parse_month, tz=tz)
        simple: dict[str, _Parser] = {
            "number": parsing.parse_number,
            "integer": parsing.parse_integer,
            "bool": parsing.parse_bool,
            "email": parsing.parse_email,
            "id": parsing.parse_id,
        }
        if kind in simple:
            return simple[kind]
        if kind == "choice":
            return self._choice_parser(spec)
        if kind == "person":
            return self._person_parser()
        if kind == "status":
            return self._status_parser()
        return parsing.parse_text

    def missing(self, spec: FieldSpec) -> tuple[str, dict[str, str]] | None:
        """The problem a blank cell of this field gives, or None if blank is fine."""
        if not spec.required or spec.fill:
            return None
        if spec.type in ("text", "id"):
            return "missing-text", {"expected": "", "example": ""}
        language = self.language
        if spec.type in ("choice", "status"):
            values = self._allowed(spec)
            if not values:
                return "missing-text", {"expected": "", "example": ""}
            expected = EXPECTED["choice"][language].format(
                values=JOINER[language].join(values)
            )
            return "missing-value", {"expected": expected, "example": values[0]}
        if spec.type == "person":
            example = self._example_person()
            if not example:
                return "missing-text", {"expected": "", "example": ""}
            return "missing-value", {
                "expected": EXPECTED["person"][language],
                "example": example,
            }
        return "missing-value", {
            "expected": EXPECTED[spec.type][language],
            "example": EXAMPLES[spec.type][language],
        }

    def _allowed(self, spec: FieldSpec) -> tuple[str, ...]:
        if spec.type == "status":
            return tuple(self.config.statuses)
        choice_list = self.config.lists.get(spec.choices or "")
        return choice_list.values if choice_list is not None else ()

    def _example_person(self) -> str:
        return next(iter(self.people.values()), "")

    def _choice_parser(self, spec: FieldSpec) -> _Parser:
        known = self.choices.get(spec.choices or "")
        if known is None:
            # A list missing from Settings is a configuration problem, reported there.
            return parsing.parse_text
        allowed = self._allowed(spec)
        described = JOINER[self.language].join(
            self.config.shown(value, self.language) for value in allowed
        )
        example = allowed[0] if allowed else ""
        return _lookup_parser(known, "bad-choice", described, example)

    def _person_parser(self) -> _Parser:
        if not self.people:
            return parsing.parse_text
        example = self._example_person()
        return _lookup_parser(self.people, "unknown-person", "", example)

    def _status_parser(self) -> _Parser:
        if not self.statuses:
            return parsing.parse_text
        labels = tuple(self.config.statuses)
        described = JOINER[self.language].join(
            self.config.shown(label, self.language) for label in labels
        )
        return _lookup_parser(self.statuses, "bad-choice", described, labels[0])


def _lookup_parser(
    known: Mapping[str, str], code: str, expected: str, example: str
) -> _Parser:
    """A parser accepting any spelling in `known` and giving its stored form."""

    def parse(cell: CellValue) -> str | Invalid | None:
        if isinstance(cell, str):
            value = known.get(cell)  # the stored spelling itself, the common case
            if value is not None:
                return value
        text = parsing.parse_text(cell)
        if text is None:
            return None
        value = known.get(fold(text))
        if value is not None:
            return value
        return Invalid(
            code,
            {"found": format_found(cell), "expected": expected, "example": example},
        )

    return parse
