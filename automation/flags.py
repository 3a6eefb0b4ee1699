"""The flag the service writes on every item, and its label in each language."""

from __future__ import annotations

from enum import StrEnum

from automation.layout import Language


class Flag(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OVERDUE = "overdue"
    DONE_ON_TIME = "done_on_time"
    DONE_LATE = "done_late"

    def label(self, language: Language) -> str:
        return LABELS[self][language]

    @property
    def open(self) -> bool:
        return self in (Flag.ON_TRACK, Flag.AT_RISK, Flag.OVERDUE)


LABELS: dict[Flag, dict[Language, str]] = {
    Flag.ON_TRACK: {"zh": "正常", "en": "On track"},
    Flag.AT_RISK: {"zh": "有风险", "en": "At risk"},
    Flag.OVERDUE: {"zh": "已逾期", "en": "Overdue"},
    Flag.DONE_ON_TIME: {"zh": "按时完成", "en": "Done on time"},
    Flag.DONE_LATE: {"zh": "逾期完成", "en": "Done late"},
}


def flag_formula(letter: str, flag: Flag) -> str:
    """A formula, true on row 2 when column `letter` shows `flag` in either language.

    Spreadsheets shift it down the rows a conditional format covers.
    """
    tests = ",".join(f'${letter}2="{label}"' for label in LABELS[flag].values())
    return f"OR({tests})"
