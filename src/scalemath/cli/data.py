"""`scalemath data ...`: placeholder replaced by the datasets work."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(help="Build and convert problem sets.", no_args_is_help=True)
    app.add_typer(data_app, name="data")
