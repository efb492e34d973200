"""The `scalemath` command: one thin subcommand per stage.

Every module of this package that defines `register(app)` adds its command(s); they are listed in
pipeline order (ORDER), then any others alphabetically. Modules import heavy libraries (torch,
transformers) inside their command functions so `scalemath --help` stays fast.

One error path for every command (`_Group.invoke`): an error a person can fix — the library's
`records.UserError` family (`RecordError`: `FILE:LINE: what is wrong`), a missing or unreadable
file — is printed as `error: MESSAGE` on stderr with exit status 2 (bad input) or 1, and no
traceback; any other exception is a bug: one line naming it, exit status 1. `--debug` (or
SCALEMATH_DEBUG=1) shows the full traceback instead. The global options `--max-line-bytes` and
`--allow-empty` set the limits every reader enforces (`records.ReadLimits`).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import signal
import sys
from typing import Any

import typer
from typer.core import TyperGroup

ENV_DEBUG = "SCALEMATH_DEBUG"


def _debug(ctx: Any) -> bool:
    if os.environ.get(ENV_DEBUG, "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    root = ctx.find_root() if ctx is not None else None
    return bool(root is not None and root.meta.get("scalemath.debug"))


def failure(exc: BaseException) -> tuple[str, int]:
    """(message, exit status) for an exception that ends a command."""
    from scalemath.records import UserError

    if isinstance(exc, UserError):
        return str(exc), exc.exit_code
    if isinstance(exc, UnicodeDecodeError):  # a reader that does not name the file (a bug to fix)
        return f"input is not valid UTF-8 ({exc})", 2
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)):
        name = exc.filename if exc.filename is not None else ""
        return (f"{name}: {exc.strerror}" if name and exc.strerror else str(exc)), 2
    if isinstance(exc, MemoryError):
        return "out of memory", 1
    if isinstance(exc, OSError) and exc.strerror:
        return (f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror), 1
    text = " ".join(str(exc).split())
    return (
        f"internal error: {type(exc).__name__}: {text[:500]} (this is a bug in scalemath or a "
        f"library it calls; rerun with --debug or {ENV_DEBUG}=1 for the traceback)"
    ), 1


class _Group(TyperGroup):
    """The root command group: runs a command and turns its errors into one line."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            from typer._click.exceptions import ClickException  # usage errors: Typer reports them

            if isinstance(exc, ClickException) or _debug(ctx):
                raise
            message, code = failure(exc)
            sys.stdout.flush()
            print(f"error: {message}", file=sys.stderr, flush=True)
            raise typer.Exit(code) from None


app = typer.Typer(
    help="Scale math fine-tuning data and measure what each piece buys.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    # plain click help: it wraps every column at any width (the rich panels cut option names and
    # defaults mid-word at 80 columns: `[default: change_numbers,fr…`)
    rich_markup_mode=None,
    cls=_Group,
)


@app.callback()
def _options(
    ctx: typer.Context,
    debug: bool = typer.Option(
        False, "--debug", envvar=ENV_DEBUG, help="Show the full traceback of an error (env SCALEMATH_DEBUG=1)."
    ),
    max_line_bytes: str | None = typer.Option(
        None,
        "--max-line-bytes",
        envvar="SCALEMATH_MAX_LINE_BYTES",
        help="Longest input line any reader accepts, e.g. 4M (default 4 MiB); a longer line is an "
        "error before it is parsed.",
    ),
    allow_empty: bool = typer.Option(
        False,
        "--allow-empty",
        envvar="SCALEMATH_ALLOW_EMPTY",
        help="Accept input files with no records (default: an error).",
    ),
) -> None:
    """Scale math fine-tuning data and measure what each piece buys."""
    from scalemath.records import parse_size, set_read_limits

    ctx.meta["scalemath.debug"] = debug
    size = None
    if max_line_bytes:
        try:
            size = parse_size(max_line_bytes)
        except ValueError:
            raise typer.BadParameter(
                f"expected a byte count such as 4194304, 4M or 512K, got {max_line_bytes!r}",
                param_hint="--max-line-bytes (or SCALEMATH_MAX_LINE_BYTES)",
            ) from None
    set_read_limits(max_line_bytes=size, allow_empty=allow_empty)


# datasets → sampling → answers → methods → training → metrics → scaling/report
ORDER = [
    "demo",
    "data",
    "tiny",
    "train",
    "sample",
    "serve",
    "grade",
    "audit",
    "rft",
    "augment",
    "decontaminate",
    "evaluate",
    "metrics",
    "judge",
    "fit",
    "report",
    "experiment",
]


def _command_modules() -> list[str]:
    found = {m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


COMMANDS = _command_modules()
for _name in COMMANDS:
    _mod = importlib.import_module(f"scalemath.cli.{_name}")
    if hasattr(_mod, "register"):
        _mod.register(app)


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds: `finally` blocks remove temp files


def main() -> None:
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _terminate)
    app()
