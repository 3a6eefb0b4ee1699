"""Where the spreadsheet lives: a local `.xlsx` workbook, or a Google spreadsheet.

Every backend follows `Backend` in `automation.backends.base`; the engine never
imports a concrete one.
"""

from automation.backends.base import NO_LISTS, Backend, InitReport
from automation.backends.workbook import WorkbookBackend

__all__ = ["NO_LISTS", "Backend", "InitReport", "WorkbookBackend"]
