"""The command line as a user meets it: messages, exit codes, idempotent init."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from automation.cli import main


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
