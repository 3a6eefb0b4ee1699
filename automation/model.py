"""What moves between the engine and the backends: grids read, and edits to write.

A backend reads every tab into a `Grid` (plain cell values, row 1 is the header) and
bundles them in a `Snapshot`. The engine answers with a `WritePlan`: `RowEdit`s for
cells of the people's tabs, located at write time by id (or, for a row that had no id
yet, by its row number) and guarded by a fingerprint of what the people had typed, and
whole `TabContent`s for the tabs the service owns.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import MAXYEAR, date, datetime, time, timedelta

from automation.layout import FieldSpec, TableSpec


@dataclass(frozen=True)
class Formula:
    """A value the backend writes as a spreadsheet formula, never as text."""

    text: str


CellValue = str | int | float | bool | datetime | date | time | Formula | None


@dataclass
class Grid:
    """One tab as read: `rows[0]` is the header, `rows[i]` is sheet row `i + 1`."""

    title: str
    rows: list[list[CellValue]]

    @property
    def header(self) -> list[CellValue]:
        return self.rows[0] if self.rows else []


@dataclass
class Snapshot:
    """Every tab of one spreadsheet or workbook, read at one moment.

    `version` lets the backend notice a change between read and write;
    `timezone` is the spreadsheet's own zone when the backend knows it.
    """

    grids: dict[str, Grid]
    version: str = ""
    timezone: str | None = None

    def grid(self, spec: TableSpec) -> Grid | None:
        """The grid of a tab, found by either of its titles."""
        for grid in self.grids.values():
            if spec.matches_title(grid.title):
                return grid
        return None


@dataclass(frozen=True)
class BoundTable:
    """A grid matched against its table spec: which column holds which field."""

    spec: TableSpec
    grid: Grid
    columns: Mapping[str, int]
    unknown_headers: tuple[str, ...]
    missing: tuple[FieldSpec, ...]
    people_columns: tuple[tuple[str, int], ...] = ()
    """(key, column) of the fields people type, sorted by key, for fingerprints."""

    def value(self, row: Sequence[CellValue], key: str) -> CellValue:
        index = self.columns.get(key)
        if index is None or index >= len(row):
            return None
        return row[index]

    def data_rows(self) -> list[tuple[int, list[CellValue]]]:
        """(1-based sheet row, cells) of every row below the header with content."""
        people = [index for _, index in self.people_columns]
        found = []
        for offset, row in enumerate(self.grid.rows[1:], start=2):
            if any(not is_blank(row[i]) for i in people if i < len(row)):
                found.append((offset, row))
        return found

    def fingerprint(self, row: Sequence[CellValue]) -> str:
        return fingerprint(self, row)


def is_blank(value: CellValue) -> bool:
    """An empty cell, or one holding only spaces."""
    return value is None or (isinstance(value, str) and not value.strip())


def same_value(old: CellValue, new: CellValue) -> bool:
    """Whether writing `new` over `old` would change nothing a person can see.

    Times are equal to the minute (the sheet shows minutes, and Excel keeps times as
    fractions of a day); text ignores surrounding spaces and the kind of line break.
    """
    if is_blank(old) or is_blank(new):
        return is_blank(old) and is_blank(new)
    if isinstance(old, Formula) or isinstance(new, Formula):
        return (
            isinstance(old, Formula)
            and isinstance(new, Formula)
            and old.text.lstrip("=") == new.text.lstrip("=")
        )
    if isinstance(old, bool) or isinstance(new, bool):
        return type(old) is type(new) and old == new
    if isinstance(old, datetime) and isinstance(new, datetime):
        return _minute(old) == _minute(new)
    if isinstance(old, datetime | date) or isinstance(new, datetime | date):
        return type(old) is type(new) and old == new
    if isinstance(old, int | float) and isinstance(new, int | float):
        return math.isclose(old, new, rel_tol=1e-12, abs_tol=1e-12)
    if isinstance(old, str) and isinstance(new, str):
        return _text(old) == _text(new)
    return type(old) is type(new) and old == new


def _minute(moment: datetime) -> datetime:
    # Excel keeps times as fractions of a day: round to the second before cutting.
    if moment.microsecond >= 500_000 and moment.year < MAXYEAR:  # no overflow
        moment += timedelta(microseconds=500_000)
    return moment.replace(second=0, microsecond=0, tzinfo=None)


def _text(value: str) -> str:
    return value.replace("\r\n", "\n").strip()


def bind(spec: TableSpec, grid: Grid) -> BoundTable:
    """Match a grid's header against a table spec, accepting either label."""
    columns: dict[str, int] = {}
    unknown = []
    for index, label in enumerate(grid.header):
        if is_blank(label):
            continue
        found = spec.match_header(str(label))
        if found is None:
            unknown.append(str(label))
        elif found.key not in columns:
            columns[found.key] = index
    missing = tuple(f for f in spec.fields if f.key not in columns)
    people = tuple(
        (key, columns[key]) for key in sorted(columns) if not spec.field(key).owned
    )
    return BoundTable(spec, grid, columns, tuple(unknown), missing, people)


def fingerprint(table: BoundTable, row: Sequence[CellValue]) -> str:
    """A short hash of the cells people typed in a row (service columns left out).

    A backend compares it at write time: a row whose fingerprint changed was edited
    since it was read, and is left for the next cycle.
    """
    width = len(row)
    parts = [
        f"{key}={_canonical(row[index] if index < width else None)}"
        for key, index in table.people_columns
    ]
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).hexdigest()


def _canonical(value: CellValue) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.replace(tzinfo=None, microsecond=0).isoformat()
    if isinstance(value, Formula):
        return value.text
    return str(value)


@dataclass(frozen=True)
class RowEdit:
    """New values for some cells of one row of a people's tab.

    The backend finds the row by `item_id` when it has one, else by `row`, and applies
    the edit only if the row's fingerprint is still `fingerprint`.
    """

    table: str
    row: int
    item_id: str | None
    fingerprint: str
    cells: Mapping[str, CellValue]


@dataclass(frozen=True)
class TabContent:
    """The whole content of a tab the service owns, header first."""

    table: str
    rows: list[list[CellValue]]


@dataclass
class WritePlan:
    """Everything one cycle wants written; empty when nothing changed."""

    edits: list[RowEdit] = field(default_factory=list)
    outputs: list[TabContent] = field(default_factory=list)

    @property
    def cell_count(self) -> int:
        return sum(len(edit.cells) for edit in self.edits)

    def __bool__(self) -> bool:
        return bool(self.edits or self.outputs)


@dataclass(frozen=True)
class WriteReport:
    """What a backend actually wrote."""

    cells_written: int = 0
    rows_skipped: tuple[str, ...] = ()
    tabs_written: tuple[str, ...] = ()
