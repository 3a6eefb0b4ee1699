"""The four Sheets API calls the backend makes, each inside a quota and a retry budget.

`SheetsCalls` wraps one spreadsheet's requests through a real gspread client:
spreadsheets.get (metadata), values:batchGet, values:batchUpdate and
spreadsheets.batchUpdate. Around each it does two things gspread leaves to us:

- `Quota` keeps requests per minute under the project's limits. One `Quota` is shared
  by every spreadsheet the process looks after, so several spreadsheets together stay
  inside it; a request that would exceed it waits for the minute to roll on.
- `RetryPolicy` retries 429 and 5xx answers and dropped connections with exponential
  backoff and full jitter, honouring Retry-After, inside a budget of waiting per
  cycle. gspread's own `BackOffHTTPClient` retries a steady 429 forever and without
  jitter, so it is not used. When the budget or the attempts run out the call raises
  `SheetsUnavailable` with one sentence that says why; since each request is atomic,
  the spreadsheet is left as the last successful request made it.

Other errors become `BackendError`s with a message that says what to do (share the
spreadsheet with the service account, check the key).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import gspread
import requests
from google.auth.exceptions import RefreshError, TransportError
from gspread.exceptions import APIError

from automation.errors import BackendError

logger = logging.getLogger(__name__)

Json = dict[str, Any]
Kind = Literal["read", "write"]
T = TypeVar("T")

RETRIED = frozenset({429, 500, 502, 503, 504})
REASONS = {
    429: "429 (quota exceeded)",
    500: "500 (internal error)",
    502: "502 (bad gateway)",
    503: "503 (unavailable)",
    504: "504 (gateway timeout)",
}
READ_OPTIONS = {
    "valueRenderOption": "UNFORMATTED_VALUE",
    "dateTimeRenderOption": "SERIAL_NUMBER",
    "majorDimension": "ROWS",
}
METADATA_FIELDS = (
    "spreadsheetId,properties(title,locale,timeZone),"
    "sheets(properties,conditionalFormats,protectedRanges,developerMetadata)"
)


class SheetsUnavailable(BackendError):
    """Google kept refusing within the cycle's retry budget; the next cycle retries."""


class TabGone(BackendError):
    """A range names a tab the spreadsheet no longer has (renamed or deleted)."""


class GridChanged(BackendError):
    """A write reached past a tab's last row or column: the tab shrank meanwhile."""


@dataclass(frozen=True)
class RetryPolicy:
    """How long one cycle may wait on retries, and how each wait grows.

    The n-th retry of a request (n = 1, 2, ...) waits a random time up to
    `min(max_delay, base_delay * 2**(n - 1))` (full jitter), or Retry-After when
    Google sends a longer one. A cycle gives up when the next wait would take its
    total waiting past `budget_seconds`, or a request has failed `max_attempts`
    times. The defaults let the budget decide: a per-minute quota refills within 60 s.
    """

    budget_seconds: float = 60.0
    max_attempts: int = 12
    base_delay: float = 1.0
    max_delay: float = 32.0

    def __post_init__(self) -> None:
        if self.budget_seconds < 0 or self.max_attempts < 1 or self.base_delay <= 0:
            raise ValueError(
                "a retry policy needs budget_seconds >= 0, max_attempts >= 1 and "
                "base_delay > 0"
            )


class Quota:
    """Requests per minute for reads and writes, over a sliding minute.

    Google counts per project and per user per project (300 and 60 per minute for
    reads, the same for writes, by default); one service account is one user, so the
    defaults are 60. Thread-safe; `clock` and `sleep` are injectable for tests.
    """

    def __init__(
        self,
        reads_per_minute: int = 60,
        writes_per_minute: int = 60,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if reads_per_minute < 1 or writes_per_minute < 1:
            raise ValueError("a quota allows at least one request a minute")
        self.limits: dict[Kind, int] = {
            "read": reads_per_minute,
            "write": writes_per_minute,
        }
        self.clock = clock
        self.sleep = sleep
        self._sent: dict[Kind, deque[float]] = {"read": deque(), "write": deque()}
        self._lock = threading.Lock()

    def take(self, kind: Kind) -> float:
        """Wait until one more `kind` request fits in the minute; return the wait."""
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                sent = self._sent[kind]
                while sent and sent[0] <= now - 60.0:
                    sent.popleft()
                if len(sent) < self.limits[kind]:
                    sent.append(now)
                    return waited
                pause = sent[0] + 60.0 - now
            logger.info("Sheets quota: waiting %.1f s for a %s slot", pause, kind)
            self.sleep(pause)
            waited += pause


_shared_quota: Quota | None = None
_shared_lock = threading.Lock()


def shared_quota() -> Quota:
    """The process-wide quota every backend uses unless given its own."""
    global _shared_quota
    with _shared_lock:
        if _shared_quota is None:
            _shared_quota = Quota()
        return _shared_quota


class SheetsCalls:
    """One spreadsheet's requests, counted, within a quota and a retry budget."""

    def __init__(
        self,
        client: gspread.Client,
        key: str,
        *,
        retry: RetryPolicy | None = None,
        quota: Quota | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.http = client.http_client
        self.key = key
        self.retry = retry or RetryPolicy()
        self.quota = quota or shared_quota()
        self.sleep = sleep
        self.jitter = jitter
        self.waited = 0.0  # seconds spent waiting on retries this cycle

    def start_cycle(self) -> None:
        """Give a new cycle its whole retry budget."""
        self.waited = 0.0

    # The calls

    def metadata(self) -> Json:
        """spreadsheets.get without grid data: titles, sizes, formats, locale, zone."""
        params: dict[str, str | int | bool | float | list[str] | None] = {
            "fields": METADATA_FIELDS
        }
        answer = self._call(
            "get", "read", lambda: self.http.fetch_sheet_metadata(self.key, params)
        )
        return dict(answer)

    def batch_get(self, ranges: list[str]) -> list[list[list[Any]]]:
        """The values of `ranges`, in order, unformatted, dates as serial numbers."""
        answer = self._call(
            "values:batchGet",
            "read",
            lambda: self.http.values_batch_get(self.key, ranges, dict(READ_OPTIONS)),
        )
        found = answer.get("valueRanges", [])
        return [list(entry.get("values", [])) for entry in found]

    def values_update(self, data: list[Json]) -> Json:
        """Write value ranges as they are (RAW): text stays text."""
        body = {"valueInputOption": "RAW", "data": data}
        answer = self._call(
            "values:batchUpdate",
            "write",
            lambda: self.http.values_batch_update(self.key, body),
        )
        return dict(answer)

    def batch_update(self, requests_: list[Json]) -> Json:
        """spreadsheets.batchUpdate: tabs, sizes, formats; atomic as one request."""
        body = {"requests": requests_}
        answer = self._call(
            "batchUpdate", "write", lambda: self.http.batch_update(self.key, body)
        )
        return dict(answer)

    # Retrying

    def _call(self, endpoint: str, kind: Kind, send: Callable[[], T]) -> T:
        attempt = 0
        while True:
            self.quota.take(kind)
            attempt += 1
            try:
                return send()
            except APIError as error:
                code = error.response.status_code
                if code not in RETRIED:
                    raise self._refused(endpoint, code, error) from error
                reason = REASONS[code]
                retry_after = _retry_after(error.response)
            except RefreshError as error:
                raise BackendError(
                    "Google refused the service account's key (it was deleted, "
                    "revoked or belongs to a deleted account): create a new JSON key "
                    "and point the settings at it"
                ) from error
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                TransportError,
            ) as error:
                # No answer, half an answer, or no way to sign in: the network.
                reason = f"no answer ({type(error).__name__})"
                retry_after = None

            wait = self._wait(attempt, retry_after)
            if attempt >= self.retry.max_attempts or wait is None:
                raise SheetsUnavailable(
                    f"Google Sheets answered {endpoint} with {reason} {attempt} "
                    f"times in a row; gave up after {self.waited:.0f} s of retries "
                    "this cycle, the next cycle tries again"
                )
            logger.info(
                "Sheets %s answered %s; retry %d in %.1f s",
                endpoint,
                reason,
                attempt,
                wait,
            )
            self.sleep(wait)
            self.waited += wait

    def _wait(self, attempt: int, retry_after: float | None) -> float | None:
        """The pause before the next attempt, or None when the budget cannot pay it."""
        ceiling = min(self.retry.max_delay, self.retry.base_delay * 2 ** (attempt - 1))
        wait = self.jitter(0.0, ceiling)
        if retry_after is not None:
            wait = max(wait, retry_after)
        if self.waited + wait > self.retry.budget_seconds:
            return None
        return wait

    def _refused(self, endpoint: str, code: int, error: APIError) -> BackendError:
        message = _message(error)
        if code == 403 and ("has not been used" in message or "disabled" in message):
            return BackendError(
                "the Google Sheets API is not enabled in the service account's "
                "project: enable it in the Google Cloud console (see README, Connect "
                f"a Google spreadsheet, step 2). Google said: {message}"
            )
        if code == 403:
            return BackendError(
                f"Google refused access to spreadsheet {self.key}: share it with the "
                "service account's e-mail as Editor (see README, Connect a Google "
                f"spreadsheet). Google said: {message}"
            )
        if code == 404:
            return BackendError(
                f"no spreadsheet with key {self.key}: check the key or URL in the "
                "settings"
            )
        if code == 400 and "exceeds grid limits" in message:
            return GridChanged(
                f"a tab of {self.key} is smaller than when it was last looked at "
                f"({message}); this request did not land, the next cycle retries"
            )
        if code == 400 and "Unable to parse range" in message:
            return TabGone(f"a tab of {self.key} was renamed or deleted: {message}")
        return BackendError(f"Google Sheets refused {endpoint} ({code}): {message}")


def _retry_after(response: requests.Response) -> float | None:
    text = response.headers.get("Retry-After")
    if text is None:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        return None  # an HTTP date; the backoff alone decides then


def _message(error: APIError) -> str:
    try:
        return str(error.response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return error.response.text[:200]
