"""Settings: which spreadsheets, from a file, the environment and flags; later wins."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import automation.backends.sheets as sheets
from automation.backends.sheets import SheetsBackend
from automation.backends.workbook import WorkbookBackend
from automation.errors import ConfigurationError
from automation.settings import Flags, SheetsLimits, Target, load_settings, open_backend
from tests.fake_sheets import FakeSheetsAPI
from tests.sheets_fixtures import Clock

KEY = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"
URL = f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=0"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    """One spreadsheet with its own name and state, credentials in [google]."""
    return write(
        tmp_path / "automation.toml",
        f"""
data_dir = "data"

[google]
credentials = "file-key.json"

[[spreadsheets]]
name = "East"
spreadsheet = "{URL}"
state = "east.sqlite"
""",
    )


# Precedence


def test_the_file_alone_resolves_paths_from_its_folder(settings_file: Path) -> None:
    settings = load_settings(Flags(settings=settings_file), {})

    folder = settings_file.parent
    assert settings.source == settings_file
    assert settings.limits == SheetsLimits(60, 60, 60.0)
    assert settings.targets == (
        Target(
            name="East",
            state=str(folder / "east.sqlite"),
            outbox=folder / "data" / "outbox" / KEY,
            spreadsheet=KEY,
            credentials=folder / "file-key.json",
        ),
    )


def test_environment_overrides_the_file_and_flags_override_both(
    settings_file: Path,
) -> None:
    environ = {
        "AUTOMATION_SETTINGS": str(settings_file),
        "AUTOMATION_STATE": "env.sqlite",
        "AUTOMATION_OUTBOX": "env-outbox",
        "AUTOMATION_CREDENTIALS": "env-key.json",
    }
    from_env = load_settings(Flags(), environ).targets[0]
    assert (from_env.name, from_env.state) == ("East", "env.sqlite")
    assert from_env.outbox == Path("env-outbox")
    assert from_env.credentials == Path("env-key.json")

    flags = Flags(
        state="flag.sqlite",
        outbox=Path("flag-outbox"),
        credentials=Path("flag-key.json"),
    )
    from_flags = load_settings(flags, environ).targets[0]
    assert from_flags.state == "flag.sqlite"
    assert from_flags.outbox == Path("flag-outbox")
    assert from_flags.credentials == Path("flag-key.json")


def test_google_application_credentials_is_only_the_last_resort(
    settings_file: Path, tmp_path: Path
) -> None:
    fallback = {"GOOGLE_APPLICATION_CREDENTIALS": "/gcloud/default.json"}
    with_file = load_settings(Flags(settings=settings_file), fallback)
    assert with_file.targets[0].credentials == tmp_path / "file-key.json"

    alone = load_settings(Flags(spreadsheet=KEY), fallback)
    assert alone.targets[0].credentials == Path("/gcloud/default.json")


def test_a_target_named_by_env_or_flag_replaces_the_files_list(
    settings_file: Path, tmp_path: Path
) -> None:
    environ = {"AUTOMATION_WORKBOOK": "team.xlsx"}
    by_env = load_settings(Flags(settings=settings_file), environ).targets
    assert by_env == (
        Target(
            name="team.xlsx",
            state="team.state.sqlite",
            outbox=Path("outbox"),
            workbook=Path("team.xlsx"),
        ),
    )

    flags = Flags(settings=settings_file, spreadsheet="other-key-123")
    by_flag = load_settings(flags, environ).targets
    assert [(t.name, t.spreadsheet, t.state) for t in by_flag] == [
        (
            "other-key-123",
            "other-key-123",
            str(tmp_path / "data" / "state" / "other-key-123.sqlite"),
        )
    ]


def test_a_flag_naming_a_listed_spreadsheet_keeps_its_entry(
    settings_file: Path, tmp_path: Path
) -> None:
    target = load_settings(Flags(settings=settings_file, spreadsheet=KEY), {}).targets
    assert (target[0].name, target[0].state) == ("East", str(tmp_path / "east.sqlite"))


def test_data_dir_from_the_environment_beats_the_file(settings_file: Path) -> None:
    environ = {"AUTOMATION_DATA_DIR": "/var/lib/x"}
    target = load_settings(Flags(settings=settings_file), environ).targets[0]
    assert target.outbox == Path("/var/lib/x/outbox") / KEY


def test_without_a_data_dir_a_spreadsheets_files_go_under_the_current_folder() -> None:
    flags = Flags(spreadsheet=URL, credentials=Path("key.json"))
    target = load_settings(flags, {}).targets[0]
    assert (target.name, target.spreadsheet) == (KEY, KEY)
    assert target.state == f"state/{KEY}.sqlite"
    assert target.outbox == Path("outbox") / KEY


def test_limits_come_from_the_google_table(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.toml",
        """
[google]
reads_per_minute = 240
writes_per_minute = 30
retry_budget_seconds = 12.5
""",
    )
    settings = load_settings(Flags(settings=path, workbook=Path("t.xlsx")), {})
    assert settings.limits == SheetsLimits(240, 30, 12.5)


# Several spreadsheets


def two_spreadsheets(tmp_path: Path, api: FakeSheetsAPI, limits: str) -> Path:
    east = api.create_spreadsheet("East")
    west = api.create_spreadsheet("West")
    key_file = write(tmp_path / "key.json", "{}")
    key_file.chmod(0o600)
    return write(
        tmp_path / "s.toml",
        f"""
[google]
credentials = "key.json"
{limits}

[[spreadsheets]]
name = "East"
spreadsheet = "{east}"

[[spreadsheets]]
name = "West"
spreadsheet = "https://docs.google.com/spreadsheets/d/{west}/edit"
""",
    )


def test_several_spreadsheets_share_one_quota_and_retry_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = FakeSheetsAPI()
    monkeypatch.setattr(sheets, "authorized_client", lambda _: api.client())
    limits = "reads_per_minute = 120\nwrites_per_minute = 30\nretry_budget_seconds = 15"
    settings = load_settings(
        Flags(settings=two_spreadsheets(tmp_path, api, limits)), {}
    )

    east, west = (open_backend(t, settings) for t in settings.targets)
    assert isinstance(east, SheetsBackend) and isinstance(west, SheetsBackend)
    assert (east.key, west.key) == ("fake-0001", "fake-0002")
    assert east.calls.quota is west.calls.quota is settings.quota
    assert settings.quota.limits == {"read": 120, "write": 30}
    assert east.calls.retry.budget_seconds == west.calls.retry.budget_seconds == 15


def test_the_shared_quota_holds_back_the_second_spreadsheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = FakeSheetsAPI()
    monkeypatch.setattr(sheets, "authorized_client", lambda _: api.client())
    path = two_spreadsheets(tmp_path, api, "reads_per_minute = 1")
    settings = load_settings(Flags(settings=path), {})
    clock = Clock()
    settings.quota.clock = clock
    settings.quota.sleep = clock.sleep

    east, west = (open_backend(t, settings) for t in settings.targets)
    east.read()
    sent_by_east = len(api.requests)
    west.read()

    # One read a minute, whichever spreadsheet sends it: every request but the
    # first waited a minute, and west's first waited for east's last.
    assert sent_by_east >= 1 and len(api.requests) > sent_by_east
    assert clock.slept == [60.0] * (len(api.requests) - 1)


# Bad settings say where, what was found and what is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "data_dir = 5",
            "settings file {path}: data_dir is 5; expected a path, e.g. "
            'data_dir = "/srv/x"',
        ),
        (
            "spreadsheet = 'x'",
            'settings file {path}: the top level has an unknown key "spreadsheet"; '
            "expected one of data_dir, google, spreadsheets",
        ),
        (
            "google = 'key.json'",
            'settings file {path}: google is "key.json"; expected a [google] table, '
            'e.g. [google] then credentials = "service-account.json"',
        ),
        (
            "[google]\nreads_per_minute = 'sixty'",
            'settings file {path}: google.reads_per_minute is "sixty"; expected a '
            "whole number of requests above 0, e.g. reads_per_minute = 60",
        ),
        (
            "[google]\nwrites_per_minute = 0",
            "settings file {path}: google.writes_per_minute is 0; expected a whole "
            "number of requests above 0, e.g. writes_per_minute = 60",
        ),
        (
            "[google]\nretry_budget_seconds = true",
            "settings file {path}: google.retry_budget_seconds is true; expected "
            "seconds above 0, e.g. retry_budget_seconds = 60",
        ),
        (
            "[google]\ncredential = 'k.json'",
            'settings file {path}: [google] has an unknown key "credential"; '
            "expected one of credentials, reads_per_minute, writes_per_minute, "
            "retry_budget_seconds",
        ),
        (
            "[spreadsheets]\nspreadsheet = 'abcdefgh'",
            "settings file {path}: spreadsheets is a table; expected "
            "[[spreadsheets]] tables, e.g. [[spreadsheets]] then spreadsheet = "
            '"https://docs.google.com/spreadsheets/d/1AbC.../edit"',
        ),
        (
            "[google]\ncredentials = 'key.json'",
            "settings file {path} lists no spreadsheets; expected at least one "
            "[[spreadsheets]] table, e.g. [[spreadsheets]] then spreadsheet = "
            '"https://docs.google.com/spreadsheets/d/1AbC.../edit"',
        ),
        (
            "[[spreadsheets]]\nname = 'East'",
            "settings file {path}: spreadsheets[1] has neither of spreadsheet and "
            "workbook; expected one of them, e.g. spreadsheet = "
            '"https://docs.google.com/spreadsheets/d/1AbC.../edit"',
        ),
        (
            "[[spreadsheets]]\nworkbook = 'a.xlsx'\n"
            "[[spreadsheets]]\nworkbook = 'b.xlsx'\nspredsheet = 'x'",
            'settings file {path}: spreadsheets[2] has an unknown key "spredsheet"; '
            "expected one of name, spreadsheet, workbook, credentials, state, outbox",
        ),
        (
            "[[spreadsheets]]\nspreadsheet = 'not a key'",
            "settings file {path}: spreadsheets[1].spreadsheet: 'not a key' is not a "
            "spreadsheet key; it is the long part of the URL after /d/, e.g. "
            "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms",
        ),
        (
            "[[spreadsheets]]\nworkbook = 'a.xlsx'\nname = ''",
            'settings file {path}: spreadsheets[1].name is ""; expected text, e.g. '
            'name = "East"',
        ),
        (
            "[[spreadsheets]]\nworkbook = 'a.xlsx'\n"
            "[[spreadsheets]]\nworkbook = 'a.xlsx'\nname = 'Again'",
            'settings file {path}: "{dir}/a.xlsx" and "Again" have the same '
            "spreadsheet {dir}/a.xlsx; give each spreadsheet its own",
        ),
        (
            "[[spreadsheets]]\nworkbook = 'a.xlsx'\n"
            "[[spreadsheets]]\nworkbook = 'b.xlsx'",
            'settings file {path}: "{dir}/a.xlsx" and "{dir}/b.xlsx" have the same '
            "outbox {dir}/outbox; give each spreadsheet its own",
        ),
        (
            "[google]\ncredentials = 'k.json'\n"
            "[[spreadsheets]]\nworkbook = 'a.xlsx'\n"
            "[[spreadsheets]]\nspreadsheet = 'abcdefgh'",
            'settings file {path}: the outbox of "abcdefgh" ({dir}/outbox/abcdefgh) '
            'is inside the outbox of "{dir}/a.xlsx"; give each spreadsheet its own '
            'folder, e.g. outbox = "outbox/east"',
        ),
        (
            "[[spreadsheets]]\nspreadsheet = 'abcdefgh'",
            "no credentials for spreadsheet abcdefgh; pass --credentials FILE (the "
            "service account's JSON key), or set AUTOMATION_CREDENTIALS or "
            "GOOGLE_APPLICATION_CREDENTIALS",
        ),
    ],
)
def test_bad_settings_raise_one_line_naming_the_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)  # the default data_dir
    path = write(tmp_path / "s.toml", text)
    with pytest.raises(ConfigurationError) as raised:
        load_settings(Flags(settings=path), {})
    assert str(raised.value) == message.format(path=path, dir=tmp_path)


def test_a_file_that_is_not_toml_says_so(tmp_path: Path) -> None:
    path = write(tmp_path / "s.toml", "[google\n")
    with pytest.raises(ConfigurationError) as raised:
        load_settings(Flags(settings=path), {})
    assert str(raised.value) == (
        f"settings file {path} is not valid TOML (Expected ']' at the end of a "
        "table declaration (at line 1, column 8)); see the example in the README, "
        "section “Connect a Google spreadsheet”"
    )


def test_a_missing_file_names_where_its_path_came_from(tmp_path: Path) -> None:
    environ = {"AUTOMATION_SETTINGS": str(tmp_path / "none.toml")}
    with pytest.raises(ConfigurationError) as raised:
        load_settings(Flags(), environ)
    assert str(raised.value) == (
        f"settings file {tmp_path / 'none.toml'} cannot be read (No such file or "
        "directory); pass --settings FILE or set AUTOMATION_SETTINGS to an "
        "existing file"
    )


@pytest.mark.parametrize(
    ("flags", "environ", "message"),
    [
        (
            Flags(workbook=Path("a.xlsx"), spreadsheet="abcdefgh"),
            {},
            "both --workbook and --spreadsheet are given; pass only one of them",
        ),
        (
            Flags(),
            {"AUTOMATION_WORKBOOK": "a.xlsx", "AUTOMATION_SPREADSHEET": "abcdefgh"},
            "both AUTOMATION_WORKBOOK and AUTOMATION_SPREADSHEET are given; pass "
            "only one of them",
        ),
        (
            Flags(),
            {"AUTOMATION_SPREADSHEET": "https://example.com/sheet"},
            "AUTOMATION_SPREADSHEET: 'https://example.com/sheet' is not a Google "
            "Sheets URL; give the key or a URL like "
            "https://docs.google.com/spreadsheets/d/KEY/edit",
        ),
        (
            Flags(),
            {},
            "no workbook given; pass --workbook PATH or set AUTOMATION_WORKBOOK (for "
            "a Google spreadsheet: --spreadsheet KEY_OR_URL and --credentials FILE, "
            "or a settings file with --settings FILE)",
        ),
    ],
)
def test_bad_flags_and_environment_name_their_source(
    flags: Flags, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings(flags, environ)
    assert str(raised.value) == message


def test_one_state_for_several_spreadsheets_is_refused(tmp_path: Path) -> None:
    api = FakeSheetsAPI()
    path = two_spreadsheets(tmp_path, api, "")
    with pytest.raises(ConfigurationError) as raised:
        load_settings(Flags(settings=path), {"AUTOMATION_STATE": "one.sqlite"})
    assert str(raised.value) == (
        f"AUTOMATION_STATE names one place, but settings file {path} lists 2 "
        "spreadsheets; give each its own state and outbox in the file instead"
    )


def test_the_readmes_example_lists_two_spreadsheets(tmp_path: Path) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    path = write(tmp_path / "settings.toml", example)

    settings = load_settings(Flags(settings=path), {})
    east, north = settings.targets
    assert (east.name, north.name) == ("East China", "North China")
    assert east.credentials == north.credentials == tmp_path / "service-account.json"
    assert (
        east.state == f"/var/lib/logistics-automation/state/{east.spreadsheet}.sqlite"
    )
    assert north.state == "postgresql+psycopg://automation@db/north"
    assert settings.limits == SheetsLimits(60, 60, 60.0)


# Opening a backend


def test_a_workbook_target_opens_the_workbook(tmp_path: Path) -> None:
    settings = load_settings(Flags(workbook=tmp_path / "t.xlsx"), {})
    backend = open_backend(settings.targets[0], settings)
    assert isinstance(backend, WorkbookBackend)
    assert backend.name == f"workbook {tmp_path / 't.xlsx'}"


@pytest.mark.parametrize(("mode", "warned"), [(0o600, False), (0o640, True)])
def test_a_key_file_others_can_read_is_warned_about_by_path_only(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    mode: int,
    warned: bool,
) -> None:
    api = FakeSheetsAPI()
    key = api.create_spreadsheet("Team")
    monkeypatch.setattr(sheets, "authorized_client", lambda _: api.client())
    key_file = write(tmp_path / "key.json", '{"private_key": "SECRET-MATERIAL"}')
    key_file.chmod(mode)
    settings = load_settings(Flags(spreadsheet=key, credentials=key_file), {})

    with caplog.at_level(logging.WARNING, logger="automation.settings"):
        open_backend(settings.targets[0], settings)

    expected = [
        f"Credentials file {key_file} can be read by other users (mode 640); "
        "run chmod 600 on it"
    ]
    assert [r.getMessage() for r in caplog.records] == (expected if warned else [])
    assert "SECRET" not in caplog.text
