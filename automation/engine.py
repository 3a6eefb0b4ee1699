"""One cycle, as a pure function: a snapshot and what was known in, results out.

`run_cycle` validates every data tab, fills blank ids and timestamps, judges every
item against its service levels, and answers with the cells to write (only those that
change), the Problems and KPI tabs, the items' new state, and counts for the log. It
reads no clock and touches no file: "now" and the state come in as arguments.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from automation.calendar import BusinessCalendar
from automation.config import Config, Meaning
from automation.deadlines import Evaluation, evaluate, standard_lead
from automation.flags import Flag
from automation.kpi import KpiRow, compute_kpis, kpi_tab
from automation.layout import Language, Layout, TableSpec
from automation.model import (
    BoundTable,
    CellValue,
    Grid,
    RowEdit,
    Snapshot,
    TabContent,
    WritePlan,
    bind,
    is_blank,
    same_value,
)
from automation.parsing import as_text, format_found, parse_datetime
from automation.problems import Problem
from automation.state import ItemState, ItemUpdate, StatusChange
from automation.validation import Record, validate_table

log = logging.getLogger(__name__)

ITEM_TABLES = ("requests", "orders", "returns")
ITEM_ORDER = {key: index for index, key in enumerate(ITEM_TABLES)}
CHECK_JOINER = "\n"


@dataclass
class CycleResult:
    """What one cycle concluded; the service writes, stores and mails from it."""

    now: datetime
    plan: WritePlan
    problems: list[Problem]
    evaluations: dict[str, list[Evaluation]]
    records: dict[str, list[Record]]
    item_updates: list[ItemUpdate]
    kpis: list[KpiRow]
    rows_read: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def run_cycle(
    snapshot: Snapshot,
    layout: Layout,
    config: Config,
    items: Mapping[tuple[str, str], ItemState],
    now: datetime,
    calendar: BusinessCalendar | None = None,
    config_problems: Sequence[Problem] = (),
) -> CycleResult:
    """Judge everything in the snapshot at `now` (aware) and plan the writes.

    `config_problems` are shown in the Problems tab beside the rows' own problems.
    """
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone, e.g. 2025-10-15T10:00+08:00")
    calendar = calendar or BusinessCalendar(config.calendar)
    now = now.astimezone(calendar.tz).replace(second=0, microsecond=0)
    language = config.language
    problems: list[Problem] = list(config_problems)
    plan = WritePlan()
    evaluations: dict[str, list[Evaluation]] = {}
    records: dict[str, list[Record]] = {}
    updates: list[ItemUpdate] = []
    rows_read = 0

    for spec in layout.of_kind("data"):
        grid = _find_grid(snapshot, spec)
        if grid is None:
            problems.append(
                Problem(
                    "missing-tab", spec.key, params={"expected": spec.title(language)}
                )
            )
            continue
        judged = _judge_table(bind(spec, grid), config, calendar, items, now)
        problems.extend(judged.problems)
        rows_read += len(judged.records)
        records[spec.key] = judged.records
        evaluations[spec.key] = judged.evaluations
        plan.edits.extend(judged.edits)
        updates.extend(judged.updates)

    kpis = compute_kpis(evaluations, records, config, calendar)
    plan.outputs.append(
        _problems_tab(snapshot, layout, problems, language, now, calendar)
    )
    plan.outputs.append(kpi_tab(layout, kpis, language, config))
    plan.outputs = [
        output
        for output in plan.outputs
        if not _same_content(snapshot, layout.table(output.table), output.rows)
    ]
    counts = _counts(evaluations, items)
    return CycleResult(
        now=now,
        plan=plan,
        problems=problems,
        evaluations=evaluations,
        records=records,
        item_updates=updates,
        kpis=kpis,
        rows_read=rows_read,
        counts=counts,
    )


@dataclass
class _TableResult:
    records: list[Record]
    evaluations: list[Evaluation]
    problems: list[Problem]
    edits: list[RowEdit]
    updates: list[ItemUpdate]


def _judge_table(
    table: BoundTable,
    config: Config,
    calendar: BusinessCalendar,
    items: Mapping[tuple[str, str], ItemState],
    now: datetime,
) -> _TableResult:
    """Validate, fill and judge one data tab, and plan its cells."""
    spec = table.spec
    checked = validate_table(table, config, now)
    fills = _fills(table, checked.records, config, now)
    evaluations: list[Evaluation] = []
    updates: list[ItemUpdate] = []
    for record in checked.records:
        filled = fills.get(record.row, {})
        if spec.id_key in filled:
            # From here on the row is known by the id the service gives it.
            record.item_id = as_text(filled[spec.id_key])
        try:
            evaluation, update = _judge(
                record, table, config, calendar, items, filled, now
            )
        except Exception:  # a fault on one row must not stop the cycle
            log.exception("Row %s:%d could not be judged", spec.key, record.row)
            evaluation, update = Evaluation(record=record, start=None), None
            evaluation.notes.append(
                Problem("row-not-judged", spec.key, record.row, None, record.item_id)
            )
        evaluations.append(evaluation)
        if update is not None:
            updates.append(update)

    problems = _with_filled_ids(checked.problems, fills, spec)
    row_problems = _problems_by_row(problems)
    unfindable = _ids_not_unique(table, checked.records)
    edits = []
    for evaluation in evaluations:
        row = evaluation.record.row
        filled = fills.get(row, {})
        cells = dict(filled)
        cells.update(
            _owned_changes(
                table, evaluation, row_problems.get(row, []), config.language, calendar
            )
        )
        if cells:
            edits.append(
                RowEdit(
                    table=spec.key,
                    row=row,
                    # Found by row number (its fingerprint still guards it) when
                    # the service fills its id or the id is not unique.
                    item_id=None
                    if spec.id_key in filled or evaluation.record.item_id in unfindable
                    else evaluation.record.item_id,
                    fingerprint=evaluation.record.fingerprint,
                    cells=cells,
                )
            )
    notes = [
        note
        for evaluation in evaluations
        for note in evaluation.notes
        if note.severity != "notice"
    ]
    return _TableResult(
        checked.records, evaluations, [*problems, *notes], edits, updates
    )


def _with_filled_ids(
    problems: Sequence[Problem],
    fills: Mapping[int, Mapping[str, CellValue]],
    spec: TableSpec,
) -> list[Problem]:
    """Problems of a row whose id the service fills name that id, as later cycles do."""
    if spec.id_key is None:
        return list(problems)
    found = []
    for problem in problems:
        filled = fills.get(problem.row or 0, {}).get(spec.id_key)
        if filled is not None and problem.item_id is None:
            problem = dataclasses.replace(problem, item_id=as_text(filled))
        found.append(problem)
    return found


def _ids_not_unique(table: BoundTable, records: Sequence[Record]) -> set[str]:
    key = table.spec.id_key
    if key is None:
        return set()
    counts = Counter(as_text(record.values.get(key)) for record in records)
    return {item_id for item_id, count in counts.items() if item_id and count > 1}


def _find_grid(snapshot: Snapshot, spec: TableSpec) -> Grid | None:
    for grid in snapshot.grids.values():
        if spec.matches_title(grid.title):
            return grid
    return None


# Filling blanks


def _fills(
    table: BoundTable, records: Sequence[Record], config: Config, now: datetime
) -> dict[int, dict[str, CellValue]]:
    """Blank ids, start times and done times the service fills, by sheet row."""
    spec = table.spec
    fills: dict[int, dict[str, CellValue]] = {}
    local_now = now.replace(tzinfo=None)
    next_number = _next_number(table, config)
    prefix = config.settings.get(f"id_prefix_{spec.key}", "")
    for record in records:
        cells: dict[str, CellValue] = {}
        if (
            spec.id_key
            and spec.field(spec.id_key).fill
            and _blank(table, record, spec.id_key)
        ):
            cells[spec.id_key] = f"{prefix}{next_number:05d}"
            next_number += 1
        if (
            spec.start
            and spec.field(spec.start).fill
            and _blank(table, record, spec.start)
        ):
            # Seen now for the first time, but begun no later than anything done.
            cells[spec.start] = min([now, *_event_times(record, spec)]).replace(
                tzinfo=None
            )
        if (
            spec.has_field("done_at")
            and record.meaning is Meaning.DONE
            and _blank(table, record, "done_at")
        ):
            cells["done_at"] = local_now
        if cells:
            fills[record.row] = cells
    return fills


def _event_times(record: Record, spec: TableSpec) -> list[datetime]:
    """Times already typed in a row of things that happened (keys ending in _at)."""
    return [
        value
        for key, value in record.values.items()
        if key.endswith("_at") and key != spec.start and isinstance(value, datetime)
    ]


def _blank(table: BoundTable, record: Record, key: str) -> bool:
    if key not in table.columns:
        return False
    return is_blank(table.value(table.grid.rows[record.row - 1], key))


_NUMBER = re.compile(r"(\d+)$")


def _next_number(table: BoundTable, config: Config) -> int:
    key = table.spec.id_key
    if key is None or key not in table.columns:
        return 1
    prefix = config.settings.get(f"id_prefix_{table.spec.key}", "")
    highest = 0
    for _, row in table.data_rows():
        text = as_text(table.value(row, key))
        if prefix and not text.startswith(prefix):
            continue
        match = _NUMBER.search(text)
        if match:
            highest = max(highest, int(match.group(1)))
    return highest + 1


# Judging one item


def _judge(
    record: Record,
    table: BoundTable,
    config: Config,
    calendar: BusinessCalendar,
    items: Mapping[tuple[str, str], ItemState],
    filled: Mapping[str, CellValue],
    now: datetime,
) -> tuple[Evaluation, ItemUpdate | None]:
    spec = table.spec
    if not spec.stages or record.meaning is None:
        # Without a known status the clock's state is a guess: the check column
        # asks for a status, and the row is judged once it has one.
        return Evaluation(record=record, start=None), None
    item_id = record.item_id or ""

    known = items.get((spec.key, item_id)) if item_id else None
    status = record.values.get("status")
    meaning = record.meaning
    changed = known is None or known.status != status
    history = list(known.history) if known else []
    if changed:
        history.append(StatusChange(_opt(status), _meaning(meaning), now))

    start = _start(record, spec, filled, now)
    done_times = _done_times(record, table, history, filled, now, calendar)
    evaluation = evaluate(
        record, spec, config, calendar, history, start, done_times, now
    )
    if start is not None and spec.stages and not evaluation.stages:
        evaluation.notes.append(
            Problem("no-sla", spec.key, record.row, None, item_id, severity="warning")
        )
    _add_notes(evaluation, spec, config, calendar, item_id)

    flag = evaluation.flag.value if evaluation.flag else None
    if not item_id or (known is not None and not changed and known.flag == flag):
        return evaluation, None  # nothing new to remember
    update = ItemUpdate(
        table=spec.key,
        item_id=item_id,
        first_seen=known.first_seen if known else now,
        status=_opt(status),
        meaning=_meaning(meaning),
        status_since=now if changed else (known.status_since if known else now),
        flag=flag,
        changed_status=changed,
    )
    return evaluation, update


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def _meaning(meaning: Meaning | None) -> str | None:
    return meaning.value if meaning is not None else None


def _start(
    record: Record, spec: TableSpec, filled: Mapping[str, CellValue], now: datetime
) -> datetime | None:
    if spec.start is None:
        return None
    written = filled.get(spec.start)
    if isinstance(written, datetime):
        return written.replace(tzinfo=now.tzinfo)  # filled as local wall-clock time
    typed = record.values.get(spec.start)
    return typed if isinstance(typed, datetime) else None


def _done_times(
    record: Record,
    table: BoundTable,
    history: Sequence[StatusChange],
    filled: Mapping[str, CellValue],
    now: datetime,
    calendar: BusinessCalendar,
) -> dict[str, datetime | None]:
    """When each stage was completed; a key with None means done at an unknown time."""
    times: dict[str, datetime | None] = {}
    for stage in table.spec.stages:
        if stage.done == "responded_at":
            responded, at = _responded_at(record, table, history, calendar)
            if responded:
                times[stage.key] = at
            continue
        if stage.done in filled:
            times[stage.key] = now
            continue
        value = record.values.get(stage.done)
        if isinstance(value, datetime):
            times[stage.key] = value
        elif stage.done in record.invalid:
            # Filled but unreadable: treat the stage as done at an unknown time
            # rather than flagging an item late because of a typo.
            times[stage.key] = None
    return times


def _responded_at(
    record: Record,
    table: BoundTable,
    history: Sequence[StatusChange],
    calendar: BusinessCalendar,
) -> tuple[bool, datetime | None]:
    """Whether and when the first response came: owner set, status moved from "new".

    The time is None when the response came before the service first saw the item.
    """
    written = table.value(table.grid.rows[record.row - 1], "responded_at")
    parsed = parse_datetime(written, calendar.tz)
    if isinstance(parsed, datetime):
        return True, parsed
    if record.meaning in (None, Meaning.NEW) or not record.values.get("owner"):
        return False, None
    if history and history[0].meaning not in (None, Meaning.NEW.value):
        return True, None
    for change in history:
        if change.meaning not in (None, Meaning.NEW.value):
            return True, change.at
    return False, None


def _add_notes(
    evaluation: Evaluation,
    spec: TableSpec,
    config: Config,
    calendar: BusinessCalendar,
    item_id: str,
) -> None:
    record = evaluation.record
    if evaluation.closed or evaluation.start is None:
        return
    required = record.values.get("required_by")
    if isinstance(required, datetime) and spec.key == "requests":
        standard = standard_lead(
            config.sla, spec, "done", record, calendar, evaluation.start
        )
        if standard is not None and required < standard:
            evaluation.notes.append(
                Problem(
                    "expedite-needed",
                    spec.key,
                    record.row,
                    "required_by",
                    item_id,
                    params={
                        "found": format_found(required.replace(tzinfo=None)),
                        "standard": format_found(standard.replace(tzinfo=None)),
                    },
                    severity="warning",
                )
            )
    years = sorted(
        {s.due.year for s in evaluation.stages if s.provisional and not s.done}
    )
    if years:
        evaluation.notes.append(
            Problem(
                "provisional-due",
                spec.key,
                record.row,
                None,
                item_id,
                params={"year": str(years[0])},
                severity="notice",
            )
        )


# Cells the service owns


def _owned_changes(
    table: BoundTable,
    evaluation: Evaluation,
    problems: Sequence[Problem],
    language: Language,
    calendar: BusinessCalendar,
) -> dict[str, CellValue]:
    spec = table.spec
    wanted: dict[str, CellValue] = {}
    if spec.stages:
        by_stage = {result.stage.key: result for result in evaluation.stages}
        for stage in spec.stages:
            result = by_stage.get(stage.key)
            wanted[stage.due] = _local(result.due, calendar) if result else None
        if spec.has_field("responded_at"):
            response = by_stage.get("response")
            done_at = response.done_at if response else None
            wanted["responded_at"] = _local(done_at, calendar) if done_at else None
        wanted["due"] = _local(evaluation.due, calendar) if evaluation.due else None
        current = evaluation.current
        wanted["stage"] = current.stage.label(language) if current else None
        wanted["flag"] = evaluation.flag.label(language) if evaluation.flag else None
    notes = [*problems, *evaluation.notes]
    wanted["check"] = (
        CHECK_JOINER.join(_check_line(problem, spec, language) for problem in notes)
        or None
    )

    row = table.grid.rows[evaluation.record.row - 1]
    changes: dict[str, CellValue] = {}
    for key, value in wanted.items():
        if not spec.has_field(key):
            continue
        if key == "responded_at" and value is None:
            continue  # never clear a first response once recorded
        if not same_value(table.value(row, key), value):
            changes[key] = value
    return changes


def _check_line(problem: Problem, spec: TableSpec, language: Language) -> str:
    text = problem.text(language)
    if problem.field and spec.has_field(problem.field):
        separator = ":" if language == "zh" else ": "
        return spec.field(problem.field).label(language) + separator + text
    return text


def _local(moment: datetime | None, calendar: BusinessCalendar) -> datetime | None:
    """The naive wall-clock time the spreadsheet shows, to the minute."""
    if moment is None:
        return None
    local = moment.astimezone(calendar.tz).replace(tzinfo=None)
    return local.replace(second=0, microsecond=0)


def _problems_by_row(problems: Sequence[Problem]) -> dict[int, list[Problem]]:
    grouped: dict[int, list[Problem]] = {}
    for problem in problems:
        if problem.row is not None:
            grouped.setdefault(problem.row, []).append(problem)
    return grouped


# Tabs the service owns


def _problems_tab(
    snapshot: Snapshot,
    layout: Layout,
    problems: Sequence[Problem],
    language: Language,
    now: datetime,
    calendar: BusinessCalendar,
) -> TabContent:
    """Every problem, keeping the time it was first seen from the tab as it was."""
    spec = layout.table("problems")
    header = [f.label(language) for f in spec.fields]
    since = _previous_since(snapshot, spec)
    rows: list[list[CellValue]] = [list(header)]
    ordered = sorted(
        problems, key=lambda p: (ITEM_ORDER.get(p.table, 99), p.row or 0, p.field or "")
    )
    for problem in ordered:
        table = layout.table(problem.table)
        column = problem.column_label(language, layout)
        key = (
            table.title(language),
            problem.item_id or str(problem.row),
            column,
            problem.code,
        )
        rows.append(
            [
                table.title(language),
                problem.row,
                problem.item_id or "",
                column,
                problem.code,
                problem.message(language, layout),
                since.get(key) or now.replace(tzinfo=None),
            ]
        )
    return TabContent("problems", rows)


def _previous_since(
    snapshot: Snapshot, spec: TableSpec
) -> dict[tuple[str, str, str, str], datetime]:
    grid = _find_grid(snapshot, spec)
    if grid is None:
        return {}
    table = bind(spec, grid)
    found = {}
    for _, row in table.data_rows():
        since = table.value(row, "since")
        if not isinstance(since, datetime):
            continue
        key = (
            as_text(table.value(row, "tab")),
            as_text(table.value(row, "item")) or as_text(table.value(row, "row")),
            as_text(table.value(row, "column")),
            as_text(table.value(row, "code")),
        )
        found[key] = since
    return found


def _same_content(
    snapshot: Snapshot, spec: TableSpec, rows: list[list[CellValue]]
) -> bool:
    grid = _find_grid(snapshot, spec)
    if grid is None:
        return False
    current = grid.rows
    if len(_trim(current)) != len(_trim(rows)):
        return False
    for old, new in zip(_trim(current), _trim(rows), strict=True):
        width = max(len(old), len(new))
        for index in range(width):
            a = old[index] if index < len(old) else None
            b = new[index] if index < len(new) else None
            if not same_value(a, b):
                return False
    return True


def _trim(rows: list[list[CellValue]]) -> list[list[CellValue]]:
    trimmed = list(rows)
    while trimmed and all(is_blank(cell) for cell in trimmed[-1]):
        trimmed.pop()
    return trimmed


def _counts(
    evaluations: Mapping[str, list[Evaluation]],
    items: Mapping[tuple[str, str], ItemState],
) -> dict[str, int]:
    counts = {"overdue": 0, "at_risk": 0, "turned_overdue": 0, "open": 0}
    for table, judged in evaluations.items():
        for evaluation in judged:
            if evaluation.flag is None or not evaluation.flag.open:
                continue
            counts["open"] += 1
            if evaluation.flag is Flag.AT_RISK:
                counts["at_risk"] += 1
            if evaluation.flag is Flag.OVERDUE:
                counts["overdue"] += 1
                item_id = evaluation.record.item_id
                known = items.get((table, item_id)) if item_id else None
                if known is not None and known.flag != Flag.OVERDUE.value:
                    counts["turned_overdue"] += 1
    return counts
