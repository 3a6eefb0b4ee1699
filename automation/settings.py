"""Which spreadsheets the service works on, and with what: the deployment's settings.

Three sources, each overriding the one before: a TOML settings file (`--settings`
or AUTOMATION_SETTINGS), environment variables, then command-line flags. A file may
list several spreadsheets or workbooks as `[[spreadsheets]]` tables; a workbook or
spreadsheet named in the environment or by a flag replaces that list with one target,
taking its name, state and outbox from the file's entry for it if there is one.

    data_dir = "/var/lib/logistics-automation"   # state/ and outbox/ of spreadsheets

    [google]
    credentials = "/etc/logistics-automation/service-account.json"
    reads_per_minute = 60          # this process, every spreadsheet together
    writes_per_minute = 60
    retry_budget_seconds = 60      # per cycle, for 429 and 5xx answers

    [[spreadsheets]]
    name = "East"
    spreadsheet = "https://docs.google.com/spreadsheets/d/1AbC.../edit"

Relative paths in the file are taken from the file's folder. A spreadsheet's state
defaults to `<data_dir>/state/<key>.sqlite` and its outbox to `<data_dir>/outbox/<key>/`
(the full key, so two spreadsheets never share them), `data_dir` to the current folder
(AUTOMATION_DATA_DIR overrides the file's); a workbook's stay beside it. Targets that
would share a spreadsheet, name, state or outbox are refused.
Every spreadsheet of one process shares one `Quota`, so the requests per minute stay
inside the project's quota however many are listed. Bad settings raise
`ConfigurationError` with one line naming the place, what was found and an example.
Credentials are only ever named by their path, never read here.
"""

from __future__ import annotations

import logging
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automation.backends.base import Backend
from automation.backends.workbook import WorkbookBackend
from automation.errors import BackendError, ConfigurationError

if TYPE_CHECKING:
    from automation.backends.sheets_api import Quota

log = logging.getLogger(__name__)

SETTINGS_ENV = "AUTOMATION_SETTINGS"
EXAMPLE_URL = "https://docs.google.com/spreadsheets/d/1AbC.../edit"
NO_CREDENTIALS = (
    "pass --credentials FILE (the service account's JSON key), or set "
    "AUTOMATION_CREDENTIALS or GOOGLE_APPLICATION_CREDENTIALS"
)

TOP_KEYS = ("data_dir", "google", "spreadsheets")
GOOGLE_KEYS = (
    "credentials",
    "reads_per_minute",
    "writes_per_minute",
    "retry_budget_seconds",
)
ENTRY_KEYS = ("name", "spreadsheet", "workbook", "credentials", "state", "outbox")


@dataclass(frozen=True)
class SheetsLimits:
    """How hard this process may use the Sheets API, for every spreadsheet together."""

    reads_per_minute: int = 60
    writes_per_minute: int = 60
    retry_budget_seconds: float = 60.0


@dataclass(frozen=True)
class Target:
    """One workbook or spreadsheet the service keeps, with its own state and outbox.

    Exactly one of `workbook` and `spreadsheet` (a key, never a URL) is set;
    `credentials` is the path of the service account's key, for a spreadsheet.
    """

    name: str
    state: str
    outbox: Path
    workbook: Path | None = None
    spreadsheet: str | None = None
    credentials: Path | None = None


@dataclass(frozen=True)
class Settings:
    """Every target of this process and the limits they share."""

    targets: tuple[Target, ...]
    limits: SheetsLimits = SheetsLimits()
    source: Path | None = None

    @cached_property
    def quota(self) -> Quota:
        """The one request limiter of every spreadsheet opened with these settings."""
        from automation.backends.sheets_api import Quota

        return Quota(
            reads_per_minute=self.limits.reads_per_minute,
            writes_per_minute=self.limits.writes_per_minute,
        )


@dataclass(frozen=True)
class Flags:
    """What the command line said; None where a flag was not given."""

    settings: Path | None = None
    workbook: Path | None = None
    spreadsheet: str | None = None
    credentials: Path | None = None
    state: str | None = None
    outbox: Path | None = None


@dataclass(frozen=True)
class _Entry:
    """One `[[spreadsheets]]` table, paths resolved, nothing defaulted yet."""

    name: str | None = None
    workbook: Path | None = None
    spreadsheet: str | None = None
    credentials: Path | None = None
    state: str | None = None
    outbox: Path | None = None


@dataclass(frozen=True)
class _File:
    path: Path | None = None
    data_dir: Path | None = None
    credentials: Path | None = None
    limits: SheetsLimits = SheetsLimits()
    entries: tuple[_Entry, ...] = ()


def load_settings(flags: Flags, environ: Mapping[str, str]) -> Settings:
    """The settings from the file, the environment and the flags, later winning."""
    path = flags.settings or _path(environ.get(SETTINGS_ENV))
    file = _read_file(path) if path is not None else _File()
    data_dir = _path(environ.get("AUTOMATION_DATA_DIR")) or file.data_dir or Path()

    chosen = _one_target(flags, "--workbook", "--spreadsheet") or _one_target(
        Flags(
            workbook=_path(environ.get("AUTOMATION_WORKBOOK")),
            spreadsheet=environ.get("AUTOMATION_SPREADSHEET") or None,
        ),
        "AUTOMATION_WORKBOOK",
        "AUTOMATION_SPREADSHEET",
    )
    entries = file.entries if chosen is None else (_matching(chosen, file.entries),)
    if not entries and file.path is not None:
        raise ConfigurationError(
            f"settings file {file.path} lists no spreadsheets; expected at least one "
            f'[[spreadsheets]] table, e.g. [[spreadsheets]] then spreadsheet = "'
            f'{EXAMPLE_URL}"'
        )
    if not entries:
        raise ConfigurationError(
            "no workbook given; pass --workbook PATH or set AUTOMATION_WORKBOOK "
            "(for a Google spreadsheet: --spreadsheet KEY_OR_URL and --credentials "
            "FILE, or a settings file with --settings FILE)"
        )

    state = _override(flags.state, environ, "AUTOMATION_STATE", "--state")
    outbox = _override(flags.outbox, environ, "AUTOMATION_OUTBOX", "--outbox")
    for given, where in (state, outbox):
        if given is not None and len(entries) > 1:
            raise ConfigurationError(
                f"{where} names one place, but settings file {file.path} lists "
                f"{len(entries)} spreadsheets; give each its own state and outbox "
                f"in the file instead"
            )
    credentials = (
        flags.credentials or _path(environ.get("AUTOMATION_CREDENTIALS")),
        _path(environ.get("GOOGLE_APPLICATION_CREDENTIALS")),
    )
    targets = tuple(
        _target(entry, file, data_dir, credentials, state[0], outbox[0])
        for entry in entries
    )
    _refuse_shared(targets, file.path)
    return Settings(targets=targets, limits=file.limits, source=file.path)


def open_backend(target: Target, settings: Settings) -> Backend:
    """The workbook, or the spreadsheet connected with the settings' shared quota."""
    if target.workbook is not None:
        return WorkbookBackend(target.workbook)
    assert target.spreadsheet is not None and target.credentials is not None
    _check_key_file(target.credentials)

    from automation.backends.sheets import SheetsBackend
    from automation.backends.sheets_api import RetryPolicy

    retry = RetryPolicy(budget_seconds=settings.limits.retry_budget_seconds)
    return SheetsBackend.connect(
        target.spreadsheet, target.credentials, quota=settings.quota, retry=retry
    )


def spreadsheet_key(text: str, where: str) -> str:
    """The key of a spreadsheet given as a key or a URL; `where` names the source."""
    from automation.backends.sheets import spreadsheet_key as key_of

    try:
        return key_of(text)
    except BackendError as error:
        raise ConfigurationError(f"{where}: {error}") from None


# Choosing targets


def _one_target(flags: Flags, workbook: str, spreadsheet: str) -> _Entry | None:
    """The target one source names, if it names one; both at once is refused."""
    if flags.workbook is not None and flags.spreadsheet is not None:
        raise ConfigurationError(
            f"both {workbook} and {spreadsheet} are given; pass only one of them"
        )
    if flags.workbook is not None:
        return _Entry(workbook=flags.workbook)
    if flags.spreadsheet is not None:
        return _Entry(spreadsheet=spreadsheet_key(flags.spreadsheet, spreadsheet))
    return None


def _matching(chosen: _Entry, entries: tuple[_Entry, ...]) -> _Entry:
    """The file's entry for the chosen target, or the chosen target as it is."""
    for entry in entries:
        same_sheet = chosen.spreadsheet and entry.spreadsheet == chosen.spreadsheet
        same_book = (
            chosen.workbook
            and entry.workbook
            and entry.workbook.resolve() == chosen.workbook.resolve()
        )
        if same_sheet or same_book:
            return entry
    return chosen


def _override(
    flag: str | Path | None, environ: Mapping[str, str], name: str, option: str
) -> tuple[str | None, str]:
    if flag is not None:
        return str(flag), option
    return environ.get(name) or None, name


def _target(
    entry: _Entry,
    file: _File,
    data_dir: Path,
    credentials: tuple[Path | None, Path | None],
    state: str | None,
    outbox: str | None,
) -> Target:
    if entry.workbook is not None:
        return Target(
            name=entry.name or str(entry.workbook),
            state=state
            or entry.state
            or str(entry.workbook.with_suffix(".state.sqlite")),
            outbox=Path(outbox or entry.outbox or entry.workbook.parent / "outbox"),
            workbook=entry.workbook,
        )

    key = entry.spreadsheet
    assert key is not None
    stronger, weakest = credentials
    key_file = stronger or entry.credentials or file.credentials or weakest
    if key_file is None:
        raise ConfigurationError(
            f"no credentials for spreadsheet {key}; {NO_CREDENTIALS}"
        )
    return Target(
        name=entry.name or key,
        state=state or entry.state or str(data_dir / "state" / f"{key}.sqlite"),
        outbox=Path(outbox or entry.outbox or data_dir / "outbox" / key),
        spreadsheet=key,
        credentials=key_file,
    )


def _refuse_shared(targets: tuple[Target, ...], source: Path | None) -> None:
    """Two targets may not be one spreadsheet, nor share a name, state or outbox."""
    first: dict[tuple[str, str], Target] = {}
    for target in targets:
        sheet = (
            str(target.workbook.resolve()) if target.workbook else target.spreadsheet
        )
        state = target.state
        if "://" not in state:
            state = str(Path(state).resolve())
        for what, value in (
            ("spreadsheet", str(sheet)),
            ("name", target.name),
            ("state", state),
            ("outbox", str(target.outbox.resolve())),
        ):
            other = first.setdefault((what, value), target)
            if other is not target:
                raise ConfigurationError(
                    f"settings file {source}: {_shown(other.name)} and "
                    f"{_shown(target.name)} have the same {what} {value}; give each "
                    f"spreadsheet its own"
                )

    # One outbox inside another would mix their mail all the same.
    for outer in targets:
        for inner in targets:
            outside, inside = outer.outbox.resolve(), inner.outbox.resolve()
            if inner is not outer and inside.is_relative_to(outside):
                raise ConfigurationError(
                    f"settings file {source}: the outbox of {_shown(inner.name)} "
                    f"({inside}) is inside the outbox of {_shown(outer.name)}; give "
                    f'each spreadsheet its own folder, e.g. outbox = "outbox/east"'
                )


# Reading the file


def _read_file(path: Path) -> _File:
    try:
        with path.open("rb") as stream:
            data = tomllib.load(stream)
    except OSError as error:
        raise ConfigurationError(
            f"settings file {path} cannot be read ({error.strerror}); pass "
            f"--settings FILE or set {SETTINGS_ENV} to an existing file"
        ) from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(
            f"settings file {path} is not valid TOML ({error}); see the example in "
            "the README, section “Connect a Google spreadsheet”"
        ) from error

    where = f"settings file {path}: "
    folder = path.parent
    _known(data, TOP_KEYS, f"{where}the top level")
    google = data.get("google", {})
    if not isinstance(google, dict):
        raise ConfigurationError(
            f"{where}google is {_shown(google)}; expected a [google] table, e.g. "
            '[google] then credentials = "service-account.json"'
        )
    _known(google, GOOGLE_KEYS, f"{where}[google]")
    listed = data.get("spreadsheets", [])
    if not isinstance(listed, list) or not all(isinstance(t, dict) for t in listed):
        raise ConfigurationError(
            f"{where}spreadsheets is {_shown(listed)}; expected [[spreadsheets]] "
            f'tables, e.g. [[spreadsheets]] then spreadsheet = "{EXAMPLE_URL}"'
        )

    in_google = f"{where}google."
    default = SheetsLimits()
    return _File(
        path=path,
        data_dir=_file_path(data, "data_dir", folder, where),
        credentials=_file_path(google, "credentials", folder, in_google),
        limits=SheetsLimits(
            reads_per_minute=_count(
                google, "reads_per_minute", in_google, default.reads_per_minute
            ),
            writes_per_minute=_count(
                google, "writes_per_minute", in_google, default.writes_per_minute
            ),
            retry_budget_seconds=_seconds(
                google, "retry_budget_seconds", in_google, default.retry_budget_seconds
            ),
        ),
        entries=tuple(
            _entry(table, folder, f"{where}spreadsheets[{number}]")
            for number, table in enumerate(listed, start=1)
        ),
    )


def _entry(table: dict[str, Any], folder: Path, name: str) -> _Entry:
    """One [[spreadsheets]] table; `name` says which, e.g. "...: spreadsheets[2]"."""
    _known(table, ENTRY_KEYS, name)
    where = f"{name}."
    spreadsheet = _text(table, "spreadsheet", where, f'"{EXAMPLE_URL}"')
    workbook = _file_path(table, "workbook", folder, where)
    if (spreadsheet is None) == (workbook is None):
        found = "both" if spreadsheet is not None else "neither"
        raise ConfigurationError(
            f"{name} has {found} of spreadsheet and workbook; expected one of them, "
            f'e.g. spreadsheet = "{EXAMPLE_URL}"'
        )
    state = _text(table, "state", where, '"state/east.sqlite"')
    if state is not None and "://" not in state:
        state = str(_resolved(state, folder))
    return _Entry(
        name=_text(table, "name", where, '"East"'),
        workbook=workbook,
        spreadsheet=spreadsheet and spreadsheet_key(spreadsheet, f"{where}spreadsheet"),
        credentials=_file_path(table, "credentials", folder, where),
        state=state,
        outbox=_file_path(table, "outbox", folder, where),
    )


def _known(table: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in keys:
            raise ConfigurationError(
                f"{where} has an unknown key {_shown(key)}; expected one of "
                f"{', '.join(keys)}"
            )


# `where` below is the place's prefix, e.g. "settings file s.toml: google."


def _text(table: dict[str, Any], key: str, where: str, example: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            f"{where}{key} is {_shown(value)}; expected text, e.g. {key} = {example}"
        )
    return value


def _file_path(
    table: dict[str, Any], key: str, folder: Path, where: str
) -> Path | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            f'{where}{key} is {_shown(value)}; expected a path, e.g. {key} = "/srv/x"'
        )
    return _resolved(value, folder)


def _count(table: dict[str, Any], key: str, where: str, default: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"{where}{key} is {_shown(value)}; expected a whole number of requests "
            f"above 0, e.g. {key} = {default}"
        )
    return value


def _seconds(table: dict[str, Any], key: str, where: str, default: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigurationError(
            f"{where}{key} is {_shown(value)}; expected seconds above 0, "
            f"e.g. {key} = {default:g}"
        )
    return float(value)


def _resolved(value: str, folder: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else folder / path


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _shown(value: object) -> str:
    """A value as the settings file spells it."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)


# The key file


def _check_key_file(path: Path) -> None:
    """Warn when users other than the service's own can read the key file."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # signing in says what is wrong with it
    if os.name == "posix" and mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning(
            "Credentials file %s can be read by other users (mode %03o); "
            "run chmod 600 on it",
            path,
            stat.S_IMODE(mode),
        )
