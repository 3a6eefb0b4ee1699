"""After a write: find cells that landed in a row that moved, and put them right.

The Sheets API has no conditional write. The backend re-reads the edited tabs just
before writing and finds each row by id, but a person can still sort, insert or
delete rows in the instant between that re-read and the write, and the write then
lands on row numbers that now hold other rows. So after writing the backend reads
those tabs once more and `misplaced` works out, from the rows as they were before
the write and as they are now, which cells to write again:

- a cell the write put into a row that is not the one it meant (the row now at that
  number has other typed content) gets back that row's own value: its value before
  the write, or what the write meant for it if it was itself a row being edited; a
  row that did not exist before the write gets its service columns blank again;
- a row the write meant to edit that did not receive its values gets them where it
  is now, a column the service only fills still only while it is blank.

Rows are recognised by what people typed in them, leaving out the columns the service
fills (`identity`). A cell changed again since the write is left alone, and so is a
row whose typed content another row shares (it cannot be told apart): the log says
so, and the next cycle writes the service's columns from the rows as they are then.
Known limit: a row inserted in that same instant gets blank cells wherever the write
put a value, so a row pasted with its id already typed in, in that instant, loses
that id, and the next cycle gives it a new one.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from automation.model import BoundTable, CellValue, is_blank, same_value

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Written:
    """One row edit as written: at which row number, to which row, which cells."""

    number: int
    identity: str
    cells: Mapping[str, CellValue]  # field key -> value written
    fills: frozenset[str]  # keys written only because the cell was blank


def identity(table: BoundTable, row: Sequence[CellValue]) -> str:
    """A hash of what people typed in a row, less the columns the service fills."""
    parts = []
    for key, index in table.people_columns:
        if table.spec.field(key).fill:
            continue
        value = row[index] if index < len(row) else None
        parts.append(f"{key}={'' if is_blank(value) else value!r}")
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).hexdigest()


def misplaced(
    written: Sequence[Written], before: BoundTable, after: BoundTable
) -> dict[int, dict[str, CellValue]]:
    """The cells (row number in `after`, field key) to write so each row has its own."""
    rows = after.grid.rows
    strays = [
        w
        for w in written
        if w.number > len(rows) or identity(after, rows[w.number - 1]) != w.identity
    ]
    if not strays:
        return {}  # every row written is still where it was: the usual case
    was = _index(before)
    now = _index(after)
    marks = Counter(w.identity for w in written)
    meant = {w.identity: w for w in written if marks[w.identity] == 1}
    fixes: dict[int, dict[str, CellValue]] = {}

    def own(mark: str, key: str) -> tuple[bool, CellValue]:
        """What the row `mark` should hold in `key`: known, and the value."""
        target = meant.get(mark)
        if target is not None and key in target.cells:
            return True, target.cells[key]
        numbers = was.get(mark, [])
        if not numbers:
            # A row inserted (or edited) in that instant. The write put this value
            # there (the caller checked), so blank is what the row held before it,
            # unless a person typed into it in the same instant (see Known limit).
            return True, None
        if len(numbers) > 1:
            return False, None
        return True, before.value(before.grid.rows[numbers[0] - 1], key)

    # Cells written into a row that is not the one they were meant for.
    for target in strays:
        if target.number > len(rows):
            continue
        row = rows[target.number - 1]
        mark = identity(after, row)
        for key, value in target.cells.items():
            current = after.value(row, key)
            if not same_value(current, value):
                continue  # changed again since the write: not ours to touch
            known, wanted = own(mark, key)
            if known and not same_value(current, wanted):
                fixes.setdefault(target.number, {})[key] = wanted

    # Rows that did not receive what was meant for them.
    for target in strays:
        numbers = now.get(target.identity, [])
        if len(numbers) != 1:
            continue
        row = rows[numbers[0] - 1]
        for key, value in target.cells.items():
            current = after.value(row, key)
            if same_value(current, value):
                continue
            if key in target.fills and not is_blank(current):
                continue  # a person has typed it meanwhile
            fixes.setdefault(numbers[0], {})[key] = value

    ambiguous = sum(1 for w in strays if len(now.get(w.identity, [])) != 1)
    logger.warning(
        "%d rows of %s moved while the cycle wrote: %d rows put right, %d could "
        "not be told apart from others (or were deleted) and wait for the next cycle",
        len(strays),
        before.spec.key,
        len(fixes),
        ambiguous,
    )
    return fixes


def _index(table: BoundTable) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for number, row in table.data_rows():
        found.setdefault(identity(table, row), []).append(number)
    return found
