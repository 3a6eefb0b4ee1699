"""Problems are data: a code, where it is, what was found, and a message template.

A `Problem` names the table, the 1-based sheet row, the field and the values that make
its message; `Problem.message(language, layout)` renders it in Chinese or English from
`MESSAGES`. The engine collects them; backends show them in check columns and the
Problems tab; mail lists them to whoever entered the row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from automation.layout import Language, Layout, TableSpec

Severity = Literal["error", "warning", "notice"]

# Each template may use {found}, {expected}, {example} and any other parameter the
# problem carries. Position ("Row 12, column Required by: ") is added in front.
MESSAGES: dict[str, dict[Language, str]] = {
    "missing-value": {
        "zh": "未填写;应为{expected},例如 {example}",
        "en": "is empty; expected {expected}, for example {example}",
    },
    # A required free-text column: there is no sensible example to give.
    "missing-text": {
        "zh": "未填写;此列必须填写",
        "en": "is empty; this column must be filled in",
    },
    "bad-datetime": {
        "zh": "填写的是“{found}”;应为日期和时间,例如 {example}",
        "en": "found “{found}”; expected a date and time, for example {example}",
    },
    "bad-date": {
        "zh": "填写的是“{found}”;应为日期,例如 {example}",
        "en": "found “{found}”; expected a date, for example {example}",
    },
    "bad-month": {
        "zh": "填写的是“{found}”;应为月份,例如 {example}",
        "en": "found “{found}”; expected a month, for example {example}",
    },
    "bad-number": {
        "zh": "填写的是“{found}”;应为数字,例如 {example}",
        "en": "found “{found}”; expected a number, for example {example}",
    },
    "bad-integer": {
        "zh": "填写的是“{found}”;应为整数,例如 {example}",
        "en": "found “{found}”; expected a whole number, for example {example}",
    },
    "out-of-range": {
        "zh": "填写的是“{found}”;应在 {min} 到 {max} 之间,例如 {example}",
        "en": "found “{found}”; expected a value from {min} to {max}, "
        "for example {example}",
    },
    "negative-number": {
        "zh": "填写的是“{found}”;不能为负数,例如 {example}",
        "en": "found “{found}”; it cannot be negative, for example {example}",
    },
    "bad-bool": {
        "zh": "填写的是“{found}”;应为“是”或“否”",
        "en": "found “{found}”; expected yes or no",
    },
    "bad-choice": {
        "zh": "填写的是“{found}”;应为以下之一:{expected}",
        "en": "found “{found}”; expected one of: {expected}",
    },
    "unknown-person": {
        "zh": "填写的是“{found}”;此人不在“人员”表中或已停用,"
        "请填写在职人员姓名,例如 {example}",
        "en": "found “{found}”; this person is not active in the People tab, "
        "use an active person's name, for example {example}",
    },
    "bad-email": {
        "zh": "填写的是“{found}”;应为邮箱地址,例如 {example}",
        "en": "found “{found}”; expected an email address, for example {example}",
    },
    "duplicate-id": {
        "zh": "编号“{found}”与第 {other_row} 行重复;每行编号应唯一,请修改其中一行",
        "en": "ID “{found}” is also used in row {other_row}; IDs must be unique, "
        "change one of them",
    },
    "time-order": {
        "zh": "填写的是“{found}”,早于“{before_label}”({before});时间顺序不对,请核对",
        "en": "found “{found}”, earlier than “{before_label}” ({before}); "
        "the times are out of order, please check",
    },
    "in-future": {
        "zh": "填写的是“{found}”,晚于现在;已发生的时间不能在将来,请核对",
        "en": "found “{found}”, which is in the future; a time that has happened "
        "cannot be later than now, please check",
    },
    "expedite-needed": {
        "zh": "要求完成时间“{found}”早于标准时效(最早 {standard});请与后勤确认加急",
        "en": "required by “{found}”, earlier than the standard lead time "
        "(earliest {standard}); agree an expedite with logistics",
    },
    "provisional-due": {
        "zh": "截止时间按 {year} 年尚未公布的节假日安排推算,公布后可能调整",
        "en": "the due time assumes {year}'s holidays, which are not announced yet; "
        "it may change",
    },
    "no-sla": {
        "zh": "没有适用的时效规则;请在“时效规则”表中添加",
        "en": "no service level applies; add a rule in the SLA tab",
    },
    "missing-column": {
        "zh": "缺少“{expected}”列;运行 automation init 可补上表头",
        "en": "the column “{expected}” is missing; `automation init` adds the header",
    },
    "config-bad-value": {
        "zh": "填写的是“{found}”;应为{expected_zh},例如 {example}",
        "en": "found “{found}”; expected {expected_en}, for example {example}",
    },
    "config-missing-column": {
        "zh": "缺少“{expected_zh}”列;运行 automation init 可补上表头",
        "en": "the column “{expected_en}” is missing; "
        "`automation init` adds the header",
    },
    "unknown-column": {
        "zh": "表头“{found}”无法识别,此列已忽略",
        "en": "the header “{found}” is not known; the column is ignored",
    },
    "missing-tab": {
        "zh": "缺少工作表“{expected}”;运行 automation init 可创建",
        "en": "the tab “{expected}” is missing; `automation init` creates it",
    },
    "row-not-judged": {
        "zh": "这一行未能计算时效(服务内部出错),已保持原样;请告知管理员",
        "en": "this row could not be judged (a fault in the service) and was left "
        "as it is; please tell your admin",
    },
}

POSITION: dict[Language, str] = {
    "zh": "“{tab}”第 {row} 行“{column}”列:",
    "en": "{tab}, row {row}, column “{column}”: ",
}
POSITION_ROW: dict[Language, str] = {
    "zh": "“{tab}”第 {row} 行:",
    "en": "{tab}, row {row}: ",
}
POSITION_TAB: dict[Language, str] = {"zh": "“{tab}”:", "en": "{tab}: "}


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth knowing) about one cell, row or tab."""

    code: str
    table: str
    row: int | None = None
    field: str | None = None
    item_id: str | None = None
    params: Mapping[str, str] = dataclasses.field(default_factory=dict)
    severity: Severity = "error"

    def text(self, language: Language) -> str:
        """The message without its position, as the row's check column shows it."""
        template = MESSAGES[self.code][language]
        return template.format_map(_Defaults(self.params))

    def message(self, language: Language, layout: Layout) -> str:
        """The full message a person reads: tab, row, column, then what is wrong."""
        spec = layout.table(self.table)
        where = {"tab": spec.title(language), "row": str(self.row)}
        column = self.column_label(language, layout)
        if column:
            where["column"] = column
            position = POSITION[language]
        elif self.row is not None:
            position = POSITION_ROW[language]
        else:
            position = POSITION_TAB[language]
        return position.format_map(where) + self.text(language)

    def column_label(self, language: Language, layout: Layout) -> str:
        """The label of the problem's column, "" for a row or a tab."""
        if self.field is None:
            return ""
        return field_label(layout.table(self.table), self.field, language)


def field_label(spec: TableSpec, key: str | None, language: Language) -> str:
    """The column label of a field of `spec`, "" when there is none."""
    return spec.field(key).label(language) if key and spec.has_field(key) else ""


class _Defaults(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def by_row(problems: Iterable[Problem]) -> dict[tuple[str, int], list[Problem]]:
    """Group problems by (table, row) for the check columns."""
    grouped: dict[tuple[str, int], list[Problem]] = {}
    for problem in problems:
        if problem.row is not None:
            grouped.setdefault((problem.table, problem.row), []).append(problem)
    return grouped
