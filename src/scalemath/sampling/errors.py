"""A breakdown of failed requests by kind, for run summaries and stats.

An engine that records a failed request as completions with finish_reason "error" puts in their
`meta` the full message ("error"), the HTTP status ("status", None for transport errors) and a
short label ("kind") under which like errors are counted together, e.g. `HTTP 400 "temperature
must be between 0 and 2, got 3"` or `malformed reply: choices is not a list`. `ErrorTally`
counts labels and prints them as one line:

    3 errors: 2× HTTP 400 "temperature must be…", 1× malformed reply: choices is not a list
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LABEL_CHARS = 80  # a message longer than this is cut (with "…") in its label


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def error_label(status: int | None, message: str) -> str:
    """The label a failed request is counted under: `HTTP 400 "message"` for an HTTP error
    status, the message itself otherwise (malformed replies, timeouts, connection errors)."""
    if status is not None and status != 200:
        return f'HTTP {status} "{shorten(message)}"'
    return shorten(message)


def completion_label(meta: dict[str, Any]) -> str:
    """The label of an error completion from its meta ("kind", else built from status/error)."""
    kind = meta.get("kind")
    if isinstance(kind, str) and kind:
        return kind
    return error_label(meta.get("status"), str(meta.get("error") or "unknown error"))


@dataclass
class ErrorTally:
    """Counts of errors by label (see the module doc)."""

    counts: dict[str, int] = field(default_factory=dict)  # label -> how many

    def add(self, label: str, k: int = 1) -> None:
        self.counts[label] = self.counts.get(label, 0) + k

    def add_meta(self, meta: dict[str, Any]) -> None:
        """Count one error completion by its meta."""
        self.add(completion_label(meta))

    def merge(self, other: ErrorTally) -> None:
        for label, k in other.counts.items():
            self.add(label, k)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def most_common(self) -> list[tuple[str, int]]:
        return sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))

    def summary(self, limit: int = 8) -> str:
        """One line: `N errors: a× label, b× label, …` (the `limit` most common), or "no errors"."""
        if not self.counts:
            return "no errors"
        items = self.most_common()
        parts = [f"{k}× {label}" for label, k in items[:limit]]
        if len(items) > limit:
            parts.append(f"{sum(k for _, k in items[limit:])}× other ({len(items) - limit} kinds)")
        n = self.total
        return f"{n} error{'s' if n != 1 else ''}: " + ", ".join(parts)

    def as_dict(self) -> dict[str, int]:
        """label -> count, most common first (what stats and reports keep)."""
        return dict(self.most_common())


__all__ = ["ErrorTally", "completion_label", "error_label", "shorten"]
