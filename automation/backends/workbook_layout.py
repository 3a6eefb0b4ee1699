"""Laying a workbook out: tabs, headers, default rows, drop-downs and flag colours.

`lay_out` brings a loaded openpyxl workbook up to a layout and only ever adds: a
missing tab (with its header row frozen), a missing header cell (bold, with a width
that fits), the default rows of an empty configuration tab, drop-down lists and the
colours of the flag column. Loading and saving the file is `WorkbookBackend`'s part.

Known limits: a drop-down is a literal list, so a list holding a comma, or longer
than Excel's 255 characters once joined, gets no drop-down (a log line says so).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

from openpyxl import Workbook
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from automation.backends.base import InitReport
from automation.backends.cells import (
    bind_header,
    find_sheet,
    last_used_row,
    put_value,
)
from automation.configload import list_name
from automation.flags import Flag, flag_formula
from automation.layout import FieldSpec, Language, Layout, TableSpec
from automation.model import CellValue

logger = logging.getLogger(__name__)

LAST_ROW = 1_048_576
MAX_LIST_TEXT = 255  # Excel refuses a longer literal list in a data validation

RED = ("FFC7CE", "9C0006")  # Excel's own "light red fill, dark red text"
AMBER = ("FFEB9C", "9C5700")
PICK_FROM_LIST: dict[Language, tuple[str, str]] = {
    "zh": ("请选择", "请从下拉列表中选择一个值。"),
    "en": ("Pick a value", "Please pick a value from the list."),
}

# Columns whose content is longer than their label: free text and messages.
WIDE = {"content": 32, "progress": 28, "issue": 32, "comment": 32, "check": 48}
WIDE.update({"message": 70, "customer": 18, "note": 40, "value": 40, "subject": 48})


def lay_out(
    book: Workbook,
    layout: Layout,
    defaults: Mapping[str, list[dict[str, object]]],
    language: Language,
    lists: Mapping[str, Sequence[str]],
) -> InitReport:
    """Add to `book` what `layout` needs and it lacks; report what was added."""
    builder = _Initializer(book, language, lists)
    for spec in layout.tables:
        builder.lay_out(spec, defaults.get(spec.key, []))
    return builder.report()


@dataclass
class _Initializer:
    """Brings a loaded workbook up to a layout, adding only what is missing."""

    book: Workbook
    language: Language
    lists: Mapping[str, Sequence[str]]
    created: list[str] = field(default_factory=list)
    columns_added: int = 0
    rows_added: int = 0
    formats_added: int = 0

    def report(self) -> InitReport:
        return InitReport(
            tabs_created=tuple(self.created),
            columns_added=self.columns_added,
            rows_added=self.rows_added,
            formats_added=self.formats_added,
        )

    def lay_out(self, spec: TableSpec, defaults: list[dict[str, object]]) -> None:
        sheet = find_sheet(self.book, spec)
        if sheet is None:
            sheet = self.book.create_sheet(spec.title(self.language))
            sheet.freeze_panes = "A2"
            self.created.append(spec.key)

        columns = self._add_headers(spec, sheet)
        if spec.kind == "config" and defaults and last_used_row(sheet) <= 1:
            self._add_defaults(spec, sheet, columns, defaults)
        for key, column in columns.items():
            self._add_drop_down(spec.field(key), sheet, column)
        if "flag" in columns:
            self._add_flag_colours(sheet, columns["flag"])

    def _add_headers(self, spec: TableSpec, sheet: Worksheet) -> dict[str, int]:
        bound = bind_header(spec, sheet)
        columns = dict(bound.columns)
        width = len(bound.grid.header)
        for missing in bound.missing:
            cell = sheet.cell(1, width + 1)
            put_value(cell, missing.label(self.language))
            cell.font = Font(bold=True)
            letter = get_column_letter(width + 1)
            sheet.column_dimensions[letter].width = _width(missing, self.language)
            columns[missing.key] = width
            width += 1
            self.columns_added += 1
        return columns

    def _add_defaults(
        self,
        spec: TableSpec,
        sheet: Worksheet,
        columns: Mapping[str, int],
        defaults: list[dict[str, object]],
    ) -> None:
        for number, row in enumerate(defaults, start=2):
            for key, value in row.items():
                if key not in columns:
                    logger.warning("default for %s.%s has no column", spec.key, key)
                    continue
                put_value(sheet.cell(number, columns[key] + 1), _default_value(value))
            self.rows_added += 1

    def _add_drop_down(self, spec: FieldSpec, sheet: Worksheet, column: int) -> None:
        name = list_name(spec)
        values = list(self.lists.get(name or "", ()))
        if not values:
            return
        if any("," in value for value in values):
            logger.warning("list %s holds a comma: no drop-down for it", name)
            return
        joined = ",".join(value.replace('"', '""') for value in values)
        if len(joined) > MAX_LIST_TEXT:
            logger.info("list %s is too long for a drop-down", name)
            return

        letter = get_column_letter(column + 1)
        area, formula = f"{letter}2:{letter}{LAST_ROW}", f'"{joined}"'
        for existing in sheet.data_validations.dataValidation:
            if str(existing.sqref) == area:
                if existing.formula1 != formula:
                    existing.formula1 = formula
                    self.formats_added += 1
                return
        title, message = PICK_FROM_LIST[self.language]
        rule = DataValidation(
            type="list",
            formula1=formula,
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="warning",
            errorTitle=title,
            error=message,
        )
        rule.add(area)
        sheet.add_data_validation(rule)
        self.formats_added += 1

    def _add_flag_colours(self, sheet: Worksheet, column: int) -> None:
        letter = get_column_letter(column + 1)
        area = f"{letter}2:{letter}{LAST_ROW}"
        present = {
            formula
            for colouring in sheet.conditional_formatting
            for rule in colouring.rules
            for formula in rule.formula or ()
        }
        for flag, (fill, text) in ((Flag.OVERDUE, RED), (Flag.AT_RISK, AMBER)):
            formula = flag_formula(letter, flag)
            if formula in present:
                continue
            rule = FormulaRule(
                formula=[formula],
                fill=PatternFill(start_color=fill, end_color=fill, fill_type="solid"),
                font=Font(color=text),
            )
            sheet.conditional_formatting.add(area, rule)
            self.formats_added += 1


def _default_value(value: object) -> CellValue:
    if value is None or isinstance(
        value, str | int | float | bool | datetime | date | time
    ):
        return value
    return str(value)


def _width(spec: FieldSpec, language: Language) -> float:
    """A column width that fits the label and what the column usually holds."""
    label = spec.label(language)
    shown = sum(2 if ord(char) > 0x2E80 else 1 for char in label) + 4
    least = {"datetime": 18, "date": 12, "person": 14, "choice": 14}.get(spec.type, 10)
    return float(min(max(shown, least, WIDE.get(spec.key, 0)), 70))
