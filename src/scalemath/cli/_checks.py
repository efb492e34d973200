"""Option checks shared by commands (not a command module: `_` names are skipped). Each raises
typer.BadParameter naming the option (exit 2), at parse time, before any model or file loads."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import typer


@contextlib.contextmanager
def as_bad_parameter(*kinds: type[Exception]) -> Iterator[None]:
    """An exception of `kinds` (default: ValueError, a config's own range checks) raised inside, as
    typer.BadParameter with its message."""
    caught = kinds or (ValueError,)
    try:
        yield
    except caught as e:
        raise typer.BadParameter(str(e)) from None


def dataset(value: str) -> str:
    """--dataset: one of the answer conventions the grader knows."""
    from scalemath.answers.grader import DATASETS

    if value not in DATASETS:
        raise typer.BadParameter(f"unknown dataset {value!r}; one of: {', '.join(DATASETS)}")
    return value


def generation(template: str | None, **params) -> None:
    """A prompt template (loaded and placeholder-checked; None: the default, checked when the
    command's PromptFormat renders) and the sampling settings (SamplingParams' ranges), checked
    before a model loads."""
    from scalemath.prompts import check
    from scalemath.sampling.engine import SamplingParams

    if template is not None:
        check(template)
    SamplingParams(**params)


def coverage(value: float) -> float:
    """--ci: an interval coverage in (0, 1)."""
    import math

    if not (math.isfinite(value) and 0 < value < 1):
        raise typer.BadParameter(f"must be a coverage in (0, 1) such as 0.95, got {value}")
    return value


BOOTSTRAP_MAX = 100_000
"""Most bootstrap replicates (each keeps a row of figures: 1e8 would take gigabytes)."""


def replicates(value: int) -> int:
    """--bootstrap: 0 (none) to BOOTSTRAP_MAX."""
    if not 0 <= value <= BOOTSTRAP_MAX:
        raise typer.BadParameter(f"must be in [0, {BOOTSTRAP_MAX:,}], got {value:,}")
    return value


def bootstrap_option(default: int, help: str) -> Any:
    """The --bootstrap option (replicates, checked by `replicates`) with a command's default and help."""
    return typer.Option(default, "--bootstrap", callback=replicates, help=help)


def ci_option(help: str = "Interval coverage.") -> Any:
    """The --ci option (interval coverage, checked by `coverage`), with a command's help."""
    return typer.Option(0.95, "--ci", callback=coverage, help=help)


def workers(value: int) -> int:
    """--workers: 0 (one per core) to 1024."""
    if not 0 <= value <= 1024:
        raise typer.BadParameter(f"must be in [0, 1024] (0: one per core), got {value}")
    return value


def positive(value: int) -> int:
    if value < 1:
        raise typer.BadParameter(f"must be >= 1, got {value}")
    return value


def finite(value: float | None) -> float | None:
    import math

    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number, got {value}")
    return value
