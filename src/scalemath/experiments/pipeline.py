"""Groups of independent stages run side by side in worker processes: the study runner's waves.

`run_group` runs stages that do not depend on each other in up to `workers` processes at once
(`python -m scalemath.experiments.pipeline JOB.json`). A job is a module-level function (args dict
-> summary dict), named "module:function" for the worker. Every stage is a `stages.run_stage`
(fingerprint, skip on re-run).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scalemath.experiments.stages import StageResult, is_done, run_stage
from scalemath.outputs import write_text

Job = Callable[[dict[str, Any]], dict[str, Any]]
Item = tuple[str, Any, Job, dict[str, Any]]
"""One stage of a group: (name, fingerprint config, job, the job's args)."""


def quiet_libraries() -> None:
    """Keep a run's output to its own progress lines (no per-load/save library bars)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def job_name(fn: Job) -> str:
    return f"{fn.__module__}:{fn.__name__}"


def resolve(name: str) -> Job:
    module, _, attr = name.partition(":")
    fn: Job = getattr(importlib.import_module(module), attr)
    return fn


def run_group(out: Path, group: list[Item], workers: int, log: Callable[[str], None]) -> list[StageResult]:
    """Run stages that do not depend on each other: side by side in `workers` processes when more
    than one is pending (the jobs' args give them one torch thread), else one after another here."""
    import subprocess
    import sys

    from scalemath.training.runtime import verbose

    pending = [g for g in group if not is_done(out, g[0], g[1])]
    if workers <= 1 or len(pending) <= 1:
        return [run_stage(out, name, config, _bound(job, args), log) for name, config, job, args in group]
    jobs = out / ".jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    loud = verbose()
    together = f"[par ] {' ∥ '.join(g[0] for g in pending)}"
    if loud:
        log(f"{together} (side by side, 1 torch thread each)")
    results: dict[str, StageResult] = {}
    queue = list(pending)
    running: dict[str, subprocess.Popen] = {}
    failed: list[str] = []
    t0 = last = time.monotonic()
    while queue or running:
        if time.monotonic() - last >= (60 if loud else 600):  # a heartbeat, not a log
            last = time.monotonic()
            log(f"[... ] {', '.join(running)} running ({last - t0:.0f}s)")
        while queue and len(running) < workers:
            name, config, job, args = queue.pop(0)
            spec = jobs / f"{name.replace('/', '__')}.json"  # a study's cell ids hold slashes
            spec.with_suffix(".result.json").unlink(missing_ok=True)
            write_text(
                spec,
                json.dumps(
                    {
                        "out": str(out),
                        "name": name,
                        "config": config,
                        "job": job_name(job),
                        "args": {**args, "progress": False, "quiet": True},
                    },
                    default=str,
                ),
            )
            running[name] = subprocess.Popen([sys.executable, "-m", "scalemath.experiments.pipeline", str(spec)])
        time.sleep(0.5)
        for name, proc in list(running.items()):
            if proc.poll() is None:
                continue
            del running[name]
            res = jobs / f"{name.replace('/', '__')}.result.json"
            if proc.returncode != 0 or not res.is_file():
                failed.append(f"{name} (exit {proc.returncode})")
                continue
            results[name] = StageResult(**json.loads(res.read_text()))
            if loud:
                log(f"[done] {name} in {results[name].seconds:.0f}s")
    if not loud and results:  # one line for the group
        took = ", ".join(f"{results[g[0]].seconds:.0f}s" for g in pending if g[0] in results)
        log(f"{together} done in {took} (side by side, 1 torch thread each)")
    if failed:
        raise RuntimeError(f"stage(s) failed: {', '.join(failed)}; their output is above")
    return [
        results[name] if name in results else run_stage(out, name, config, lambda: {}, log)
        for name, config, _, _ in group
    ]


def _bound(job: Job, args: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: job(args)


def worker_main(spec_path: str) -> None:
    """Entry point of a side-by-side stage (see run_group)."""
    spec = json.loads(Path(spec_path).read_text())
    quiet_libraries()
    job = resolve(spec["job"])
    res = run_stage(Path(spec["out"]), spec["name"], spec["config"], lambda: job(spec["args"]), lambda msg: None)
    write_text(Path(spec_path).with_suffix(".result.json"), json.dumps(dataclasses.asdict(res), default=str))


if __name__ == "__main__":
    import sys

    worker_main(sys.argv[1])
