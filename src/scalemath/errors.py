"""The errors a person sees: what is wrong, where and what to do, printed by the CLI without a
traceback (`UserError`, exit 1; `InputError` and `RecordError`, exit 2). The bottom of the package:
it imports nothing of scalemath."""

from __future__ import annotations

import os

__all__ = ["InputError", "RecordError", "UserError"]


class UserError(Exception):
    """An error whose message says everything a person needs (what is wrong, where, what to do);
    the CLI prints it without a traceback and exits with `exit_code`."""

    exit_code = 1


class InputError(UserError, ValueError):
    """Input that cannot be used: a malformed file, a bad config value (CLI exit status 2)."""

    exit_code = 2


class RecordError(InputError):
    """A record file that cannot be read: names the file and line (`FILE:LINE: what is wrong`;
    `FILE: what is wrong` for the file as a whole, line None or 0)."""

    def __init__(self, path: str | os.PathLike, line: int | None, message: str):
        self.path, self.line, self.message = str(path), line, message
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")

    def __reduce__(self):  # crosses process boundaries (worker pools) intact
        return (type(self), (self.path, self.line, self.message))
