"""The rich progress bar of the sampling and evaluation commands (or nothing when disabled)."""

from __future__ import annotations

import time
from typing import Any


class ProgressBar:
    """`label [bar] done/total unit [note] rate elapsed ETA` while it runs (transient), then one
    line `label: done unit in Ns (rate/s)`; `set(done, note)` updates it."""

    def __init__(self, enabled: bool, label: str, total: int | None, unit: str):
        self.enabled, self.label, self.total, self.unit = enabled, label, total, unit
        self.bar: Any = None
        self.task: Any = None
        self.console: Any = None
        self.done = 0
        self.t0 = 0.0

    def __enter__(self) -> ProgressBar:
        self.t0 = time.monotonic()
        if self.enabled:
            from rich.console import Console

            self.console = Console(stderr=True)
        if self.console is not None and self.console.is_terminal:  # a log file gets the line at the end
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn(self.label),
                BarColumn(bar_width=24),
                MofNCompleteColumn(),
                TextColumn(self.unit),
                TextColumn("{task.fields[note]}"),
                _rate_column(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self.bar.__enter__()
            self.task = self.bar.add_task(self.label, total=self.total, note="")
        return self

    def advance(self, n: int) -> None:
        self.set(self.done + n)

    def set(self, done: int, note: str | None = None) -> None:
        self.done = done
        if self.bar is not None:
            self.bar.update(self.task, completed=done, **({} if note is None else {"note": note}))

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
        if self.console is not None and exc[0] is None:
            dt = time.monotonic() - self.t0
            self.console.print(
                f"{self.label}: {self.done} {self.unit} in {dt:.0f}s ({self.done / max(dt, 1e-9):,.1f}/s)",
                highlight=False,
                markup=False,
            )


def _rate_column():
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task):
            return Text(f"{task.speed:,.1f}/s" if task.speed else "")

    return Rate()
