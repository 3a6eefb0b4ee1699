"""The program's own failures, as one tree.

    AutomationError
    ├── ConfigurationError     the configuration tabs or settings cannot be used
    ├── LayoutError            a tab or a required column is missing
    ├── BackendError           the workbook or spreadsheet could not be read or written
    │   └── ConflictError      someone changed the file between read and write
    ├── StateError             the state database could not be used
    └── MailError              a message could not be composed or handed over

Bad cells are not exceptions: they are `automation.problems.Problem` values collected
in a report. Each message here says what happened and what to do next.
"""

from __future__ import annotations


class AutomationError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigurationError(AutomationError):
    """The configuration cannot be used; the last good one stays in force."""


class LayoutError(AutomationError):
    """A tab or a required column is missing; `automation init` adds it."""


class BackendError(AutomationError):
    """The workbook or spreadsheet could not be read or written."""


class ConflictError(BackendError):
    """The data changed between read and write; the next cycle retries."""


class StateError(AutomationError):
    """The state database could not be opened or written."""


class MailError(AutomationError):
    """A message could not be composed or handed to its transport."""
