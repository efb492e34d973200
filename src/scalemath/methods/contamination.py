"""Which test sets a run is checked against (the public ones by name, as files, or as packaged
fingerprints) and the test-set check `scalemath train` and `scalemath rft` run on their data."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scalemath.methods.decontam_config import DecontamConfig, DecontamReport
from scalemath.methods.decontaminate import Decontaminator
from scalemath.methods.fingerprints import FINGERPRINTS, Fingerprints
from scalemath.records import Problem

# -- test sets -----------------------------------------------------------------------------------
#: Test sets named by the short names the CLI accepts, relative to a data folder.
KNOWN_TEST_SETS = {"gsm8k": "gsm8k/test.jsonl", "math": "math/test.jsonl", "math500": "math/math500_test.jsonl"}


def load_test_set(spec: str, data_dir: str | os.PathLike | None = None) -> tuple[str, list[Problem]]:
    """(source name, problems) of a test set given as a path (named by that path), or as
    gsm8k/math/math500 (looked up under `data_dir`, default $SCALEMATH_DATA or ../shared/data)."""
    from scalemath.datasets import load_problems

    path = Path(spec)
    if not path.exists() and spec in KNOWN_TEST_SETS:
        base = Path(data_dir or os.environ.get("SCALEMATH_DATA", "../shared/data"))
        path = base / KNOWN_TEST_SETS[spec]
        if not path.exists():
            raise FileNotFoundError(
                f"test set {spec!r} not found at {path}; pass a file path or set SCALEMATH_DATA to the data folder"
            )
        name = spec
    else:
        if not path.exists():
            raise FileNotFoundError(f"no test set file {spec}")
        name = spec
    return name, list(load_problems(path))


_FINGERPRINTS: Fingerprints | None = None


def packaged_fingerprints() -> Fingerprints:
    """The packaged fingerprints (loaded once per process)."""
    global _FINGERPRINTS
    if _FINGERPRINTS is None:
        _FINGERPRINTS = Fingerprints.load(FINGERPRINTS)
    return _FINGERPRINTS


# -- checking training data by default ------------------------------------------------------------


@dataclass
class TrainingDataCheck:
    """The test-set check `scalemath train` and `scalemath rft` run on their data by default.

    Args:
        enabled: run the check at all (off: nothing is checked or reported).
        known: check against the packaged fingerprints of GSM8K test, MATH test and MATH-500.
        test_sets: more test sets (files of any `load_problems` format), matched with all three
            tests like the known ones.
        own_test_sets: the run's own test split (files), matched on the exact normalized question
            only: a split made by the same generator shares templates with the training split by
            design (the procedural data), which the n-gram and near-duplicate tests would flag.
        allow_contamination: keep the records that match (they are still reported).
        config: the matching settings (`DecontamConfig`).
    """

    enabled: bool = True
    known: bool = True
    test_sets: tuple[str, ...] = ()
    own_test_sets: tuple[str, ...] = ()
    allow_contamination: bool = False
    config: DecontamConfig = field(default_factory=DecontamConfig)

    def __post_init__(self) -> None:
        self.test_sets = tuple(str(t) for t in self.test_sets)
        self.own_test_sets = tuple(str(t) for t in self.own_test_sets)

    def decontaminator(self) -> Decontaminator:
        decon = Decontaminator(self.config)
        if self.known:
            decon.add_fingerprints(packaged_fingerprints())
        for spec in self.test_sets:
            name, problems = load_test_set(spec)
            decon.add_problems(problems, name)
        for spec in self.own_test_sets:
            name, problems = load_test_set(spec)
            decon.add_problems(problems, name, exact_only=True)
        return decon


@dataclass
class CheckResult:
    """What the training-data check found: `keep[i]` says whether record i stays."""

    keep: list[bool]
    report: DecontamReport
    allowed: bool

    @property
    def flagged(self) -> int:
        """Records that match a test question (dropped unless contamination is allowed)."""
        return self.report.removed

    def summary(self, max_items: int = 50) -> dict[str, Any]:
        """JSON-ready summary for train_meta.json / RFT stats."""
        r = self.report
        return {
            "checked": r.checked,
            "flagged": r.removed,
            "dropped": 0 if self.allowed else r.removed,
            "allow_contamination": self.allowed,
            "by_test_source": dict(r.by_test_source),
            "by_reason": dict(r.by_reason),
            "references": dict(r.references),
            "items": r.removed_items[:max_items],
        }

    def message(self) -> str:
        """One line for a person."""
        r = self.report
        if not r.removed:
            refs = ", ".join(f"{k} {v}" for k, v in r.references.items())
            return f"test-set check: {r.checked} records, none matches a test question ({refs})"
        what = "kept (--allow-contamination)" if self.allowed else "dropped"
        first = r.removed_items[0]
        return (
            f"test-set check: {r.removed} of {r.checked} records match test questions "
            f"({dict(r.by_test_source)}; {dict(r.by_reason)}), {what}; e.g. {first['id']} ~ "
            f"{first['test_source']} {first['test_id']}"
        )


def check_training_records(
    records: list[dict[str, Any]], check: TrainingDataCheck | None = None, decon: Decontaminator | None = None
) -> CheckResult:
    """Check training records (dicts with question / solution / completion) against the test
    sets of `check`; the report lists every match. Records are kept unless they match and
    contamination is not allowed."""
    check = check or TrainingDataCheck()
    report = DecontamReport()
    if not check.enabled:
        return CheckResult([True] * len(records), report, check.allow_contamination)
    decon = decon or check.decontaminator()
    report.references = dict(decon.references)
    report.config = asdict(decon.config)
    found = decon.check_records(records)
    keep = []
    for rec, f in zip(records, found):
        report.checked += 1
        keep.append(f is None or check.allow_contamination)
        if f is not None:
            report.add_removed(rec, f)
    return CheckResult(keep, report, check.allow_contamination)


def build_decontaminator(
    against: Iterable[str], config: DecontamConfig | None = None, data_dir: str | os.PathLike | None = None
) -> Decontaminator:
    """A Decontaminator indexing every test set in `against` (paths, or gsm8k/math/math500)."""
    decon = Decontaminator(config)
    for spec in against:
        name, problems = load_test_set(spec, data_dir)
        decon.add_problems(problems, name)
    return decon


__all__ = [
    "KNOWN_TEST_SETS",
    "CheckResult",
    "TrainingDataCheck",
    "build_decontaminator",
    "check_training_records",
    "load_test_set",
    "packaged_fingerprints",
]
