"""What a paired comparison is told (`PairedConfig`), apart from `metrics.paired` so that reading it
(`scalemath compare` takes its options' help from these fields) loads no numpy."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PairedConfig"]


@dataclass
class PairedConfig:
    """Settings of `compare`."""

    k: int | None = field(
        default=None,
        metadata={
            "help": "Samples per question for maj@k, Pass@k and PassRatio@k (None: the largest k both "
            "evaluations have for every question)."
        },
    )
    bootstrap: int = field(
        default=10000, metadata={"help": "Paired bootstrap replicates over questions (0: no intervals)."}
    )
    ci: float = field(default=0.95, metadata={"help": "Coverage of the intervals."})
    seed: int = field(default=0, metadata={"help": "Seed of the bootstrap draws."})
    on_mismatch: str = field(
        default="error",
        metadata={
            "help": "Evaluations of different question sets: 'error' (refuse) or 'intersect' (compare "
            "on the shared questions and say so in the result's note)."
        },
    )
    dataset: str = field(default="gsm8k", metadata={"help": "Answer conventions for normalizing votes (maj@k)."})

    def __post_init__(self) -> None:
        if self.on_mismatch not in ("error", "intersect"):
            raise ValueError(f"on_mismatch must be 'error' or 'intersect', got {self.on_mismatch!r}")
        if not 0 < self.ci < 1:
            raise ValueError(f"ci must be in (0, 1), got {self.ci}")
        if self.bootstrap < 0:
            raise ValueError("bootstrap must be >= 0")
        if self.k is not None and self.k < 1:
            raise ValueError("k must be >= 1")
