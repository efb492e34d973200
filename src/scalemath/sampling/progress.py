"""The rich progress bar of the sampling commands (or nothing when disabled)."""

from __future__ import annotations


class ProgressBar:
    """`label [bar] done/total unit [note] elapsed`; `set(done, note)` updates it."""

    def __init__(self, enabled: bool, label: str, total: int | None, unit: str):
        self.enabled, self.label, self.total, self.unit = enabled, label, total, unit
        self.bar = self.task = None
        self.done = 0

    def __enter__(self) -> ProgressBar:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn(self.label),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(self.unit),
                TextColumn("{task.fields[note]}"),
                TimeElapsedColumn(),
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
