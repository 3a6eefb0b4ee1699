"""Laying a Google spreadsheet out for `automation init`: a pure plan, then two calls.

`plan_layout` compares the spreadsheet as it is (the JSON of spreadsheets.get and a
`Snapshot` of its values) with a layout and returns what to add, as it is sent: the
requests of one spreadsheets.batchUpdate and the ranges of one values:batchUpdate.
Like the workbook's `lay_out` it only ever adds: a missing tab (header row frozen),
missing header cells after the last used one, the default rows of an empty
configuration tab, drop-downs, the colours of the flag column, a warning-only
protection over the columns the service computes, and date formats. `apply_layout`
sends the plan; a second `init` finds nothing to add and sends no request.

Drop-downs and number formats do not show in spreadsheets.get, so each tab records
in its developer metadata (keys "automation.layout.drop_downs" and
"automation.layout.formats") a short hash of the ones `init` set; they are set again
only when that hash changes: a list changed, a column moved, or the tab grew rows.

Known limits: drop-downs and date formats cover the rows the grid has when `init`
runs; rows added later get them at the next `init`. A list longer than 500 entries
gets no drop-down, and a list entry starting with "=" or "+" is left out of it
(Sheets would read it as a formula); a log line says so. Drop-downs set by an earlier
`init` for a list that is now empty stay as they were.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from automation.backends.base import InitReport
from automation.backends.sheets_api import Json
from automation.backends.sheets_requests import (
    NEW_TAB_COLUMNS,
    NEW_TAB_ROWS,
    Tab,
    add_sheet,
    append_dimension,
    format_runs,
    new_sheet_id,
    number_format,
)
from automation.backends.sheets_values import (
    JsonCell,
    a1_range,
    cell_json,
    column_letters,
)
from automation.backends.workbook_layout import AMBER, PICK_FROM_LIST, RED
from automation.configload import list_name
from automation.flags import Flag, flag_formula
from automation.layout import FieldSpec, Language, Layout, TableSpec
from automation.model import CellValue, Grid, Snapshot, bind, is_blank

logger = logging.getLogger(__name__)


DROP_DOWNS_KEY = "automation.layout.drop_downs"
FORMATS_KEY = "automation.layout.formats"
MAX_LIST_ITEMS = 500

PROTECTION_NOTE: dict[Language, str] = {
    "zh": "后勤协同自动化服务计算并写入的列:手工修改会在下次运行时被覆盖。",
    "en": "Columns the logistics automation service computes and writes: "
    "edits by hand are overwritten at its next run.",
}


@dataclass
class LayoutPlan:
    """What `init` adds to a spreadsheet, as the two write requests will carry it."""

    structure: list[Json]
    """spreadsheets.batchUpdate requests, in the order they must run."""
    values: list[Json]
    """ValueRanges for values:batchUpdate with valueInputOption RAW."""
    report: InitReport


class Calls(Protocol):
    """The two writes `apply_layout` needs; `sheets_api.SheetsCalls` offers them."""

    def batch_update(self, requests: list[Json]) -> Json:
        """Send one spreadsheets.batchUpdate with these requests."""
        ...

    def values_update(self, data: list[Json]) -> Json:
        """Send one values:batchUpdate of these ranges with valueInputOption RAW."""
        ...


def plan_layout(
    metadata: Mapping[str, Any],
    snapshot: Snapshot,
    layout: Layout,
    defaults: Mapping[str, list[dict[str, object]]],
    language: Language,
    lists: Mapping[str, Sequence[str]],
) -> LayoutPlan:
    """What the spreadsheet lacks of `layout`, as requests; empty when nothing is.

    `metadata` is spreadsheets.get's answer and `snapshot` the values read with it;
    a tab in `metadata` with no grid in `snapshot` is refused with `ValueError`,
    since its header cannot be known.
    """
    planner = _Planner(metadata, snapshot, defaults, language, lists)
    for spec in layout.tables:
        planner.lay_out(spec)
    return planner.plan()


def apply_layout(calls: Calls, plan: LayoutPlan) -> InitReport:
    """Send a plan: one batchUpdate, then one values:batchUpdate, each if needed."""
    if plan.structure:
        calls.batch_update(plan.structure)
        logger.info("init sent %d layout requests", len(plan.structure))
    if plan.values:
        calls.values_update(plan.values)
        logger.info("init wrote %d ranges of headers and defaults", len(plan.values))
    return plan.report


@dataclass
class _Tab:
    """One tab as the plan leaves it: grid size and what is recorded on it."""

    sheet_id: int
    title: str
    rows: int
    columns: int
    frozen: int
    grid: Grid
    sheet: Mapping[str, Any]  # its entry in spreadsheets.get, empty for a new tab


@dataclass
class _Planner:
    """Collects the requests and values that bring a spreadsheet up to a layout."""

    metadata: Mapping[str, Any]
    snapshot: Snapshot
    defaults: Mapping[str, list[dict[str, object]]]
    language: Language
    lists: Mapping[str, Sequence[str]]
    structure: list[Json] = field(default_factory=list)
    values: list[Json] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    columns_added: int = 0
    rows_added: int = 0
    formats_added: int = 0
    used_ids: set[int] = field(init=False)

    def __post_init__(self) -> None:
        self.used_ids = {
            _props(sheet).get("sheetId", 0) for sheet in self.metadata.get("sheets", ())
        }

    def plan(self) -> LayoutPlan:
        report = InitReport(
            tabs_created=tuple(self.created),
            columns_added=self.columns_added,
            rows_added=self.rows_added,
            formats_added=self.formats_added,
        )
        return LayoutPlan(self.structure, self.values, report)

    def lay_out(self, spec: TableSpec) -> None:
        defaults = self.defaults.get(spec.key, []) if spec.kind == "config" else []
        tab = self._existing(spec) or self._create(spec, defaults)

        columns = self._add_headers(spec, tab)
        self._freeze(tab)
        if defaults and all(_blank_row(row) for row in tab.grid.rows[1:]):
            self._add_defaults(spec, tab, columns, defaults)
        if "flag" in columns:
            self._add_flag_colours(tab, columns["flag"])
        if spec.kind == "data":
            self._protect(tab, [columns[key] for key in spec.owned_keys])
        self._add_cell_rules(spec, tab, columns)

    # Tabs and their grid

    def _existing(self, spec: TableSpec) -> _Tab | None:
        for sheet in self.metadata.get("sheets", ()):
            props = _props(sheet)
            if not spec.matches_title(props.get("title", "")):
                continue
            grid = self._grid(props["title"])
            size = props.get("gridProperties", {})
            return _Tab(
                sheet_id=props.get("sheetId", 0),
                title=props["title"],
                rows=size.get("rowCount", 0),
                columns=size.get("columnCount", 0),
                frozen=size.get("frozenRowCount", 0),
                grid=grid,
                sheet=sheet,
            )
        return None

    def _grid(self, title: str) -> Grid:
        for grid in self.snapshot.grids.values():
            if grid.title == title:
                return grid
        raise ValueError(
            f"the snapshot has no values for tab {title!r}: read every tab of the "
            "metadata before planning the layout"
        )

    def _create(self, spec: TableSpec, defaults: list[dict[str, object]]) -> _Tab:
        tab = Tab(
            new_sheet_id(self.used_ids),
            spec.title(self.language),
            max(NEW_TAB_ROWS, len(defaults) + 1),
            max(NEW_TAB_COLUMNS, len(spec.fields)),
        )
        self.structure.append(add_sheet(tab))
        self.created.append(spec.key)
        return _Tab(
            tab.sheet_id, tab.title, tab.rows, tab.columns, 1, Grid(tab.title, []), {}
        )

    def _grow(self, tab: _Tab, dimension: str, needed: int) -> None:
        have = tab.rows if dimension == "ROWS" else tab.columns
        if needed <= have:
            return
        self.structure.append(append_dimension(tab.sheet_id, dimension, needed - have))
        if dimension == "ROWS":
            tab.rows = needed
        else:
            tab.columns = needed

    def _freeze(self, tab: _Tab) -> None:
        if tab.frozen:
            return
        properties = {"sheetId": tab.sheet_id, "gridProperties": {"frozenRowCount": 1}}
        self.structure.append(
            {
                "updateSheetProperties": {
                    "properties": properties,
                    "fields": "gridProperties.frozenRowCount",
                }
            }
        )
        tab.frozen = 1
        self.formats_added += 1

    # Values: header cells and default rows

    def _add_headers(self, spec: TableSpec, tab: _Tab) -> dict[str, int]:
        header = list(tab.grid.header)
        while header and is_blank(header[-1]):
            header.pop()
        bound = bind(spec, Grid(tab.title, [header]))
        columns = dict(bound.columns)
        if not bound.missing:
            return columns

        first = len(header)
        for offset, missing in enumerate(bound.missing):
            columns[missing.key] = first + offset
        last = first + len(bound.missing)
        self._grow(tab, "COLUMNS", last)
        labels = [missing.label(self.language) for missing in bound.missing]
        self.values.append(
            {"range": a1_range(tab.title, 1, first, 1, len(labels)), "values": [labels]}
        )
        self.columns_added += len(bound.missing)
        return columns

    def _add_defaults(
        self,
        spec: TableSpec,
        tab: _Tab,
        columns: Mapping[str, int],
        defaults: list[dict[str, object]],
    ) -> None:
        zone = self.metadata.get("properties", {}).get("timeZone")
        cells: list[dict[int, JsonCell]] = []
        for row in defaults:
            placed: dict[int, JsonCell] = {}
            for key, value in row.items():
                if key not in columns:
                    logger.warning("default for %s.%s has no column", spec.key, key)
                    continue
                placed[columns[key]] = _default_json(value, zone)
            cells.append(placed)
        used = [column for placed in cells for column in placed]
        if not used:
            return

        first, last = min(used), max(used) + 1
        self._grow(tab, "ROWS", len(defaults) + 1)
        rows = [[placed.get(c, "") for c in range(first, last)] for placed in cells]
        self.values.append(
            {
                "range": a1_range(tab.title, 2, first, len(rows), last - first),
                "values": rows,
            }
        )
        self.rows_added += len(rows)

    # Rules Google shows in spreadsheets.get: compared there

    def _add_flag_colours(self, tab: _Tab, column: int) -> None:
        present = {
            value.get("userEnteredValue", "").lstrip("=")
            for rule in tab.sheet.get("conditionalFormats", ())
            for value in rule.get("booleanRule", {})
            .get("condition", {})
            .get("values", ())
        }
        letter = column_letters(column)
        for flag, (fill, text) in ((Flag.OVERDUE, RED), (Flag.AT_RISK, AMBER)):
            formula = flag_formula(letter, flag)
            if formula in present:
                continue
            span = {
                "sheetId": tab.sheet_id,
                "startRowIndex": 1,
                "startColumnIndex": column,
                "endColumnIndex": column + 1,
            }
            condition = {
                "type": "CUSTOM_FORMULA",
                "values": [{"userEnteredValue": f"={formula}"}],
            }
            colours = {
                "backgroundColor": _colour(fill),
                "textFormat": {"foregroundColor": _colour(text)},
            }
            rule = {
                "ranges": [span],
                "booleanRule": {"condition": condition, "format": colours},
            }
            self.structure.append(
                {"addConditionalFormatRule": {"rule": rule, "index": 0}}
            )
            self.formats_added += 1

    def _protect(self, tab: _Tab, owned: list[int]) -> None:
        covered = [
            protected["range"]
            for protected in tab.sheet.get("protectedRanges", ())
            if "range" in protected
        ]
        bare = [c for c in owned if not any(_covers(s, c, tab.rows) for s in covered)]
        for first, last in _runs(bare):
            span = {
                "sheetId": tab.sheet_id,
                "startRowIndex": 0,
                "startColumnIndex": first,
                "endColumnIndex": last,
            }
            protected = {
                "range": span,
                "description": PROTECTION_NOTE[self.language],
                "warningOnly": True,
            }
            self.structure.append({"addProtectedRange": {"protectedRange": protected}})
            self.formats_added += 1

    # Rules Google does not show: recorded as a hash in developer metadata

    def _add_cell_rules(
        self, spec: TableSpec, tab: _Tab, columns: Mapping[str, int]
    ) -> None:
        if tab.rows < 2:
            return
        by_column = sorted((column, spec.field(key)) for key, column in columns.items())
        drop_downs = [
            (column, values)
            for column, field_spec in by_column
            if (values := self._list_for(spec, field_spec))
        ]
        # No lists, no drop-downs wanted: what an earlier `init` set and recorded
        # stays, so `init` without lists and `init` with them never undo each other.
        if drop_downs:
            requests = [self._drop_down(tab, c, values) for c, values in drop_downs]
            self._set_again(tab, DROP_DOWNS_KEY, [tab.rows, drop_downs], requests)
        formats = format_runs(by_column)
        if formats:
            requests = [_number_format(tab, *run) for run in formats]
            self._set_again(tab, FORMATS_KEY, [tab.rows, formats], requests)

    def _set_again(
        self, tab: _Tab, key: str, wanted: list[Any], requests: list[Json]
    ) -> None:
        """Send `requests` unless the tab's metadata says they were sent as they are."""
        text = json.dumps(wanted, ensure_ascii=False)
        digest = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
        recorded = next(
            (
                entry
                for entry in tab.sheet.get("developerMetadata", ())
                if entry.get("metadataKey") == key
            ),
            None,
        )
        if recorded is not None and recorded.get("metadataValue") == digest:
            return
        self.structure += requests
        self.structure.append(_record(tab.sheet_id, key, recorded, digest))
        self.formats_added += len(requests)

    def _list_for(self, spec: TableSpec, field_spec: FieldSpec) -> list[str]:
        name = list_name(field_spec) or ""
        values = [str(value) for value in self.lists.get(name, ())]
        kept = [value for value in values if not value.startswith(("=", "+"))]
        if len(kept) < len(values):
            logger.warning(
                "list %s: %d entries look like formulas, left out of the drop-down "
                "of %s.%s",
                name,
                len(values) - len(kept),
                spec.key,
                field_spec.key,
            )
        if len(kept) > MAX_LIST_ITEMS:
            logger.info("list %s is too long for a drop-down", name)
            return []
        return kept

    def _drop_down(self, tab: _Tab, column: int, values: list[str]) -> Json:
        rule = {
            "condition": {
                "type": "ONE_OF_LIST",
                "values": [{"userEnteredValue": value} for value in values],
            },
            "inputMessage": PICK_FROM_LIST[self.language][1],
            "strict": False,
            "showCustomUi": True,
        }
        return {
            "setDataValidation": {"range": _body(tab, column, column + 1), "rule": rule}
        }


# Helpers


def _props(sheet: Mapping[str, Any]) -> Mapping[str, Any]:
    properties: Mapping[str, Any] = sheet.get("properties", {})
    return properties


def _blank_row(row: Sequence[CellValue]) -> bool:
    return all(is_blank(value) for value in row)


def _body(tab: _Tab, first: int, last: int) -> Json:
    """The GridRange of columns first..last-1 from row 2 to the grid's last row."""
    return {
        "sheetId": tab.sheet_id,
        "startRowIndex": 1,
        "endRowIndex": tab.rows,
        "startColumnIndex": first,
        "endColumnIndex": last,
    }


def _covers(span: Mapping[str, Any], column: int, rows: int) -> bool:
    """Whether a protected GridRange spans `column` on every row below the header."""
    first, last = span.get("startColumnIndex", 0), span.get("endColumnIndex")
    if column < first or (last is not None and column >= last):
        return False
    top, bottom = span.get("startRowIndex", 0), span.get("endRowIndex")
    return top <= 1 and (bottom is None or bottom >= rows)


def _runs(columns: list[int]) -> list[tuple[int, int]]:
    """Contiguous runs of column numbers as (first, last + 1)."""
    runs: list[tuple[int, int]] = []
    for column in sorted(columns):
        if runs and runs[-1][1] == column:
            runs[-1] = (runs[-1][0], column + 1)
        else:
            runs.append((column, column + 1))
    return runs


def _number_format(tab: _Tab, first: int, last: int, kind: str, pattern: str) -> Json:
    """A repeatCell that shows the serial numbers of columns first..last-1 as dates."""
    return number_format(_body(tab, first, last), kind, pattern)


def _record(
    sheet_id: int, key: str, recorded: Mapping[str, Any] | None, digest: str
) -> Json:
    """The request that keeps `digest` under `key` in the tab's developer metadata."""
    if recorded is None:
        return {
            "createDeveloperMetadata": {
                "developerMetadata": {
                    "metadataKey": key,
                    "metadataValue": digest,
                    "location": {"sheetId": sheet_id},
                    "visibility": "DOCUMENT",
                }
            }
        }
    lookup = {"metadataId": recorded["metadataId"]}
    return {
        "updateDeveloperMetadata": {
            "dataFilters": [{"developerMetadataLookup": lookup}],
            "developerMetadata": {"metadataValue": digest},
            "fields": "metadataValue",
        }
    }


def _default_json(value: object, zone: str | None) -> JsonCell:
    """A default value as RAW input takes it: text, number, boolean or a serial."""
    if value is None:
        return ""
    if isinstance(value, datetime) and value.tzinfo is not None:
        wall = value.astimezone(ZoneInfo(zone)) if zone else value
        value = wall.replace(tzinfo=None)
    if isinstance(value, str | bool | int | float | date | time):
        return cell_json(value)
    return cell_json(str(value))


def _colour(hex_rgb: str) -> dict[str, float]:
    """An "RRGGBB" colour as the Sheets API's Color, channels from 0 to 1."""
    red, green, blue = (int(hex_rgb[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return {"red": red, "green": green, "blue": blue}
