"""Run named stages once: a stage whose outputs exist with a matching config fingerprint is skipped.

A finished stage leaves `<run_dir>/.done/<name>.json` holding its config fingerprint, timing and
summary; the marker is written only after the stage's outputs are complete, so a killed run
re-runs exactly the unfinished stages.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalemath.records import text_hash


@dataclass
class StageResult:
    name: str
    skipped: bool
    seconds: float
    summary: dict[str, Any]
    cpu_seconds: float = 0.0  # user + sys of this process and its waited-for children during the stage


def cpu_time() -> float:
    """user + sys seconds of this process and its waited-for children so far (all threads)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def fingerprint(config: Any) -> str:
    return text_hash(json.dumps(config, sort_keys=True, default=str))


def is_done(run_dir: Path, name: str, config: Any) -> bool:
    """Did stage `name` finish with this config (so `run_stage` would skip it)?"""
    marker = Path(run_dir) / ".done" / f"{name}.json"
    if not marker.exists():
        return False
    return json.loads(marker.read_text()).get("fingerprint") == fingerprint(config)


def run_stage(
    run_dir: Path, name: str, config: Any, fn: Callable[[], dict[str, Any] | None], log: Callable[[str], None] = print
) -> StageResult:
    """Run fn() unless stage `name` already finished with the same config; returns its summary."""
    marker = Path(run_dir) / ".done" / f"{name}.json"
    fp = fingerprint(config)
    sha = _code_version()
    if marker.exists():
        done = json.loads(marker.read_text())
        if done.get("fingerprint") == fp:
            made = done.get("code")
            note = (
                f"; made by scalemath {made[:10]}, this is {sha[:10]}: code changes since then are not in "
                "its outputs (delete the run directory to redo it)"
                if made and sha and made != sha
                else ""
            )
            log(f"[skip] {name} (done in {done['seconds']:.0f}s{note})")
            return StageResult(name, True, done["seconds"], done.get("summary", {}), done.get("cpu_seconds", 0.0))
    log(f"[run ] {name}")
    t0, c0 = time.perf_counter(), cpu_time()
    summary = fn() or {}
    seconds, cpu = time.perf_counter() - t0, cpu_time() - c0
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(
        json.dumps(
            {
                "fingerprint": fp,
                "config": config,
                "seconds": seconds,
                "cpu_seconds": round(cpu, 2),
                "code": sha,
                "summary": summary,
            },
            indent=2,
            default=str,
        )
    )
    tmp.replace(marker)
    log(f"[done] {name} in {seconds:.0f}s")
    return StageResult(name, False, seconds, summary, round(cpu, 2))


_SHA: list[str] = []


def _code_version() -> str:
    """git sha of the scalemath checkout (+"-dirty" with uncommitted changes), "" outside git; once
    per process. Recorded in each stage marker, so a stage reused after the code changed says so."""
    if not _SHA:
        from scalemath.experiments.provenance import git_info

        g = git_info()
        _SHA.append("" if not g else g["sha"] + ("-dirty" if g["dirty"] else ""))
    return _SHA[0]
