"""One cycle, as a pure function: a snapshot and what was known in, results out.

`run_cycle` validates every data tab, fills blank ids and timestamps, judges every
item against its service levels, and answers with the cells to write (only those that
change), the Problems and KPI tabs, the items' new state, and counts for the log. It
reads no clock and touches no file: "now" and the state come in as arguments.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from automation.calendar import BusinessCalendar
from automation.config import Config
from automation.deadlines import Evaluation
from automation.fills import plan_fills
from automation.flags import Flag
from automation.judge import judge_item
from automation.kpi import KpiRow, compute_kpis, kpi_tab
from automation.layout import Language, Layout, TableSpec
from automation.model import (
    BoundTable,
    CellValue,
    RowEdit,
    Snapshot,
    WritePlan,
    bind,
    same_value,
)
from automation.outputs import problems_tab, same_content
from automation.parsing import as_text
from automation.problems import Problem, by_row, field_label
from automation.state import ItemState, ItemUpdate
from automation.validation import Record, validate_table

log = logging.getLogger(__name__)

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
        grid = snapshot.grid(spec)
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
    plan.outputs.append(problems_tab(snapshot, layout, problems, language, now))
    plan.outputs.append(kpi_tab(layout, kpis, language, config))
    plan.outputs = [
        output
        for output in plan.outputs
        if not same_content(snapshot, layout.table(output.table), output.rows)
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
    fills = plan_fills(table, checked.records, config, now)
    evaluations: list[Evaluation] = []
    updates: list[ItemUpdate] = []
    for record in checked.records:
        filled = fills.get(record.row, {})
        if spec.id_key in filled:
            # From here on the row is known by the id the service gives it.
            record.item_id = as_text(filled[spec.id_key])
        try:
            evaluation, update = judge_item(
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
    row_problems = by_row(problems)
    unfindable = _ids_not_unique(table, checked.records)
    edits = []
    for evaluation in evaluations:
        row = evaluation.record.row
        filled = fills.get(row, {})
        cells = dict(filled)
        cells.update(
            _owned_changes(
                table,
                evaluation,
                row_problems.get((spec.key, row), []),
                config.language,
                calendar,
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
    column = field_label(spec, problem.field, language)
    if column:
        separator = ":" if language == "zh" else ": "
        return column + separator + text
    return text


def _local(moment: datetime | None, calendar: BusinessCalendar) -> datetime | None:
    """The naive wall-clock time the spreadsheet shows, to the minute."""
    if moment is None:
        return None
    local = moment.astimezone(calendar.tz).replace(tzinfo=None)
    return local.replace(second=0, microsecond=0)


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
