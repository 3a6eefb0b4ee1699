"""One item in one cycle: its status history, its stages' completion, its notes.

`judge_item` joins what the row says with what the state database remembers (status
changes, hence pauses and the first response) and asks `automation.deadlines` for the
due times and the flag; it also adds the notes a row gets beside its problems (an
expedite needed, a due time resting on unannounced holidays).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from automation.calendar import BusinessCalendar
from automation.config import Config, Meaning
from automation.deadlines import Evaluation, evaluate, standard_lead
from automation.layout import TableSpec
from automation.model import BoundTable, CellValue
from automation.parsing import format_found, parse_datetime
from automation.problems import Problem
from automation.state import ItemState, ItemUpdate, StatusChange
from automation.validation import Record


def judge_item(
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
                        "found": format_found(required),
                        "standard": format_found(standard),
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
