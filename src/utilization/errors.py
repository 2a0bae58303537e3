"""Errors the command line turns into one clear message instead of a traceback."""


class InputError(Exception):
    """The input cannot be used at all (missing file, table or column, unreadable file)."""


class UsageError(InputError):
    """The request itself is wrong (a view without its client, an unknown view): exit code 2."""
