"""What every backend offers: read a snapshot, write a plan, lay the tabs out.

The engine sees only this interface, so the same cycle runs on a local workbook or on
a Google spreadsheet. Values cross it as `automation.model.CellValue`s; datetimes
are naive wall-clock times of the spreadsheet's own zone, because spreadsheets store
no zone with a cell.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from automation.errors import LayoutError
from automation.layout import FieldSpec, Language, Layout, TableSpec
from automation.model import (
    CellValue,
    RowEdit,
    Snapshot,
    WritePlan,
    WriteReport,
    is_blank,
    same_value,
)
from automation.parsing import parse_id

logger = logging.getLogger(__name__)

# No drop-down lists: the default of `Backend.init`, read-only so no call can grow it.
NO_LISTS: Mapping[str, Sequence[str]] = MappingProxyType({})


@dataclass(frozen=True)
class InitReport:
    """What `init` changed: tabs it created, header cells and default rows it added.

    `formats_added` counts the drop-downs and flag colour rules it set up.
    """

    tabs_created: tuple[str, ...] = ()
    columns_added: int = 0
    rows_added: int = 0
    formats_added: int = 0

    @property
    def changed(self) -> bool:
        counts = (self.columns_added, self.rows_added, self.formats_added)
        return bool(self.tabs_created) or any(counts)

    def summary(self) -> str:
        """What was added, in words, for the log and the `init` command."""
        return (
            f"{len(self.tabs_created)} tabs created, {self.columns_added} columns "
            f"added, {self.rows_added} rows of defaults written, "
            f"{self.formats_added} drop-downs and formats set"
        )


def writable_field(spec: TableSpec, key: str) -> FieldSpec | None:
    """The field `key` of a people's tab if the service may write it, else None.

    The service writes the columns it computes and fills the ones it fills; a
    column people own is refused (and logged: the engine never asks for one).
    """
    if not spec.has_field(key):
        return None
    field = spec.field(key)
    if not (field.owned or field.fill):
        logger.warning("refused to write %s.%s: people own it", spec.key, key)
        return None
    return field


def needs_writing(field: FieldSpec, old: CellValue, new: CellValue) -> bool:
    """Whether to write `new` over `old`: never over what a person typed in a column
    the service only fills, and not when nothing a person can see would change."""
    if field.fill and not field.owned and not is_blank(old):
        return False
    return not same_value(old, new)


def id_rows(cells: Iterable[tuple[int, CellValue]]) -> dict[str, list[int]]:
    """The rows (1-based) each id is in, from (row, id cell) pairs; ids cleaned as
    the engine cleans them, so "ＲＥＱ１" typed in full width is "REQ1"."""
    index: dict[str, list[int]] = {}
    for number, value in cells:
        text = parse_id(value)
        if text is not None:
            index.setdefault(text, []).append(number)
    return index


def row_of(ids: Mapping[str, list[int]], edit: RowEdit) -> int | None:
    """The one row holding `edit`'s id now, or None (logged) when it is in 0 or 2+."""
    found = ids.get(parse_id(edit.item_id) or "", [])
    if len(found) == 1:
        return found[0]
    logger.info(
        "row %d of %s: its id is in %d rows now; left for the next cycle",
        edit.row,
        edit.table,
        len(found),
    )
    return None


def no_tab(where: str, spec: TableSpec, language: Language) -> LayoutError:
    """The error for rows appended to a tab the spreadsheet does not have."""
    return LayoutError(
        f"{where} has no tab {spec.title(language)!r}: run `automation init` first"
    )


def by_column(
    rows: list[dict[str, CellValue]], columns: Mapping[str, int], title: str
) -> list[dict[int, CellValue]]:
    """Rows of field key to value as rows of 0-based column to value.

    Raises `LayoutError` for a key the tab has no column for.
    """
    placed = []
    for row in rows:
        for key in row:
            if key not in columns:
                raise LayoutError(
                    f"tab {title!r} has no column for {key!r}: "
                    "run `automation init` to add it"
                )
        placed.append({columns[key]: value for key, value in row.items()})
    return placed


class Backend(Protocol):
    """A spreadsheet the service reads and writes, whatever stores it."""

    name: str
    """Says which spreadsheet this is, for logs and messages; never holds a secret."""

    def read(self) -> Snapshot:
        """Every tab as plain values, with a version that `write` can check."""
        ...

    def write(
        self,
        snapshot: Snapshot,
        plan: WritePlan,
        layout: Layout,
        language: Language,
    ) -> WriteReport:
        """Apply a plan made from `snapshot`; raise `ConflictError` if it is stale."""
        ...

    def init(
        self,
        layout: Layout,
        defaults: dict[str, list[dict[str, object]]],
        language: Language,
        lists: Mapping[str, Sequence[str]] = NO_LISTS,
    ) -> InitReport:
        """Create missing tabs, headers, default rows, drop-downs; never delete data."""
        ...

    def append_rows(
        self,
        layout: Layout,
        language: Language,
        table_key: str,
        rows: list[dict[str, CellValue]],
    ) -> None:
        """Add rows (field key to value) below the last used row of a tab."""
        ...


class Delegating:
    """A backend that hands every call to `inner`; a subclass changes what it needs.

    Used where something must sit around a backend: timing it, keeping a read.
    """

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name

    def read(self) -> Snapshot:
        return self.inner.read()

    def write(
        self,
        snapshot: Snapshot,
        plan: WritePlan,
        layout: Layout,
        language: Language,
    ) -> WriteReport:
        return self.inner.write(snapshot, plan, layout, language)

    def init(
        self,
        layout: Layout,
        defaults: dict[str, list[dict[str, object]]],
        language: Language,
        lists: Mapping[str, Sequence[str]] = NO_LISTS,
    ) -> InitReport:
        return self.inner.init(layout, defaults, language, lists)

    def append_rows(
        self,
        layout: Layout,
        language: Language,
        table_key: str,
        rows: list[dict[str, CellValue]],
    ) -> None:
        self.inner.append_rows(layout, language, table_key, rows)
