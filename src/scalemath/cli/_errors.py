"""The CLI's handling of a library error inside one command (not a command module: `_` names are skipped)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import typer

from scalemath.records import UserError


@contextlib.contextmanager
def command_errors(console: Any, *kinds: type[BaseException], highlight: bool | None = None) -> Iterator[None]:
    """Inside a command: a `UserError` goes on to the CLI's error path (`error: FILE:LINE: ...`);
    any of `kinds` (default: FileNotFoundError, ValueError) is a config problem, printed as
    `error: message` on `console`, exit status 2, no traceback."""
    handled = kinds or (FileNotFoundError, ValueError)
    try:
        yield
    except UserError:
        raise
    except handled as e:
        console.print(f"[red]error:[/red] {e}", highlight=highlight)
        raise typer.Exit(2) from None
