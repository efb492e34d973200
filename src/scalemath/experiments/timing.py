"""Wall and CPU seconds of a run's stages, its peak memory and an idle-machine estimate (summary.json's
`timing`), kept across re-runs: a stage skipped now keeps the seconds an earlier run spent on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scalemath.experiments.stages import StageResult
from scalemath.threads import available_cpus


def run_timing(groups: list[list[StageResult]], wall: float, cpu: float, workers: int) -> dict[str, Any]:
    """Wall and CPU seconds per stage, peak memory, and an estimate of the wall time on idle cores:
    each group of side-by-side stages as max(its longest stage's CPU seconds, its CPU seconds /
    the cores it may use), plus the CPU seconds of this process outside the stages. An estimate: it
    assumes every CPU second would run at full speed on an idle core."""
    import resource

    cores = min(workers, available_cpus())
    stages, est, in_stages = [], 0.0, 0.0
    for g in groups:
        for s in g:
            stages.append(
                {"stage": s.name, "seconds": round(s.seconds, 1), "cpu_seconds": s.cpu_seconds, "skipped": s.skipped}
            )
        done = [s.cpu_seconds for s in g if not s.skipped]
        if done:
            est += max(max(done), sum(done) / (cores if len(done) > 1 else 1))
        in_stages += sum(s.cpu_seconds for s in g if not s.skipped and len(g) == 1)
    own = max(cpu - sum(sum(s.cpu_seconds for s in g if not s.skipped) for g in groups if len(g) > 1) - in_stages, 0.0)
    return {
        "stages": stages,
        "total_seconds": round(wall, 1),
        "total_cpu_seconds": round(cpu, 1),
        "idle_estimate_seconds": round(est + own, 1),
        "cores": cores,
        "workers": workers,
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "peak_rss_worker_gb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20, 2),
    }


def earlier_timing(path: Path) -> dict[str, Any] | None:
    """The timing an earlier run wrote to its summary file (`path`), if any."""
    try:
        timing = json.loads(path.read_text()).get("timing")
    except (OSError, ValueError, AttributeError):
        return None
    return timing if isinstance(timing, dict) else None


def merge_timing(now: dict[str, Any], earlier: dict[str, Any] | None) -> dict[str, Any]:
    """This run's timing, keeping what the work cost when an earlier run did it: a run that skipped
    every stage keeps the earlier timing whole (its own wall time as `rerun_seconds`); a resumed run
    gives each stage it skipped the earlier run's seconds, marked `earlier_run`."""
    if not earlier or not isinstance(earlier.get("stages"), list):
        return now
    if now["stages"] and all(s["skipped"] for s in now["stages"]):
        return {**earlier, "rerun_seconds": now["total_seconds"]}
    before = {s.get("stage"): s for s in earlier["stages"] if isinstance(s, dict)}
    stages = []
    for s in now["stages"]:
        prev = before.get(s["stage"])
        if s["skipped"] and prev and (not prev.get("skipped") or prev.get("earlier_run")):
            s = {**s, "seconds": prev.get("seconds", s["seconds"]), "earlier_run": True}
        stages.append(s)
    return {**now, "stages": stages}


def cpu_info() -> dict[str, Any]:
    """What the CPU kernels depend on: torch's CPU capability (AVX2, AVX512, ...) and the CPU model."""
    import platform

    import torch

    model = ""
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    return {"capability": torch.backends.cpu.get_cpu_capability(), "model": model, "machine": platform.machine()}
