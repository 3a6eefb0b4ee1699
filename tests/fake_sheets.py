"""An in-memory fake of the Google Sheets v4 REST API, served to a real gspread client.

`FakeSheetsAPI.session()` returns a `requests.Session` whose adapter answers
`https://sheets.googleapis.com/v4/spreadsheets/...` from in-memory state, so tests
drive gspread 6.2.1 over its ordinary HTTP code. Served endpoints (names used by
`count`, `fail`, `before`): "get" (spreadsheets.get), "values:batchGet",
"values:batchUpdate" and "batchUpdate" (spreadsheets.batchUpdate). Errors have
Google's JSON shape, so gspread raises `APIError` with the right code.

Choices where the real API is richer (known limits):
- Cells hold str, float, bool, `FormulaCell`, `DateCell` or None. Formulas are never
  evaluated: their value is `FormulaCell.value`, or the formula text when unset.
- FORMATTED_VALUE shows whole numbers without ".0", other numbers as Python's
  `repr`, booleans as TRUE/FALSE, and dates per locale: zh_CN "2025/3/15 14:00:00"
  (date only "2025/3/15"), en_US "3/15/2025 14:00:00" ("3/15/2025"), any other
  locale "2025-03-15 14:00:00". No number formats, currencies or percentages.
- USER_ENTERED understands "=..." formulas, plain numbers ("007" becomes 7),
  TRUE/FALSE, and dates "YYYY-MM-DD", "YYYY/M/D", optionally followed by " HH:MM"
  or " HH:MM:SS", read as wall-clock time in the spreadsheet's time zone.
- Reads past the grid are clipped to it; writes past it answer 400 "exceeds grid
  limits" as Google does; only appendDimension/insertDimension grow a sheet.
- Writes take ROWS-major values only and ignore includeValuesInResponse; a null
  input leaves its cell alone, "" clears it. Reads honour majorDimension.
- spreadsheets.get ignores `fields` and never includes grid data.
- spreadsheets.batchUpdate knows addSheet (refusing a sheetId in use),
  deleteSheet, updateSheetProperties (title, gridProperties.frozenRowCount),
  appendDimension, insertDimension and deleteDimension (the last two for ROWS
  only), setDataValidation, addConditionalFormatRule, addProtectedRange, repeatCell
  (number formats only), and createDeveloperMetadata, updateDeveloperMetadata and
  deleteDeveloperMetadata. Rules, protections and formats are only recorded on the
  sheet, never enforced; a validation or number format replaces one recorded on
  exactly the same GridRange (a validation without a rule clears it). Developer
  metadata is found by a developerMetadataLookup on metadataId, metadataKey or
  metadataValue; an update that matches nothing answers 400. Any other request
  kind (such as updateCells) fails the batch with 400.
- Any other host or endpoint answers 404, so a test never reaches the network.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

import gspread
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

EPOCH = datetime(1899, 12, 30)  # day 0 of spreadsheet serial numbers
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
STATUS_MESSAGES = {
    429: "Quota exceeded for quota metric 'Requests' and limit 'Requests per "
    "minute per user' of service 'sheets.googleapis.com'.",
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
}


@dataclass(frozen=True)
class FormulaCell:
    """A formula as stored; `value` is what it shows, since nothing is evaluated."""

    text: str
    value: str | float | bool | None = None


@dataclass(frozen=True)
class DateCell:
    """A date or date-time cell: a serial number of days since 1899-12-30."""

    serial: float
    has_time: bool = True


Json = dict[str, Any]
Stored = str | float | bool | FormulaCell | DateCell | None
Hook = Callable[["FakeSheetsAPI"], None]


class SheetsError(Exception):
    """A request the fake refuses, answered as Google's JSON error body."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class FakeSheet:
    """One tab: its properties, its cells and what batchUpdate recorded on it."""

    sheet_id: int
    title: str
    index: int
    row_count: int = 1000
    column_count: int = 26
    frozen_rows: int = 0
    rows: list[list[Stored]] = field(default_factory=list)
    validations: list[Json] = field(default_factory=list)
    conditional_formats: list[Json] = field(default_factory=list)
    protected_ranges: list[Json] = field(default_factory=list)
    developer_metadata: list[Json] = field(default_factory=list)
    number_formats: list[Json] = field(default_factory=list)
    """{"range": GridRange, "numberFormat": NumberFormat} per repeatCell recorded."""

    def get(self, row: int, col: int) -> Stored:
        """The cell at 0-based (row, col), None when empty."""
        if row < len(self.rows) and col < len(self.rows[row]):
            return self.rows[row][col]
        return None

    def put(self, row: int, col: int, value: Stored) -> None:
        """Store a value at 0-based (row, col), growing the ragged lists."""
        while len(self.rows) <= row:
            self.rows.append([])
        cells = self.rows[row]
        while len(cells) <= col:
            cells.append(None)
        cells[col] = value

    def draft(self) -> FakeSheet:
        """A copy to change freely; cells are immutable, so rows are copied shallowly.

        A deep copy of 100,000 rows takes seconds, this a few milliseconds.
        """
        copied = {
            f.name: copy.deepcopy(getattr(self, f.name))
            for f in fields(self)
            if f.name != "rows"
        }
        return FakeSheet(rows=[list(row) for row in self.rows], **copied)

    def properties(self) -> Json:
        """The sheet's `SheetProperties` JSON."""
        grid: Json = {
            "rowCount": self.row_count,
            "columnCount": self.column_count,
        }
        if self.frozen_rows:
            grid["frozenRowCount"] = self.frozen_rows
        return {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": self.index,
            "sheetType": "GRID",
            "gridProperties": grid,
        }


@dataclass
class FakeSpreadsheet:
    """One spreadsheet: its properties and its tabs in order."""

    key: str
    title: str
    locale: str
    time_zone: str
    sheets: list[FakeSheet]
    developer_metadata: list[Json] = field(default_factory=list)
    next_id: int = 1000  # sheet, protected range and metadata ids

    def draft(self) -> FakeSpreadsheet:
        """A copy to change freely, made as cheaply as `FakeSheet.draft`."""
        copied = {
            f.name: copy.deepcopy(getattr(self, f.name))
            for f in fields(self)
            if f.name != "sheets"
        }
        return FakeSpreadsheet(
            sheets=[sheet.draft() for sheet in self.sheets], **copied
        )

    def by_title(self, title: str) -> FakeSheet:
        for sheet in self.sheets:
            if sheet.title == title:
                return sheet
        raise SheetsError(400, f"Unable to parse range: {quote_title(title)}")

    def by_id(self, sheet_id: Any) -> FakeSheet:
        for sheet in self.sheets:
            if sheet.sheet_id == sheet_id:
                return sheet
        raise SheetsError(400, f"No grid with id: {sheet_id}")

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


# --- A1 notation -------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A parsed A1 range: 0-based, end-exclusive; None means open-ended."""

    title: str
    row0: int
    col0: int
    row1: int | None
    col1: int | None
    anchor_only: bool  # a single cell or a bare title: writes may extend from it


def col_letters(col: int) -> str:
    """0-based column number to letters (0 -> A, 26 -> AA)."""
    letters = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def col_number(letters: str) -> int:
    """Column letters to a 0-based number (A -> 0)."""
    number = 0
    for char in letters.upper():
        number = number * 26 + ord(char) - 64
    return number - 1


def quote_title(title: str) -> str:
    """A title as Google writes it in a range: quoted unless plain ASCII."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", title) and not CELL.fullmatch(title):
        return title
    return "'" + title.replace("'", "''") + "'"


def a1(title: str, row0: int, col0: int, row1: int, col1: int) -> str:
    """A bounded range in A1 notation from 0-based, end-exclusive bounds."""
    start = f"{col_letters(col0)}{row0 + 1}"
    end = f"{col_letters(col1 - 1)}{row1}"
    return f"{quote_title(title)}!{start}" + ("" if start == end else f":{end}")


CELL = re.compile(r"([A-Za-z]{0,3})(\d*)")


def split_title(text: str) -> tuple[str | None, str | None]:
    """Split "'It''s'!A1:B2" into ("It's", "A1:B2"); either part may be absent."""
    if text.startswith("'"):
        match = re.fullmatch(r"'((?:[^']|'')*)'(?:!(.*))?", text)
        if not match:
            raise SheetsError(400, f"Unable to parse range: {text}")
        return match.group(1).replace("''", "'"), match.group(2)
    if "!" in text:
        title, _, cells = text.rpartition("!")
        return title, cells
    return None, text


def parse_range(book: FakeSpreadsheet, text: str) -> Span:
    """Parse an A1 range against a spreadsheet; unknown titles answer 400."""
    title, cells = split_title(text)
    if title is None and cells is not None:
        if any(sheet.title == cells for sheet in book.sheets):
            title, cells = cells, None
        else:
            title = book.sheets[0].title  # Google reads a bare range on tab one
    assert title is not None
    book.by_title(title)
    if not cells:
        return Span(title, 0, 0, None, None, anchor_only=True)
    first, _, last = cells.partition(":")
    start, end = CELL.fullmatch(first), CELL.fullmatch(last or first)
    if not start or not end or not (first and (last or start.group(1))):
        raise SheetsError(400, f"Unable to parse range: {text}")
    return Span(
        title,
        row0=int(start.group(2)) - 1 if start.group(2) else 0,
        col0=col_number(start.group(1)) if start.group(1) else 0,
        row1=int(end.group(2)) if end.group(2) else None,
        col1=col_number(end.group(1)) + 1 if end.group(1) else None,
        anchor_only=not last,
    )


# --- values: input parsing and rendering --------------------------------------

NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
DATE = re.compile(
    r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?: (\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)


def to_serial(moment: datetime) -> float:
    """Days since 1899-12-30 of a wall-clock datetime, as spreadsheets count."""
    delta = moment - EPOCH
    return delta.days + delta.seconds / 86400


def from_serial(serial: float) -> datetime:
    """The wall-clock datetime of a serial number, to the second."""
    return EPOCH + timedelta(seconds=round(serial * 86400))


def parse_input(value: Any, option: str) -> Stored:
    """One JSON input value as stored under RAW or USER_ENTERED."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    if text == "":
        return None
    if option == "RAW":
        return text
    return parse_user_entered(text)


def parse_user_entered(text: str) -> Stored:
    """What typing `text` into a cell stores: formula, number, boolean, date, text."""
    if text.startswith("="):
        return FormulaCell(text)
    if NUMBER.fullmatch(text.strip()):
        return float(text)
    if text.upper() in ("TRUE", "FALSE"):
        return text.upper() == "TRUE"
    match = DATE.fullmatch(text.strip())
    if match:
        year, month, day, hour, minute, second = (
            int(part) if part else 0 for part in match.groups()
        )
        try:
            moment = datetime(year, month, day, hour, minute, second)
        except ValueError:
            return text
        return DateCell(to_serial(moment), has_time=match.group(4) is not None)
    return text


def format_date(cell: DateCell, locale: str) -> str:
    """A date cell as the locale shows it by default."""
    moment = from_serial(cell.serial)
    clock = f" {moment:%H:%M:%S}" if cell.has_time else ""
    if locale == "zh_CN":
        return f"{moment.year}/{moment.month}/{moment.day}{clock}"
    if locale == "en_US":
        return f"{moment.month}/{moment.day}/{moment.year}{clock}"
    return f"{moment:%Y-%m-%d}{clock}"


def json_number(number: float) -> float | int:
    """Whole numbers go out as JSON integers, as Google sends them."""
    return int(number) if number.is_integer() else number


def render(cell: Stored, options: dict[str, str], locale: str) -> Any:
    """One stored cell as a value of a ValueRange under the given render options."""
    value_option = options["valueRenderOption"]
    if isinstance(cell, FormulaCell):
        if value_option == "FORMULA":
            return cell.text
        cell = cell.text if cell.value is None else cell.value
    if cell is None:
        return ""
    if value_option == "FORMATTED_VALUE":
        return render_formatted(cell, locale)
    if isinstance(cell, DateCell):
        if options["dateTimeRenderOption"] == "FORMATTED_STRING":
            return format_date(cell, locale)
        return json_number(cell.serial)
    if isinstance(cell, float):
        return json_number(cell)
    return cell


def render_formatted(cell: str | float | bool | DateCell, locale: str) -> str:
    """A cell as the spreadsheet UI would show it."""
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, DateCell):
        return format_date(cell, locale)
    if isinstance(cell, float):
        return str(json_number(cell))
    return cell


def trimmed(grid: list[list[Any]]) -> list[list[Any]]:
    """Drop trailing empty cells of each row, then trailing empty rows."""
    rows = [list(row) for row in grid]
    for row in rows:
        while row and row[-1] in ("", None):
            row.pop()
    while rows and not rows[-1]:
        rows.pop()
    return rows


# --- the HTTP side -------------------------------------------------------------


class _Adapter(BaseAdapter):
    """Hands every request of the session to the fake and wraps its answer."""

    def __init__(self, api: FakeSheetsAPI) -> None:
        super().__init__()
        self.api = api

    def send(  # the signature requests.BaseAdapter dictates
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        body = request.body if isinstance(request.body, bytes | str) else None
        status, answer, headers = self.api.serve(
            request.method or "GET", request.url or "", body
        )
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(answer).encode("utf-8")
        response.headers = CaseInsensitiveDict(
            {"Content-Type": "application/json; charset=UTF-8", **headers}
        )
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to release."""


def error_body(code: int, message: str) -> Json:
    return {"error": {"code": code, "message": message, "status": STATUS_NAMES[code]}}


ROUTES = {
    ("GET", ""): "get",
    ("GET", "/values:batchGet"): "values:batchGet",
    ("POST", "/values:batchUpdate"): "values:batchUpdate",
    ("POST", ":batchUpdate"): "batchUpdate",
}
PATH = re.compile(r"/v4/spreadsheets/([^/:]+)(.*)")


@dataclass
class _Failure:
    status: int
    times: int
    retry_after: int | None


class FakeSheetsAPI:
    """In-memory spreadsheets plus the controls a test needs to stage trouble."""

    def __init__(self) -> None:
        self.books: dict[str, FakeSpreadsheet] = {}
        self.requests: list[tuple[str, str, str]] = []
        self.body_sizes: list[tuple[str, int]] = []  # (endpoint, bytes) as sent
        self._failures: dict[str, list[_Failure]] = {}
        self._hooks: dict[str, list[Hook]] = {}

    # --- setting up -----------------------------------------------------------

    def create_spreadsheet(
        self,
        title: str,
        *,
        time_zone: str = "Asia/Shanghai",
        locale: str = "zh_CN",
        sheets: dict[str, list[list[Any]]] | None = None,
        rows: int = 1000,
        cols: int = 26,
    ) -> str:
        """Add a spreadsheet whose tabs hold `sheets` as typed values; returns its key.

        Values are stored as given (int becomes float); use `FormulaCell` and
        `DateCell` for formulas and dates.
        """
        ZoneInfo(time_zone)  # refuse a misspelt zone at once
        key = self._new_key()
        book = FakeSpreadsheet(key, title, locale, time_zone, sheets=[])
        for index, (name, grid) in enumerate((sheets or {"Sheet1": []}).items()):
            sheet = FakeSheet(book.new_id(), name, index, rows, cols)
            for r, row in enumerate(grid):
                for c, value in enumerate(row):
                    sheet.put(r, c, stored(value))
            book.sheets.append(sheet)
        self.books[key] = book
        return key

    def add_copy(self, book: FakeSpreadsheet) -> str:
        """A copy of a spreadsheet (from this fake or another) under a new key."""
        key = self._new_key()
        self.books[key] = replace(book.draft(), key=key)
        return key

    def _new_key(self) -> str:
        return f"fake-{len(self.books) + 1:04d}"

    def session(self) -> requests.Session:
        """A requests.Session that sends every https request to this fake."""
        session = requests.Session()
        session.mount("https://", _Adapter(self))
        session.mount("http://", _Adapter(self))
        return session

    def client(self) -> gspread.Client:
        """A real gspread client on `session()`, without credentials."""
        no_auth: Any = None  # gspread needs no credentials when given a session
        return gspread.Client(auth=no_auth, session=self.session())

    # --- inspecting state -----------------------------------------------------

    def book(self, key: str) -> FakeSpreadsheet:
        return self.books[key]

    def sheet(self, key: str, title: str) -> FakeSheet:
        return self.books[key].by_title(title)

    def values(self, key: str, title: str) -> list[list[Stored]]:
        """The tab's typed cells, trailing empty cells and rows dropped."""
        return trimmed(self.sheet(key, title).rows)

    def counts(self) -> dict[str, int]:
        """Requests per served endpoint, every one listed (0 when none came)."""
        return {name: self.count(name) for name in ROUTES.values()}

    def count(self, endpoint: str) -> int:
        """How many requests reached `endpoint`, injected failures included."""
        return Counter(name for _, name, _ in self.requests)[endpoint]

    def reset_counts(self) -> None:
        self.requests.clear()
        self.body_sizes.clear()

    # --- staging trouble ------------------------------------------------------

    def fail(
        self,
        endpoint: str,
        status: int,
        times: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next `times` requests to `endpoint` with `status`."""
        self._failures.setdefault(endpoint, []).append(
            _Failure(status, times, retry_after)
        )

    def before(self, endpoint: str, hook: Hook) -> None:
        """Run `hook(api)` once, just before the next served `endpoint` request.

        Requests answered by `fail` do not consume the hook.
        """
        self._hooks.setdefault(endpoint, []).append(hook)

    def insert_rows(
        self, key: str, title: str, at_row: int, rows: list[list[Any]]
    ) -> None:
        """Insert `rows` so the first lands at 1-based `at_row`; the grid grows."""
        sheet = self.sheet(key, title)
        while len(sheet.rows) < at_row - 1:
            sheet.rows.append([])
        new = [[stored(value) for value in row] for row in rows]
        sheet.rows[at_row - 1 : at_row - 1] = new
        sheet.row_count += len(rows)

    def delete_rows(self, key: str, title: str, first: int, last: int) -> None:
        """Delete 1-based rows first..last inclusive; the grid shrinks."""
        sheet = self.sheet(key, title)
        del sheet.rows[first - 1 : last]
        sheet.row_count -= last - first + 1

    def sort_rows(
        self, key: str, title: str, column_index: int, header: bool = True
    ) -> None:
        """Sort rows by the 0-based column, keeping a header row in place.

        Empty cells sort last, numbers before text, as the Sheets UI does.
        """
        sheet = self.sheet(key, title)
        start = 1 if header else 0
        body = sheet.rows[start:]
        body.sort(key=lambda row: sort_key(row[column_index : column_index + 1]))
        sheet.rows[start:] = body

    def set_cell(self, key: str, title: str, cell: str, value: Any) -> None:
        """Store a typed value at an A1 cell such as "C5"."""
        span = parse_range(self.books[key], f"{quote_title(title)}!{cell}")
        self.sheet(key, title).put(span.row0, span.col0, stored(value))

    # --- serving --------------------------------------------------------------

    def serve(
        self, method: str, url: str, body: bytes | str | None
    ) -> tuple[int, Json, dict[str, str]]:
        """Answer one HTTP request: (status, JSON body, extra headers)."""
        parts = urlsplit(url)
        match = PATH.fullmatch(parts.path)
        route = (method.upper(), match.group(2)) if match else None
        name = ROUTES.get(route) if route else None
        if parts.hostname != "sheets.googleapis.com" or not match or not name:
            self.requests.append((method.upper(), "unknown", parts.path))
            return 404, error_body(404, "Requested entity was not found."), {}
        self.requests.append((method.upper(), name, parts.path))
        size = len(body.encode() if isinstance(body, str) else body or b"")
        self.body_sizes.append((name, size))

        failure = self._take_failure(name)
        if failure:
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            message = STATUS_MESSAGES.get(failure.status, "Injected failure.")
            return failure.status, error_body(failure.status, message), headers
        for hook in self._hooks.pop(name, []):
            hook(self)

        try:
            book = self.books.get(unquote(match.group(1)))
            if book is None:
                raise SheetsError(404, "Requested entity was not found.")
            query = parse_qs(parts.query)
            payload = json.loads(body) if body else {}
            return 200, self._dispatch(name, book, query, payload), {}
        except SheetsError as error:
            return error.code, error_body(error.code, error.message), {}

    def _take_failure(self, endpoint: str) -> _Failure | None:
        queue = self._failures.get(endpoint)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    def _dispatch(
        self,
        name: str,
        book: FakeSpreadsheet,
        query: dict[str, list[str]],
        payload: Json,
    ) -> Json:
        if name == "get":
            return spreadsheet_json(book)
        if name == "values:batchGet":
            return batch_get(book, query)
        if name == "values:batchUpdate":
            return values_batch_update(book, payload)
        # Structural changes work on a draft that replaces the original only on
        # success, which makes every batch atomic as Google's are.
        draft = book.draft()
        answer = batch_update(draft, payload)
        self.books[book.key] = draft
        return answer


def stored(value: Any) -> Stored:
    """A Python value given by a test as the fake stores it."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if value == "":
        return None
    return value


def sort_key(cells: list[Stored]) -> tuple[int, Any]:
    cell = cells[0] if cells else None
    if cell is None:
        return (3, 0)
    if isinstance(cell, DateCell):
        return (0, cell.serial)
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        return (0, cell)
    return (1, str(cell))


# --- endpoint handlers ----------------------------------------------------------


def spreadsheet_json(book: FakeSpreadsheet) -> Json:
    """The `Spreadsheet` resource without grid data."""
    sheets = []
    for sheet in book.sheets:
        entry: Json = {"properties": sheet.properties()}
        if sheet.conditional_formats:
            entry["conditionalFormats"] = sheet.conditional_formats
        if sheet.protected_ranges:
            entry["protectedRanges"] = sheet.protected_ranges
        if sheet.developer_metadata:
            entry["developerMetadata"] = sheet.developer_metadata
        sheets.append(entry)
    answer: Json = {
        "spreadsheetId": book.key,
        "properties": {
            "title": book.title,
            "locale": book.locale,
            "autoRecalc": "ON_CHANGE",
            "timeZone": book.time_zone,
        },
        "sheets": sheets,
        "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book.key}/edit",
    }
    if book.developer_metadata:
        answer["developerMetadata"] = book.developer_metadata
    return answer


RENDER_OPTIONS = ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA")


def render_options(query: dict[str, list[str]]) -> dict[str, str]:
    defaults = {
        "valueRenderOption": "FORMATTED_VALUE",
        "dateTimeRenderOption": "SERIAL_NUMBER",
        "majorDimension": "ROWS",
    }
    options = {name: query.get(name, [dflt])[0] for name, dflt in defaults.items()}
    if options["valueRenderOption"] not in RENDER_OPTIONS:
        raise SheetsError(400, f"Invalid valueRenderOption: {options}")
    return options


def batch_get(book: FakeSpreadsheet, query: dict[str, list[str]]) -> Json:
    """values:batchGet: one ValueRange per requested range, in order."""
    options = render_options(query)
    ranges = [read_range(book, text, options) for text in query.get("ranges", [])]
    return {"spreadsheetId": book.key, "valueRanges": ranges}


def read_range(book: FakeSpreadsheet, text: str, options: dict[str, str]) -> Json:
    """One ValueRange, clipped to the grid and trimmed of trailing blanks."""
    span = parse_range(book, text)
    sheet = book.by_title(span.title)
    row1 = min(span.row1 or sheet.row_count, sheet.row_count)
    col1 = min(span.col1 or sheet.column_count, sheet.column_count)
    if span.row0 >= sheet.row_count or span.col0 >= sheet.column_count:
        raise SheetsError(400, f"Range ({text}) exceeds grid limits.")
    # Only stored cells can hold values: the rest of the grid would be trimmed away.
    stored_rows = min(row1, len(sheet.rows))
    stored_cols = min(col1, max((len(row) for row in sheet.rows), default=0))
    width = max(stored_cols - span.col0, 0)
    grid: list[list[Any]] = []
    for row in sheet.rows[span.row0 : stored_rows]:
        cells = row[span.col0 : stored_cols]
        cells += [None] * (width - len(cells))
        # Text shows as itself and an empty cell as "" whatever the options; skipping
        # `render` for them keeps a read of 100,000 rows quick.
        grid.append(
            [
                cell
                if type(cell) is str
                else ""
                if cell is None
                else render(cell, options, book.locale)
                for cell in cells
            ]
        )
    if options["majorDimension"] == "COLUMNS":
        grid = [list(column) for column in zip(*grid, strict=True)]
    answer: Json = {
        "range": a1(span.title, span.row0, span.col0, row1, col1),
        "majorDimension": options["majorDimension"],
    }
    values = trimmed(grid)
    if values:
        answer["values"] = values
    return answer


def values_batch_update(book: FakeSpreadsheet, payload: Json) -> Json:
    """values:batchUpdate: write each ValueRange, refusing the lot on any error.

    Every range is checked before any cell changes, so a refused batch leaves the
    spreadsheet as it was without copying it.
    """
    option = payload.get("valueInputOption", "INPUT_VALUE_OPTION_UNSPECIFIED")
    if option not in ("RAW", "USER_ENTERED"):
        raise SheetsError(400, f"Invalid valueInputOption: {option}")
    pending: list[tuple[FakeSheet, int, int, Stored]] = []
    responses = [
        write_range(book, item, option, pending) for item in payload.get("data", [])
    ]
    for sheet, row, col, value in pending:
        sheet.put(row, col, value)
    return {
        "spreadsheetId": book.key,
        "totalUpdatedRows": sum(r["updatedRows"] for r in responses),
        "totalUpdatedColumns": sum(r["updatedColumns"] for r in responses),
        "totalUpdatedCells": sum(r["updatedCells"] for r in responses),
        "totalUpdatedSheets": len({r["updatedRange"].split("!")[0] for r in responses}),
        "responses": responses,
    }


def write_range(
    book: FakeSpreadsheet,
    item: Json,
    option: str,
    pending: list[tuple[FakeSheet, int, int, Stored]],
) -> Json:
    """Check one ValueRange and add its cells to `pending`; its UpdateValuesResponse."""
    span = parse_range(book, item["range"])
    sheet = book.by_title(span.title)
    values = item.get("values", [])
    height = len(values)
    width = max((len(row) for row in values), default=0)
    fits = span.anchor_only or (
        (span.row1 is None or span.row0 + height <= span.row1)
        and (span.col1 is None or span.col0 + width <= span.col1)
    )
    if not fits:
        raise SheetsError(
            400,
            f"Requested writing within range [{item['range']}], but tried writing "
            "beyond it.",
        )
    row1, col1 = span.row0 + max(height, 1), span.col0 + max(width, 1)
    written = a1(span.title, span.row0, span.col0, row1, col1)
    if row1 > sheet.row_count or col1 > sheet.column_count:
        raise SheetsError(
            400,
            f"Range ({written}) exceeds grid limits. Max rows: {sheet.row_count}, "
            f"max columns: {sheet.column_count}",
        )
    cells = 0
    for r, row in enumerate(values):
        for c, value in enumerate(row):
            if value is None:
                continue  # null means "leave this cell alone"
            pending.append(
                (sheet, span.row0 + r, span.col0 + c, parse_input(value, option))
            )
            cells += 1
    return {
        "spreadsheetId": book.key,
        "updatedRange": written,
        "updatedRows": height,
        "updatedColumns": width,
        "updatedCells": cells,
    }


def batch_update(book: FakeSpreadsheet, payload: Json) -> Json:
    """spreadsheets.batchUpdate: apply each request in order, or none of them."""
    replies = []
    for number, request in enumerate(payload.get("requests", [])):
        if len(request) != 1 or next(iter(request)) not in REQUESTS:
            kind = ", ".join(request) or "(empty)"
            raise SheetsError(
                400,
                f"Invalid requests[{number}]: unknown or unsupported kind {kind}",
            )
        kind, body = next(iter(request.items()))
        try:
            replies.append(REQUESTS[kind](book, body))
        except SheetsError as error:
            raise SheetsError(
                error.code, f"Invalid requests[{number}].{kind}: {error.message}"
            ) from error
        except (KeyError, TypeError) as error:
            raise SheetsError(
                400, f"Invalid requests[{number}].{kind}: missing {error}"
            ) from error
    return {"spreadsheetId": book.key, "replies": replies}


def add_sheet(book: FakeSpreadsheet, body: Json) -> Json:
    props = body.get("properties", {})
    title = props.get("title", f"Sheet{len(book.sheets) + 1}")
    if any(sheet.title == title for sheet in book.sheets):
        raise SheetsError(
            400,
            f'A sheet with the name "{title}" already exists. '
            "Please enter another name.",
        )
    if any(sheet.sheet_id == props.get("sheetId") for sheet in book.sheets):
        raise SheetsError(
            400, f"A sheet with the id {props['sheetId']} already exists."
        )
    grid = props.get("gridProperties", {})
    sheet = FakeSheet(
        props.get("sheetId", book.new_id()),
        title,
        props.get("index", len(book.sheets)),
        grid.get("rowCount", 1000),
        grid.get("columnCount", 26),
        grid.get("frozenRowCount", 0),
    )
    book.sheets.insert(sheet.index, sheet)
    renumber(book)
    return {"addSheet": {"properties": sheet.properties()}}


def delete_sheet(book: FakeSpreadsheet, body: Json) -> Json:
    book.sheets.remove(book.by_id(body["sheetId"]))
    if not book.sheets:
        raise SheetsError(400, "You can't remove all the sheets in a document.")
    renumber(book)
    return {}


def renumber(book: FakeSpreadsheet) -> None:
    for index, sheet in enumerate(book.sheets):
        sheet.index = index


def update_sheet_properties(book: FakeSpreadsheet, body: Json) -> Json:
    props, fields = body["properties"], body.get("fields", "")
    if not fields:
        raise SheetsError(400, "At least one field must be updated, but none were.")
    sheet = book.by_id(props.get("sheetId", 0))
    grid = props.get("gridProperties", {})
    for name in fields.split(","):
        name = name.strip()
        if name in ("title", "*") and "title" in props:
            if any(s.title == props["title"] for s in book.sheets if s is not sheet):
                raise SheetsError(400, f'A sheet named "{props["title"]}" exists.')
            sheet.title = props["title"]
        if name in ("gridProperties.frozenRowCount", "gridProperties", "*"):
            sheet.frozen_rows = grid.get("frozenRowCount", 0)
    return {}


def append_dimension(book: FakeSpreadsheet, body: Json) -> Json:
    sheet = book.by_id(body["sheetId"])
    if body["length"] < 1:
        raise SheetsError(400, "length must be at least 1")
    if body["dimension"] == "ROWS":
        sheet.row_count += body["length"]
    else:
        sheet.column_count += body["length"]
    return {}


def row_range(book: FakeSpreadsheet, body: Json) -> tuple[FakeSheet, int, int]:
    """(sheet, start, end) of a ROWS DimensionRange, checked against the grid."""
    span = body["range"]
    sheet = book.by_id(span["sheetId"])
    start, end = span.get("startIndex", 0), span["endIndex"]
    if span["dimension"] != "ROWS":
        raise SheetsError(400, "The fake inserts and deletes ROWS only.")
    if not 0 <= start < end or start > sheet.row_count:
        raise SheetsError(400, f"Invalid dimension range {start}..{end}")
    return sheet, start, end


def insert_dimension(book: FakeSpreadsheet, body: Json) -> Json:
    sheet, start, end = row_range(book, body)
    sheet.rows[start:start] = [[] for _ in range(end - start)]
    sheet.row_count += end - start
    return {}


def delete_dimension(book: FakeSpreadsheet, body: Json) -> Json:
    sheet, start, end = row_range(book, body)
    if end > sheet.row_count:
        raise SheetsError(400, f"Range end {end} exceeds grid limits.")
    del sheet.rows[start:end]
    sheet.row_count -= end - start
    return {}


def grid_sheet(book: FakeSpreadsheet, grid_range: Json) -> FakeSheet:
    """The sheet a GridRange names, checked to lie inside the grid."""
    sheet = book.by_id(grid_range.get("sheetId", 0))
    if (
        grid_range.get("endRowIndex", 0) > sheet.row_count
        or grid_range.get("endColumnIndex", 0) > sheet.column_count
    ):
        raise SheetsError(400, "Range exceeds grid limits.")
    return sheet


def set_data_validation(book: FakeSpreadsheet, body: Json) -> Json:
    span = body["range"]
    sheet = grid_sheet(book, span)
    sheet.validations = [v for v in sheet.validations if v["range"] != span]
    if body.get("rule") is not None:
        sheet.validations.append({"range": span, "rule": body["rule"]})
    return {}


def repeat_cell(book: FakeSpreadsheet, body: Json) -> Json:
    fields = [name.strip() for name in body["fields"].split(",")]
    if fields != ["userEnteredFormat.numberFormat"]:
        raise SheetsError(
            400, f"the fake records number formats only, not fields {body['fields']}"
        )
    span = body["range"]
    sheet = grid_sheet(book, span)
    number_format = body["cell"]["userEnteredFormat"]["numberFormat"]
    sheet.number_formats = [f for f in sheet.number_formats if f["range"] != span]
    sheet.number_formats.append({"range": span, "numberFormat": number_format})
    return {}


def add_conditional_format_rule(book: FakeSpreadsheet, body: Json) -> Json:
    rule = body["rule"]
    sheets = {grid_sheet(book, span).sheet_id for span in rule["ranges"]}
    if len(sheets) != 1:
        raise SheetsError(400, "All ranges of a rule must be on one sheet.")
    sheet = book.by_id(sheets.pop())
    sheet.conditional_formats.insert(body.get("index", 0), rule)
    return {}


def add_protected_range(book: FakeSpreadsheet, body: Json) -> Json:
    protected = dict(body["protectedRange"])
    sheet = grid_sheet(book, protected["range"])
    protected.setdefault("protectedRangeId", book.new_id())
    sheet.protected_ranges.append(protected)
    return {"addProtectedRange": {"protectedRange": protected}}


def create_developer_metadata(book: FakeSpreadsheet, body: Json) -> Json:
    metadata = dict(body["developerMetadata"])
    metadata.setdefault("metadataId", book.new_id())
    location = dict(metadata.get("location", {}))
    if "sheetId" in location:
        book.by_id(location["sheetId"]).developer_metadata.append(metadata)
        location["locationType"] = "SHEET"
    elif location.get("spreadsheet"):
        book.developer_metadata.append(metadata)
        location["locationType"] = "SPREADSHEET"
    else:
        raise SheetsError(400, "developerMetadata.location must name a sheet")
    metadata["location"] = location
    return {"createDeveloperMetadata": {"developerMetadata": metadata}}


LOOKUP_FIELDS = ("metadataId", "metadataKey", "metadataValue")


def metadata_lists(book: FakeSpreadsheet) -> list[list[Json]]:
    """Every list of developer metadata: the spreadsheet's, then each sheet's."""
    return [book.developer_metadata, *(s.developer_metadata for s in book.sheets)]


def matches(metadata: Json, data_filter: Json) -> bool:
    """Whether developer metadata matches a DataFilter's developerMetadataLookup."""
    lookup = data_filter.get("developerMetadataLookup")
    if not lookup or not any(name in lookup for name in LOOKUP_FIELDS):
        raise SheetsError(400, "the fake looks metadata up by id, key or value only")
    return all(
        metadata.get(name) == lookup[name] for name in LOOKUP_FIELDS if name in lookup
    )


def update_developer_metadata(book: FakeSpreadsheet, body: Json) -> Json:
    changes, filters = body["developerMetadata"], body["dataFilters"]
    names = [name.strip() for name in body["fields"].split(",")]
    if not set(names) <= {"metadataKey", "metadataValue", "visibility"}:
        raise SheetsError(400, f"the fake cannot update fields {body['fields']}")
    updated = [
        metadata
        for entries in metadata_lists(book)
        for metadata in entries
        if any(matches(metadata, data_filter) for data_filter in filters)
    ]
    if not updated:
        raise SheetsError(400, "No developer metadata matches the data filters.")
    for metadata in updated:
        for name in names:
            metadata[name] = changes[name]
    return {"updateDeveloperMetadata": {"developerMetadata": updated}}


def delete_developer_metadata(book: FakeSpreadsheet, body: Json) -> Json:
    data_filter = body["dataFilter"]
    deleted = []
    for entries in metadata_lists(book):
        gone = [metadata for metadata in entries if matches(metadata, data_filter)]
        deleted += gone
        entries[:] = [metadata for metadata in entries if metadata not in gone]
    return {"deleteDeveloperMetadata": {"deletedDeveloperMetadata": deleted}}


REQUESTS: dict[str, Callable[[FakeSpreadsheet, Json], Json]] = {
    "addSheet": add_sheet,
    "deleteSheet": delete_sheet,
    "updateSheetProperties": update_sheet_properties,
    "appendDimension": append_dimension,
    "insertDimension": insert_dimension,
    "deleteDimension": delete_dimension,
    "setDataValidation": set_data_validation,
    "addConditionalFormatRule": add_conditional_format_rule,
    "addProtectedRange": add_protected_range,
    "repeatCell": repeat_cell,
    "createDeveloperMetadata": create_developer_metadata,
    "updateDeveloperMetadata": update_developer_metadata,
    "deleteDeveloperMetadata": delete_developer_metadata,
}
