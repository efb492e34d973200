"""The errors meant for a person (the lowest module: everything may import it; `records`
re-exports both, so `from scalemath.records import UserError` keeps working)."""

from __future__ import annotations


class UserError(Exception):
    """An error whose message says everything a person needs (what is wrong, where, what to do);
    the CLI prints it without a traceback and exits with `exit_code`."""

    exit_code = 1


class InputError(UserError, ValueError):
    """Input that cannot be used: a malformed file, a bad config value (CLI exit status 2)."""

    exit_code = 2
