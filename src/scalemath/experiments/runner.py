"""Run a study: execute its grid of cells (see `experiments.grid`), skipping finished ones.

Each cell runs as a stage (`experiments.stages.run_stage`) whose fingerprint covers its own config
and the identities of the cells it depends on, so a finished cell is skipped on a re-run and a
changed field reruns exactly the cells it reaches. A cell's directory `<run>/cells/<id>/` holds its
outputs and `cell.json` (resolved config, dependencies, library versions, git sha, seeds, timing,
summary); outputs made under other settings are removed before the cell reruns, except where only
a setting that does not invalidate them changed (a sampling run asked for a larger k is topped up).
After every evaluation cell the results files are rebuilt (`experiments.results`). With `workers`
> 1, cells whose dependencies are finished run side by side in worker processes
(`experiments.pipeline`), wave by wave; each cell computes what it would alone.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalemath.experiments.config import StudyConfig, StudyError
from scalemath.experiments.grid import Cell, expand, select
from scalemath.experiments.provenance import git_info
from scalemath.experiments.stages import StageResult, fingerprint, run_stage
from scalemath.outputs import write_text

CELL_JSON = "cell.json"


class CellError(RuntimeError):
    """A cell that failed; names it. The cells finished before it keep their outputs and markers."""

    def __init__(self, cell: str, cause: BaseException):
        self.cell, self.cause = cell, cause
        super().__init__(f"cell {cell} failed: {type(cause).__name__}: {cause}")


@dataclass
class CellState:
    """Where one cell stands in a run directory."""

    cell: Cell
    status: str
    """done (finished with the current settings), changed (finished with other settings: it will
    rerun) or pending."""
    seconds: float | None = None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunOutcome:
    """What `Runner.run` did."""

    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    results: list[Path] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False
    groups: list[list[StageResult]] = field(default_factory=list)
    """The cells' stage results, one list per cell run alone or per wave run side by side (what
    `experiments.timing.run_timing` takes)."""


def graded(c: Cell, key: dict[str, Any]) -> dict[str, Any]:
    """`key` with the grader's version for a cell whose output holds verdicts (sampling and
    evaluation grade what they draw; an RFT training set keeps the paths the grader accepts): a
    study run after the grader changed redoes those cells and what depends on them, in a fresh
    directory (samples graded by another version are never resumed), instead of reporting verdicts
    of the old grader. Other cells' keys are unchanged."""
    if c.kind in ("sample", "eval") or c.config.get("recipe") == "rft":
        from scalemath.answers import GRADER_VERSION

        return {**key, "grader": GRADER_VERSION}
    return key


class Runner:
    """Executes one study in one run directory.

    `actions` maps a cell kind to the function that does its work (default:
    `experiments.actions.ACTIONS`); tests swap in light ones to check the orchestration alone.
    """

    def __init__(
        self,
        study: StudyConfig,
        out: str | Path,
        log: Callable[[str], None] = print,
        actions: dict[str, Callable] | None = None,
        quiet: bool = False,
    ):
        self.study, self.run_dir, self.log, self.quiet = study, Path(out), log, quiet
        self.cells = expand(study)
        self.by_id = {c.id: c for c in self.cells}
        self._actions = actions
        self._ident: dict[str, str] = {}

    # -- fingerprints

    def identity(self, cid: str) -> str:
        """What dependents of a cell depend on: its identity config and its dependencies'."""
        if cid not in self._ident:
            c = self.by_id[cid]
            self._ident[cid] = fingerprint(graded(c, {"cell": c.part(c.identity_keys), "deps": self.dep_ids(c)}))
        return self._ident[cid]

    def dep_ids(self, c: Cell) -> dict[str, str]:
        return {d: self.identity(d) for d in c.deps}

    def stage_config(self, c: Cell) -> dict[str, Any]:
        return graded(c, {"cell": c.config, "deps": self.dep_ids(c)})

    def dir_key(self, c: Cell) -> str:
        return fingerprint(graded(c, {"dir": c.part(c.dir_keys), "deps": self.dep_ids(c)}))

    def marker(self, cid: str) -> Path:
        return self.run_dir / ".done" / f"{cid}.json"

    # -- status

    def state(self, c: Cell) -> CellState:
        m = self.marker(c.id)
        if not m.is_file():
            return CellState(c, "pending")
        done = json.loads(m.read_text())
        if done.get("fingerprint") != fingerprint(self.stage_config(c)):
            return CellState(c, "changed", done.get("seconds"), done.get("summary", {}))
        return CellState(c, "done", done.get("seconds"), done.get("summary", {}))

    def states(self, only: list[str] | None = None) -> list[CellState]:
        return [self.state(c) for c in select(self.cells, list(only or []))]

    # -- run

    def context(self):
        from scalemath.experiments.actions import RunContext

        return RunContext(self.run_dir, self.by_id, log=self.log, quiet=self.quiet, threads=self.study.threads)

    def finished_context(self):
        """`context()` holding the summaries of every cell already finished (for results rows)."""
        ctx = self.context()
        for c in self.cells:
            st = self.state(c)
            if st.status == "done":
                ctx.summaries[c.id] = st.summary
        return ctx

    def run(self, only: list[str] | None = None, dry_run: bool = False, workers: int | None = None) -> RunOutcome:
        """Run the selected cells (glob patterns on cell ids; their dependencies come along) that
        are not finished with the current settings. dry_run: say what would run, run nothing.
        workers: cells run side by side at most (None: the study's `workers`)."""
        workers = self.study.workers if workers is None else workers
        if workers > 1 and self.study.threads is None:
            raise StudyError("workers > 1 needs the study's threads set (cells side by side share the CPU)")
        chosen = select(self.cells, list(only or []))
        outcome = RunOutcome(dry_run=dry_run)
        if dry_run:
            for st in map(self.state, chosen):
                verb = {"done": "done ", "changed": "rerun", "pending": "run  "}[st.status]
                self.log(f"[{verb}] {st.cell.id}")
                (outcome.skipped if st.status == "done" else outcome.ran).append(st.cell.id)
            return outcome
        from scalemath.experiments.actions import ACTIONS
        from scalemath.experiments.config import validate_models

        if all(self.state(c).status == "done" for c in chosen):  # nothing to do: no torch import
            outcome.skipped = [c.id for c in chosen]
            for c in chosen:
                self.log(f"[skip] {c.id}")
            states = [self.state(c) for c in chosen]
            outcome.groups = [[StageResult(st.cell.id, True, st.seconds or 0.0, st.summary) for st in states]]
            outcome.results = self.write_results()
            outcome.rows = self.rows()
            return outcome
        if self._actions is None:
            validate_models(self.study)
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # one "Loading weights" bar per cell is noise here
        actions = self._actions or ACTIONS
        self.run_dir.mkdir(parents=True, exist_ok=True)
        prov = self._write_run_files()
        ctx = self.finished_context()
        if workers > 1:
            self._run_side_by_side(chosen, ctx, actions, outcome, workers)
        else:
            for c in chosen:
                fn = actions[c.kind]

                def work(c: Cell = c, fn: Callable = fn) -> dict[str, Any]:
                    return self.work(c, fn, ctx, prov)

                try:
                    res = run_stage(self.run_dir, c.id, self.stage_config(c), work, self.log)
                except Exception as e:
                    raise CellError(c.id, e) from e
                self._record(c, res, ctx, outcome)
                outcome.groups.append([res])
        from scalemath.experiments.actions import check_planned

        for c in chosen:  # a control planned from its reference: the reference trained that plan
            if c.kind == "train" and c.config.get("planned") and not (self._actions and "train" in self._actions):
                check_planned(c, ctx)
        outcome.results = self.write_results()
        outcome.rows = self.rows()
        return outcome

    def work(self, c: Cell, fn: Callable, ctx: Any, prov: dict[str, Any]) -> dict[str, Any]:
        """Do cell `c` (its action `fn`) in a clean directory; write its cell.json; its summary."""
        self._prepare_dir(c)
        started = time.time()
        summary = fn(c, ctx)
        self._write_cell_json(c, prov, started, summary)
        return summary

    def _record(self, c: Cell, res: StageResult, ctx: Any, outcome: RunOutcome) -> None:
        ctx.summaries[c.id] = res.summary
        (outcome.skipped if res.skipped else outcome.ran).append(c.id)
        outcome.seconds[c.id] = res.seconds
        if c.kind == "eval" and not res.skipped:
            outcome.results = self.write_results()

    def _run_side_by_side(
        self, chosen: list[Cell], ctx: Any, actions: dict[str, Callable], outcome: RunOutcome, workers: int
    ) -> None:
        """Waves of cells whose dependencies are finished, each wave side by side in up to `workers`
        processes (`pipeline.run_group`); a cell's worker runs `cell_job`."""
        from scalemath.experiments.pipeline import Item, job_name, resolve, run_group

        names = {kind: job_name(fn) for kind, fn in actions.items()}
        for kind, name in names.items():
            try:
                ok = resolve(name) is actions[kind]
            except (ImportError, AttributeError):
                ok = False
            if not ok:
                raise ValueError(f"workers > 1: the {kind} action must be a module-level function ({name})")
        study = self.study.to_dict()
        todo = list(chosen)
        while todo:
            waiting = {c.id for c in todo}
            wave = [c for c in todo if not waiting & set(c.deps)]
            items: list[Item] = [
                (
                    c.id,
                    self.stage_config(c),
                    cell_job,
                    {"study": study, "out": str(self.run_dir), "cell": c.id, "actions": names, "quiet": self.quiet},
                )
                for c in wave
            ]
            try:
                results = run_group(self.run_dir, items, workers, self.log)
            except Exception as e:
                raise CellError(", ".join(c.id for c in wave if self.state(c).status != "done"), e) from e
            outcome.groups.append(results)
            for c, res in zip(wave, results):
                self._record(c, res, ctx, outcome)
            todo = [c for c in todo if c not in wave]

    # -- results

    def rows(self) -> list[dict[str, Any]]:
        """Results rows of the finished evaluation cells, in grid order."""
        rows = []
        for c in self.cells:
            if c.kind == "eval":
                st = self.state(c)
                if st.status == "done" and "row" in st.summary:
                    rows.append(st.summary["row"])
        return rows

    def write_results(self) -> list[Path]:
        from scalemath.experiments.results import write_results

        return write_results(self.run_dir, self.rows(), multi_base=len(self.study.base_models) > 1)

    # -- files

    def cell_dir(self, c: Cell) -> Path:
        return self.run_dir / "data" if c.id == "data" else self.run_dir / "cells" / c.id

    def _prepare_dir(self, c: Cell) -> None:
        """Remove outputs made under settings that invalidate them; keep resumable ones."""
        d = self.cell_dir(c)
        info = d / CELL_JSON
        key = self.dir_key(c)
        if d.exists() and c.id != "data":
            old = json.loads(info.read_text()).get("dir_key") if info.is_file() else None
            if old != key:
                shutil.rmtree(d)
        d.mkdir(parents=True, exist_ok=True)
        write_text(
            info,
            json.dumps(
                {"id": c.id, "dir_key": key, "status": "running", "started": time.strftime("%Y-%m-%d %H:%M:%S")},
                indent=2,
            )
            + "\n",
        )

    def _write_cell_json(self, c: Cell, prov: dict[str, Any], started: float, summary: dict[str, Any]) -> None:
        d = self.cell_dir(c)
        info = {
            "id": c.id,
            "kind": c.kind,
            "method": c.method,
            "base": c.base,
            "dir_key": self.dir_key(c),
            "fingerprint": fingerprint(self.stage_config(c)),
            "config": c.config,
            "deps": self.dep_ids(c),
            "seeds": seeds_of(c.config),
            "versions": prov["versions"],
            "git": prov["git"],
            "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
            "seconds": round(time.time() - started, 2),
            "summary": summary,
        }
        write_text(d / CELL_JSON, json.dumps(info, indent=2, default=str) + "\n")

    def _write_run_files(self) -> dict[str, Any]:
        prov = provenance()
        write_text(
            self.run_dir / "study.json",
            json.dumps(
                {
                    "study": self.study.to_dict(),
                    "cells": [c.id for c in self.cells],
                    **prov,
                    "written": time.strftime("%Y-%m-%d %H:%M:%S"),
                },
                indent=2,
                default=str,
            )
            + "\n",
        )
        return prov


def cell_job(args: dict[str, Any]) -> dict[str, Any]:
    """One cell of a study, in a worker process of `Runner.run(workers=...)`: its dependencies are
    finished; the cell's summary (its stage marker is written around this call)."""
    from scalemath.experiments.pipeline import resolve

    runner = Runner(StudyConfig.from_dict(args["study"]), args["out"], log=lambda msg: None, quiet=args["quiet"])
    c = runner.by_id[args["cell"]]
    return runner.work(c, resolve(args["actions"][c.kind]), runner.finished_context(), provenance())


def provenance() -> dict[str, Any]:
    """Library versions and git state, recorded in study.json and every cell.json."""
    from scalemath.training.runtime import versions

    return {"versions": versions(), "git": git_info()}


def seeds_of(config: Any, prefix: str = "") -> dict[str, Any]:
    """Every `seed` in a cell config, by dotted path."""
    out: dict[str, Any] = {}
    if isinstance(config, dict):
        for k, v in config.items():
            path = f"{prefix}{k}"
            if k == "seed" and not isinstance(v, (dict, list)):
                out[path] = v
            else:
                out.update(seeds_of(v, path + "."))
    return out


def run_study(
    study: StudyConfig,
    out: str | Path,
    only: list[str] | None = None,
    dry_run: bool = False,
    log: Callable[[str], None] = print,
    quiet: bool = False,
    workers: int | None = None,
) -> RunOutcome:
    """Run (or resume) a study in `out`; see `Runner.run`."""
    return Runner(study, out, log=log, quiet=quiet).run(only, dry_run, workers)


def with_overrides(study: StudyConfig, long_cot_weight: float | None = None) -> StudyConfig:
    """The study with command-line overrides applied."""
    if long_cot_weight is not None:
        study = dataclasses.replace(study, sft=dataclasses.replace(study.sft, long_cot_weight=long_cot_weight))
    return study
