"""The `scalemath` command: one thin subcommand per stage.

Every module of this package that defines `register(app)` adds its command(s); they are listed in
pipeline order (ORDER), then any others alphabetically. Modules import heavy libraries (torch,
transformers) inside their command functions so `scalemath --help` stays fast.
"""
from __future__ import annotations

import importlib
import pkgutil

import typer

app = typer.Typer(help="Scale math fine-tuning data and measure what each piece buys.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)

# datasets → sampling → answers → methods → training → metrics → scaling/report
ORDER = ["demo", "data", "tiny", "train", "sample", "serve", "grade", "audit", "rft", "augment",
         "decontaminate", "evaluate", "metrics", "judge", "fit", "report", "experiment"]


def _command_modules() -> list[str]:
    found = {m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


COMMANDS = _command_modules()
for _name in COMMANDS:
    _mod = importlib.import_module(f"scalemath.cli.{_name}")
    if hasattr(_mod, "register"):
        _mod.register(app)


def main() -> None:
    app()
