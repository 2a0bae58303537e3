"""Every error the product shows a user, in one place.

The command line turns each into one clear message and an exit code, never a traceback::

    UtilizationError                 base of them all (exit code 1)
    ├── InputError                   the data or the request cannot be used (exit code 1)
    │   ├── UsageError               the command line or parameters are wrong (exit code 2)
    │   ├── RemittanceError          an X12 835 file cannot be read (names file and segment)
    │   └── ReportError              a report could not be made (names the view and why)
    ├── EnvironmentFault             the machine refused: a folder not readable or writable,
    │                                a disk full, a lock held by another run (exit code 1)
    └── MissingExtraError            an optional part is not installed; says which extra
                                     (`pip install 'utilization[pdf]'`) (exit code 1)

Errors that are the code's own fault (a broken invariant) stay Python's own exceptions
(AssertionError, ValueError from a function given arguments outside its contract).
"""

from __future__ import annotations


class UtilizationError(Exception):
    """Base of every error shown to a user as one message."""

    exit_code = 1


class InputError(UtilizationError):
    """The input cannot be used at all (missing file, table or column, unreadable file)."""


class UsageError(InputError):
    """The request itself is wrong (a view without its client, an unknown view): exit code 2."""

    exit_code = 2


class RemittanceError(InputError):
    """An 835 file cannot be read; the message names the file, the segment and the fault."""

    def __init__(self, file: str, segment: int | None, reason: str, text: str = "") -> None:
        self.file = file
        self.segment = segment
        self.reason = reason
        where = f"segment {segment} ({text}): " if text else f"segment {segment}: "
        super().__init__(f"{file}: {where if segment else ''}{reason}")


class ReportError(InputError):
    """A report could not be made; the message says which and why."""


class EnvironmentFault(UtilizationError):
    """The file system or the machine refused (permissions, disk full, a lock held)."""


class MissingExtraError(UtilizationError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, extra: str, module: str, purpose: str) -> None:
        self.extra = extra
        self.module = module
        super().__init__(
            f"{purpose} needs the optional package {module!r}, which is not installed; "
            f"install it with: pip install 'utilization[{extra}]'"
        )


def require(module: str, extra: str, purpose: str) -> None:
    """Raise MissingExtraError unless `module` can be imported (checked without importing it)."""
    from importlib.util import find_spec

    try:
        found = find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MissingExtraError(extra, module, purpose)
