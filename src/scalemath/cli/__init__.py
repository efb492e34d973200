"""The `scalemath` command: one thin subcommand per stage.

Each module in COMMANDS defines `register(app)`; modules import heavy libraries (torch, transformers)
inside their command functions so `scalemath --help` stays fast.
"""
from __future__ import annotations

import importlib

import typer

app = typer.Typer(help="Scale math fine-tuning data and measure what each piece buys.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)

COMMANDS = ["data", "grade", "audit", "augment", "decontaminate"]

for _name in COMMANDS:
    importlib.import_module(f"scalemath.cli.{_name}").register(app)


def main() -> None:
    app()
