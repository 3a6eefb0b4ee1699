"""Logistics and sales working agreement, kept on a shared spreadsheet.

The package reads the spreadsheet, checks every row, computes deadlines from the
service levels, writes the computed columns and KPI tabs back, and tells people what
needs their attention. `automation.engine` is the pure middle; `automation.backends`
and `automation.mail` are the edges; `automation.service` and `automation.cli` sit on
top.
"""

__version__ = "0.1.0"
