"""The Google Sheets backend: the same cycle on a live spreadsheet, through gspread.

A cycle costs, in requests:

- metadata (spreadsheets.get): once per process, and again only when a tab of the
  layout is missing from what it knows (someone added or renamed a tab);
- `read`: one values:batchGet of every tab of the layout;
- `write`, only when something changed: one values:batchGet of the people's tabs it
  edits (to find rows by id, see below), at most one spreadsheets.batchUpdate when a
  service tab must be created or grown, one values:batchUpdate of every changed
  cell, and one more values:batchGet of the edited tabs to check that no row moved
  while it wrote. A first cycle on a large spreadsheet splits the write into parts of
  at most `max_payload` bytes (Google advises 2 MB), each part holding whole rows.

Steady state, nothing changed: one read request and no write.

Rows are found by id at write time. Just before writing, the backend reads the
edited tabs again, finds each row by its id (or, for a row that has none yet, by its
number), and writes a row only if the cells people type in it still hold what the
cycle read (`automation.model.fingerprint`). So a person who sorts, inserts or
deletes rows, or edits a row, while the engine works never has another row's values
written into theirs, and an edited row waits for the next cycle. The Sheets API has
no conditional write, so for the instant between that re-read and the write the
backend reads once more after writing and puts back any cell that landed in a row
that moved (`sheets_check`), with one more write in that rare case.

Values are written RAW: text never becomes a formula, and dates go as serial numbers
(see `sheets_values`), which `init` formats as dates. Formulas in people's cells are
read as the values they show.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import gspread
from gspread.exceptions import NoValidUrlKeyFound

from automation.backends.base import NO_LISTS, InitReport, by_column, no_tab
from automation.backends.sheets_api import (
    GridChanged,
    Json,
    Quota,
    RetryPolicy,
    SheetsCalls,
    TabGone,
)
from automation.backends.sheets_check import misplaced
from automation.backends.sheets_layout import apply_layout, plan_layout
from automation.backends.sheets_plan import (
    SheetChanges,
    value_ranges,
)
from automation.backends.sheets_requests import Tab, append_dimension
from automation.backends.sheets_values import (
    JsonCell,
    a1_range,
    cell_json,
    quote_title,
    typed_rows,
)
from automation.errors import BackendError
from automation.layout import Language, Layout, TableSpec, load_layout
from automation.model import (
    CellValue,
    Grid,
    Snapshot,
    WritePlan,
    WriteReport,
    bind,
    is_blank,
)

logger = logging.getLogger(__name__)

SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{6,}")
TIMEOUT = (10.0, 120.0)  # connect, read: Google ends requests after 180 s
MAX_PAYLOAD = 2_000_000  # bytes of one values:batchUpdate, as Google advises


def authorized_client(credentials: Path) -> gspread.Client:
    """A gspread client signed in as the service account of a JSON key file."""
    from google.auth.exceptions import GoogleAuthError
    from google.oauth2.service_account import Credentials

    try:
        signed = Credentials.from_service_account_file(
            str(credentials), scopes=list(SCOPES)
        )
    except FileNotFoundError:
        raise BackendError(
            f"no service-account key at {credentials}: download one from the Google "
            "Cloud console (see README, Connect a Google spreadsheet)"
        ) from None
    except OSError as error:
        raise BackendError(
            f"cannot read the service-account key {credentials}: {error.strerror}; "
            "the service's user must be able to read it"
        ) from error
    except (ValueError, KeyError, GoogleAuthError) as error:
        raise BackendError(
            f"{credentials} is not a service-account key file ({error}); download "
            "the JSON key of the service account again"
        ) from error
    client = gspread.Client(auth=signed)
    client.set_timeout(TIMEOUT)
    return client


def spreadsheet_key(spreadsheet: str) -> str:
    """The key of a spreadsheet given as a key or as its URL."""
    text = spreadsheet.strip()
    if "/" in text:
        try:
            text = gspread.utils.extract_id_from_url(text)
        except NoValidUrlKeyFound:
            raise BackendError(
                f"{spreadsheet!r} is not a Google Sheets URL; give the key or a URL "
                "like https://docs.google.com/spreadsheets/d/KEY/edit"
            ) from None
    if not KEY_PATTERN.fullmatch(text):
        raise BackendError(
            f"{spreadsheet!r} is not a spreadsheet key; it is the long part of the "
            "URL after /d/, e.g. 1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"
        )
    return text


class SheetsBackend:
    """A Google spreadsheet read and written through the Sheets API v4."""

    def __init__(
        self,
        client: gspread.Client,
        spreadsheet: str,
        *,
        layout: Layout | None = None,
        retry: RetryPolicy | None = None,
        quota: Quota | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
        max_payload: int = MAX_PAYLOAD,
    ) -> None:
        self.key = spreadsheet_key(spreadsheet)
        self.name = f"spreadsheet {self.key}"
        self.layout = layout or load_layout()
        self.calls = SheetsCalls(
            client, self.key, retry=retry, quota=quota, sleep=sleep, jitter=jitter
        )
        self.max_payload = max_payload
        self._metadata: Json | None = None
        self._tabs: dict[str, Tab] = {}

    @classmethod
    def connect(
        cls,
        spreadsheet: str,
        credentials: Path,
        *,
        quota: Quota | None = None,
        retry: RetryPolicy | None = None,
        layout: Layout | None = None,
    ) -> SheetsBackend:
        """A backend on a spreadsheet, signed in with a service-account key file."""
        client = authorized_client(credentials)
        return cls(client, spreadsheet, layout=layout, retry=retry, quota=quota)

    # Metadata

    def metadata(self, *, refresh: bool = False) -> Json:
        """The spreadsheet's metadata, fetched once and kept until `refresh`."""
        if self._metadata is None or refresh:
            self._metadata = self.calls.metadata()
            self._tabs = {
                tab.title: tab
                for tab in (Tab.of(sheet) for sheet in self._metadata.get("sheets", []))
            }
        return self._metadata

    def _tab_of(self, spec: TableSpec) -> Tab | None:
        for title, tab in self._tabs.items():
            if spec.matches_title(title):
                return tab
        return None

    def _present(self, specs: Iterable[TableSpec]) -> list[tuple[TableSpec, Tab]]:
        """The tabs of `specs` the spreadsheet has; metadata again if one is missing."""
        specs = list(specs)
        known = self._metadata is not None
        self.metadata()
        if known and any(self._tab_of(spec) is None for spec in specs):
            self.metadata(refresh=True)
        found = [(spec, self._tab_of(spec)) for spec in specs]
        return [(spec, tab) for spec, tab in found if tab is not None]

    # Reading

    def read(self) -> Snapshot:
        """Every tab of the layout in one values:batchGet, dates as datetimes."""
        self.calls.start_cycle()
        snapshot = self._read(self.layout.tables)
        logger.info("read %d tabs from %s", len(snapshot.grids), self.name)
        snapshot.timezone = self.metadata().get("properties", {}).get("timeZone")
        return snapshot

    def _read(self, specs: Iterable[TableSpec], *, again: bool = True) -> Snapshot:
        """The values of the tabs of `specs` the spreadsheet has, in one request."""
        present = self._present(specs)
        if not present:
            return Snapshot(grids={})
        ranges = [quote_title(tab.title) for _, tab in present]
        try:
            answers = self.calls.batch_get(ranges)
        except TabGone:
            if not again:
                raise
            # Someone renamed or deleted a tab since the metadata was read: forget
            # it, so that the next look fetches it once.
            self._metadata = None
            return self._read([spec for spec, _ in present], again=False)
        grids: dict[str, Grid] = {}
        for (spec, tab), values in zip(present, answers, strict=True):
            grid = Grid(title=tab.title, rows=_rows(values))
            typed_rows(grid.rows, bind(spec, grid))
            grids[tab.title] = grid
        return Snapshot(grids=grids)

    # Writing

    def write(
        self,
        snapshot: Snapshot,
        plan: WritePlan,
        layout: Layout,
        language: Language,
    ) -> WriteReport:
        """Apply a plan made from `snapshot`, row by row where rows still match.

        Raises `SheetsUnavailable` when Google keeps refusing within the retry
        budget, after whole parts only, so the spreadsheet stays consistent.
        """
        if not plan:
            return WriteReport()
        edited = {edit.table for edit in plan.edits}
        fresh = self._read(layout.table(key) for key in sorted(edited))
        changes = SheetChanges(
            language, sheet_ids={t.sheet_id for t in self._tabs.values()}
        )
        for edit in plan.edits:
            changes.edit(edit, layout.table(edit.table), fresh)
        for content in plan.outputs:
            spec = layout.table(content.table)
            changes.replace(content, spec, self._tab_of(spec), snapshot.grid(spec))

        if changes.structure:
            self._change_structure(changes.structure)
        parts = changes.parts(self.max_payload)
        for number, part in enumerate(parts, start=1):
            try:
                self.calls.values_update(part)
            except BackendError as error:
                if isinstance(error, GridChanged | TabGone):
                    self._metadata = None  # sizes or titles changed: look again
                if number == 1:
                    raise
                raise type(error)(
                    f"{error}; {number - 1} of {len(parts)} parts of this write "
                    "landed, each whole rows, the next cycle writes the rest"
                ) from error
        if changes.written:
            try:
                self._put_right(changes, layout)
            except BackendError as error:
                # The write itself landed: report it as written, and say what is left.
                logger.warning(
                    "could not check %s for rows moved during the write (%s); the "
                    "next cycle rewrites the service's columns where needed",
                    self.name,
                    error,
                )
        report = changes.report()
        logger.info(
            "wrote %d cells in %d tabs of %s in %d requests, skipped %d changed rows",
            report.cells_written,
            len(report.tabs_written),
            self.name,
            len(parts),
            len(report.rows_skipped),
        )
        return report

    def _put_right(self, changes: SheetChanges, layout: Layout) -> None:
        """Read the edited tabs again and rewrite cells that landed in a moved row."""
        specs = [layout.table(key) for key in sorted(changes.written)]
        after = self._read(specs)
        cells: dict[str, dict[int, dict[int, JsonCell]]] = {}
        for spec in specs:
            fresh = changes.fresh.get(spec.key)
            grid = after.grid(spec)
            if fresh is None or grid is None:
                continue
            now = bind(spec, grid)
            fixes = misplaced(changes.written[spec.key], fresh.table, now)
            for number, values in fixes.items():
                for key, value in values.items():
                    column = now.columns.get(key)
                    if column is not None:
                        row = cells.setdefault(grid.title, {}).setdefault(number, {})
                        row[column] = cell_json(value)
        if cells:
            self.calls.values_update(list(value_ranges(cells)))

    def _change_structure(self, requests: list[Json]) -> None:
        """Create or grow service tabs, and remember what the answer says of them."""
        answer = self.calls.batch_update(requests)
        for request, reply in zip(requests, answer.get("replies", []), strict=False):
            if "addSheet" in request:
                tab = Tab.of(reply["addSheet"])
                self._tabs[tab.title] = tab
                logger.info("created tab %s in %s", tab.title, self.name)
            elif "appendDimension" in request:
                body = request["appendDimension"]
                for tab in self._tabs.values():
                    if tab.sheet_id == body["sheetId"]:
                        if body["dimension"] == "ROWS":
                            tab.rows += body["length"]
                        else:
                            tab.columns += body["length"]

    # Laying out the tabs

    def init(
        self,
        layout: Layout,
        defaults: dict[str, list[dict[str, object]]],
        language: Language,
        lists: Mapping[str, Sequence[str]] = NO_LISTS,
    ) -> InitReport:
        """Create missing tabs and headers, drop-downs, formats and protections.

        Only ever adds; a second run finds nothing to do and sends no write.
        """
        self.calls.start_cycle()
        snapshot = self._read(layout.tables)
        # The metadata the read just used: fetched again there if a tab was missing.
        plan = plan_layout(self.metadata(), snapshot, layout, defaults, language, lists)
        report = apply_layout(self.calls, plan)
        if report.changed:
            self._metadata = None  # looked at again when next needed
        logger.info("init of %s: %s", self.name, report.summary())
        return report

    def append_rows(
        self,
        layout: Layout,
        language: Language,
        table_key: str,
        rows: list[dict[str, CellValue]],
    ) -> None:
        """Write rows (field key to value) below the last used row of a tab.

        For filling a spreadsheet nobody is editing (the demo, tests, benchmarks):
        a row someone types below the last one between the read and the write here
        would be written over. Raises `LayoutError` when the tab or a column a row
        needs is missing.
        """
        spec = layout.table(table_key)
        grid = self._read([spec]).grid(spec)
        tab = self._tab_of(spec)
        if tab is None or grid is None:
            raise no_tab(self.name, spec, language)
        columns = bind(spec, grid).columns
        width = max(columns.values(), default=-1) + 1
        block: list[list[JsonCell | None]] = []
        for row in by_column(rows, columns, tab.title):
            values: list[JsonCell | None] = [None] * width
            for column, value in row.items():
                values[column] = cell_json(value)
            block.append(values)
        if not block or not width:
            return
        first = len(grid.rows) + 1
        needed = first + len(block) - 1 - tab.rows
        if needed > 0:
            self._change_structure([append_dimension(tab.sheet_id, "ROWS", needed)])
        self.calls.values_update(
            [
                {
                    "range": a1_range(tab.title, first, 0, len(block), width),
                    "values": block,
                }
            ]
        )
        logger.info("appended %d rows to %s of %s", len(rows), table_key, self.name)


# Reading


def _rows(values: list[list[Any]]) -> list[list[CellValue]]:
    """The answer's rows as cells: "" is an empty cell; blank edges trimmed."""
    rows = []
    for raw in values:
        # Inline rather than a call per cell: a large read holds millions of cells.
        row = [None if value == "" else value for value in raw]
        while row and is_blank(row[-1]):
            row.pop()
        rows.append(row)
    while rows and not rows[-1]:
        rows.pop()
    return rows
