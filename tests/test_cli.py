"""The command line as a user meets it: messages, exit codes, idempotent init."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

import automation.backends.sheets as sheets
from automation.cli import main
from tests.fake_sheets import DateCell, FakeSheetsAPI, to_serial


@pytest.fixture(autouse=True)
def no_settings_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' own flags only: no settings leak in from the caller's environment."""
    for name in list(os.environ):
        if name.startswith("AUTOMATION_") or name == "GOOGLE_APPLICATION_CREDENTIALS":
            monkeypatch.delenv(name)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_command_is_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for command in ("demo", "init", "check", "run", "status"):
        assert command in text


@pytest.mark.parametrize("command", ["init", "check", "run", "status"])
def test_every_command_takes_a_workbook_a_spreadsheet_or_a_settings_file(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    usage = " ".join(capsys.readouterr().out.split())
    for option in (
        "[--settings FILE]",
        "[--workbook PATH]",
        "[--spreadsheet KEY_OR_URL]",
        "[--credentials FILE]",
        "[--state URL]",
        "[--outbox DIR]",
    ):
        assert option in usage


def test_init_lays_out_once_and_then_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workbook = tmp_path / "team.xlsx"
    code, out, _ = run(capsys, "init", "--workbook", str(workbook))
    assert code == 0
    assert out.startswith(f"{workbook}: 17 tabs created")
    before = workbook.read_bytes()

    code, out, _ = run(capsys, "init", "--workbook", str(workbook))
    assert (code, out) == (0, f"{workbook}: already laid out; nothing changed\n")
    assert workbook.read_bytes() == before


def test_init_in_english_titles_tabs_in_english(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workbook = tmp_path / "team.xlsx"
    assert run(capsys, "init", "--workbook", str(workbook), "--language", "en")[0] == 0
    names = load_workbook(workbook).sheetnames
    assert names[:3] == ["Requests", "Orders", "Returns"]


def test_check_exits_non_zero_on_bad_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workbook = tmp_path / "team.xlsx"
    run(capsys, "init", "--workbook", str(workbook))
    book = load_workbook(workbook)
    book["时效规则"]["G2"] = "fortnights"
    book.save(workbook)

    code, out, _ = run(capsys, "check", "--workbook", str(workbook))
    assert code == 1
    assert "“时效规则”第 2 行“计时方式”列:填写的是“fortnights”" in out
    assert out.endswith("0 rows checked: 0 problems in rows, 1 in the configuration\n")


def test_run_once_then_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workbook = tmp_path / "team.xlsx"
    run(capsys, "init", "--workbook", str(workbook))
    code, out, _ = run(
        capsys,
        "run",
        "--once",
        "--workbook",
        str(workbook),
        "--now",
        "2025-10-15T10:00",
    )
    assert code == 0
    assert "rows read         0" in out

    code, out, _ = run(capsys, "status", "--workbook", str(workbook))
    assert code == 0
    assert out.splitlines()[0].startswith("last good cycle at 2025-10-15 10:00 CST")
    assert out.splitlines()[1] == "mail: 0 sent, 0 waiting"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check"], "error: no workbook given; pass --workbook PATH or set "),
        (
            ["run", "--once", "--workbook", "{dir}/x.xlsx", "--now", "tomorrow"],
            "error: --now 'tomorrow' is not an ISO time; write e.g. "
            "2025-10-15T10:00+08:00",
        ),
    ],
)
def test_errors_are_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("AUTOMATION_WORKBOOK", raising=False)
    run(capsys, "init", "--workbook", str(tmp_path / "x.xlsx"))
    code, _, err = run(capsys, *[a.format(dir=tmp_path) for a in args])
    assert code == 2
    assert err.startswith(message)
    assert err.count("\n") == 1


# A Google spreadsheet (the fake Sheets API behind a real gspread client)


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSheetsAPI:
    """The fake API signed into with any key file; the state goes under tmp_path."""
    fake = FakeSheetsAPI()
    monkeypatch.setattr(sheets, "authorized_client", lambda _: fake.client())
    monkeypatch.chdir(tmp_path)
    key_file = tmp_path / "key.json"
    key_file.write_text("{}", encoding="utf-8")
    key_file.chmod(0o600)
    return fake


def requests_made(api: FakeSheetsAPI) -> dict[str, int]:
    counts = api.counts()
    api.reset_counts()
    return {endpoint: n for endpoint, n in counts.items() if n}


def test_init_on_a_spreadsheet_lays_it_out_once(
    api: FakeSheetsAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    key = api.create_spreadsheet("Team")
    spreadsheet = f"https://docs.google.com/spreadsheets/d/{key}/edit#gid=0"
    args = ("init", "--spreadsheet", spreadsheet, "--credentials", "key.json")

    code, out, err = run(capsys, *args)
    assert (code, err) == (0, "")
    assert out.startswith(f"{key}: 17 tabs created, 148 columns added, ")
    titles = [sheet.title for sheet in api.book(key).sheets]
    assert titles[:4] == ["Sheet1", "需求提报", "订单", "售后"]  # never deletes
    assert api.values(key, "需求提报")[0][0] == "需求编号"

    code, out, _ = run(capsys, *args)
    assert (code, out) == (0, f"{key}: already laid out; nothing changed\n")


def test_check_on_a_spreadsheet_reads_it_once_and_reports_like_a_workbook(
    api: FakeSheetsAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    key = api.create_spreadsheet("Team")
    where = ("--spreadsheet", key, "--credentials", "key.json")
    run(capsys, "init", *where)
    api.set_cell(key, "时效规则", "G2", "fortnights")
    api.reset_counts()

    code, out, _ = run(capsys, "check", *where)
    assert code == 1
    assert "“时效规则”第 2 行“计时方式”列:填写的是“fortnights”" in out
    assert out.endswith("0 rows checked: 0 problems in rows, 1 in the configuration\n")
    assert requests_made(api) == {"get": 1, "values:batchGet": 1}


def test_run_once_on_a_spreadsheet_then_status(
    api: FakeSheetsAPI, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key = api.create_spreadsheet("Team")
    where = ("--spreadsheet", key, "--credentials", "key.json")
    run(capsys, "init", *where)
    submitted = DateCell(to_serial(datetime(2025, 10, 14, 9, 0)))
    typed = [None, submitted, "销售一部", "赵敏", "展会物料", None, "ACME"]
    typed += ["展台物料", 20.0, None, "张三", "处理中"]
    for column, value in zip("ABCDEFGHIJKL", typed, strict=True):
        api.set_cell(key, "需求提报", f"{column}2", value)
    api.reset_counts()

    # A --now without an offset takes the Calendar tab's zone from the cycle's read.
    at = ("--now", "2025-10-15T10:00")
    code, out, _ = run(capsys, "run", "--once", *where, *at)
    assert code == 0
    assert "rows read         1" in out
    assert out.endswith(
        f"Spreadsheet: https://docs.google.com/spreadsheets/d/{key}/edit\n"
        f"Outbox:   outbox/{key}/ (open the .html files in a browser)\n"
    )
    assert api.values(key, "需求提报")[1][0] == "REQ-00001"
    assert (tmp_path / "state" / f"{key}.sqlite").is_file()

    # The same time again: nothing to write, one metadata and one values request.
    api.reset_counts()
    code, out, _ = run(capsys, "run", "--once", *where, *at)
    assert code == 0
    assert "cells written     0" in out
    assert requests_made(api) == {"get": 1, "values:batchGet": 1}

    # status finds the zone in the state database: no request at all
    code, out, _ = run(capsys, "status", *where)
    assert code == 0
    assert out.startswith("last good cycle at 2025-10-15 10:00 CST: 1 rows, ")
    assert requests_made(api) == {}


def test_the_spreadsheet_and_credentials_can_come_from_the_environment(
    api: FakeSheetsAPI,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = api.create_spreadsheet("Team")
    monkeypatch.setenv("AUTOMATION_SPREADSHEET", key)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "key.json")
    code, out, _ = run(capsys, "init")
    assert code == 0
    assert out.startswith(f"{key}: 17 tabs created")


def test_a_settings_file_runs_every_spreadsheet_and_names_each(
    api: FakeSheetsAPI, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    east = api.create_spreadsheet("East")
    (tmp_path / "s.toml").write_text(
        f"""
[google]
credentials = "key.json"

[[spreadsheets]]
name = "Shared drive"
workbook = "book/team.xlsx"

[[spreadsheets]]
name = "Gone"
spreadsheet = "no-such-key"

[[spreadsheets]]
name = "East"
spreadsheet = "{east}"
""",
        encoding="utf-8",
    )

    code, out, err = run(capsys, "init", "--settings", "s.toml")
    assert code == 2
    assert out.splitlines()[0:2] == [
        "== Shared drive ==",
        "Shared drive: 17 tabs created, 148 columns added, 48 rows of defaults "
        "written, 24 drop-downs and formats set",
    ]
    assert out.splitlines()[3:6] == ["== Gone ==", "", "== East =="]
    assert out.splitlines()[6].startswith("East: 17 tabs created")
    assert err == (
        "error: Gone: no spreadsheet with key no-such-key: check the key or URL in "
        "the settings\n"
    )

    code, out, _ = run(capsys, "check", "--settings", "s.toml")
    assert code == 2
    assert out.count("0 rows checked: 0 problems in rows, 0 in the configuration") == 2

    code, out, _ = run(capsys, "check", "--settings", "s.toml", "--spreadsheet", east)
    assert (code, out) == (
        0,
        "0 rows checked: 0 problems in rows, 0 in the configuration\n",
    )
