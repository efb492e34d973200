"""Expand a `StudyConfig` into cells: named units of work with a config and dependencies.

How it works, in full: docs/modules.md (`scalemath.experiments.grid`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalemath.experiments.config import BaseModelConfig, StudyConfig, StudyError

KINDS = ("data", "base", "train", "sample", "eval")


@dataclass
class Cell:
    """One unit of a study's grid."""

    id: str
    """Unique name, also the cell's directory under <run>/cells/ and its stage marker."""
    kind: str
    """data | base | train | sample | eval."""
    config: dict[str, Any]
    """Everything that determines the cell's output (JSON-ready)."""
    deps: list[str] = field(default_factory=list)
    """Cells that must finish first."""
    method: str = ""
    """Series name in the results (sft, rft, rft-pooled, ...) for train and eval cells."""
    base: str = ""
    """Base model name."""
    identity_keys: tuple[str, ...] | None = None
    """Config keys that dependents depend on (None: all). A sampling run's `k` is not one: a
    larger k tops the run up without touching the cells that use its first samples."""
    dir_keys: tuple[str, ...] | None = None
    """Config keys whose change makes existing outputs unusable (None: all); when other keys change
    the cell reruns in its existing directory (sampling runs resume)."""

    def part(self, keys: tuple[str, ...] | None) -> dict[str, Any]:
        return self.config if keys is None else {k: self.config.get(k) for k in keys}


def frac_label(x: float) -> str:
    return f"f{x:.6g}"


def num_label(x: float) -> str:
    return f"{x:.6g}"


def _file_id(path: str, where: str) -> dict[str, Any]:
    """A data file as {path, sha256} (its content decides the fingerprint)."""
    from scalemath.training.data import file_hash

    p = Path(path)
    if not p.is_file():
        raise StudyError(f"{where}: no such file {path!r} (paths are relative to the current directory)")
    return {"path": str(path), "sha256": file_hash(p)}


def _merged_train(study: StudyConfig, rft: bool) -> dict[str, Any]:
    return {**study.sft.train, **(study.rft.train if rft else {})}


def _rft_collect(study: StudyConfig, overrides: dict[str, Any]) -> dict[str, Any]:
    from scalemath.methods.rft import RFTConfig

    d = {"dataset": study.data.dataset, **study.rft.collect, **overrides}
    out = {k: v for k, v in dataclasses.asdict(RFTConfig(**d)).items() if k not in ("workers", "max_examples")}
    # fields added after results existed enter a cell's key only when changed (old runs stay done)
    for f in dataclasses.fields(RFTConfig):
        if f.name in _RFT_LATER and out.get(f.name) == (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        ):
            out.pop(f.name)
    return out


_RFT_LATER = ("max_chars", "max_tokens", "check_test_sets", "test_sets", "allow_contamination")


def expand(study: StudyConfig) -> list[Cell]:
    """The study's cells in an order where every cell comes after its dependencies."""
    cells: dict[str, Cell] = {}

    def add(cell: Cell) -> Cell:
        if cell.id in cells:
            raise StudyError(f"two cells are named {cell.id!r}")
        cells[cell.id] = cell
        return cell

    add(Cell("data", "data", _data_config(study)))
    ev = study.eval
    eval_sets = {name: _file_id(path, f"eval_sets.{name}") for name, path in study.eval_sets.items()}
    leak = dataclasses.asdict(study.analyses.leakage)
    leak_on = {k: v for k, v in leak.items() if k not in ("enabled", "control")}

    def eval_config(template: str, fewshot: dict[str, Any] | None, leakage: bool) -> dict[str, Any]:
        return {
            "template": template,
            "max_tokens": ev.max_tokens,
            "k": ev.k,
            "temperature": ev.temperature,
            "seed": ev.seed,
            "engine": ev.engine,
            "batch_size": ev.batch_size,
            "engine_kwargs": dict(ev.engine_kwargs),
            "dataset": study.data.dataset,
            "bootstrap": ev.bootstrap,
            "sets": eval_sets,
            "sets_limit": ev.sets_limit,
            "leakage": leak_on if leakage else None,
            "fewshot": fewshot,
            "pretrain_loss": study.analyses.pretrain_loss,
            # added only when set: studies without it keep their cells' fingerprints
            **({"sampled_n": ev.sampled_n} if ev.sampled_n is not None else {}),
        }

    eval_dir_keys = ("template", "max_tokens", "temperature", "seed", "engine", "dataset", "fewshot")

    for b in study.base_models:
        base_id = add(Cell(f"base/{b.name}", "base", _base_config(b), base=b.name)).id
        tmpl = study.sft.template

        def train(
            cid: str,
            method: str,
            recipe: dict[str, Any],
            deps: list[str],
            rft: bool = False,
            leakage: bool = study.analyses.leakage.enabled,
        ) -> Cell:
            cfg = {**recipe, "template": tmpl, "train": _merged_train(study, rft)}
            cell = add(Cell(cid, "train", cfg, ["data", base_id, *deps], method=method, base=b.name))
            add(
                Cell(
                    f"eval/{cid}",
                    "eval",
                    eval_config(tmpl, None, leakage),
                    ["data", base_id, cid],
                    method=method,
                    base=b.name,
                    dir_keys=eval_dir_keys,
                )
            )
            return cell

        in_order = {} if study.sft.shuffle else {"shuffle": False}  # only when set (fingerprints kept)

        def sft_cell(frac: float, seed: int) -> str:
            cid = f"sft/{b.name}/{frac_label(frac)}/s{seed}"
            if cid not in cells:
                train(
                    cid,
                    "sft",
                    {
                        "recipe": "fraction",
                        "fraction": frac,
                        "seed": seed,
                        "long_cot_weight": study.sft.long_cot_weight,
                        **in_order,
                    },
                    [],
                )
            return cid

        for frac in _unique(study.sft.fractions):
            for seed in _unique(study.sft.seeds):
                sft_cell(frac, seed)
        for w in _unique(study.analyses.long_cot.weights):
            for frac in _unique(study.analyses.long_cot.fractions):
                for seed in _unique(study.sft.seeds):
                    method = f"sft-longcot-w{num_label(w)}"
                    train(
                        f"{method}/{b.name}/{frac_label(frac)}/s{seed}",
                        method,
                        {"recipe": "fraction", "fraction": frac, "seed": seed, "long_cot_weight": w},
                        [],
                    )
        if study.analyses.leakage.control:
            train(f"sft-leaky/{b.name}", "sft-leaky", {"recipe": "leaky", "seed": study.sft.seeds[0]}, [], leakage=True)

        def reference(of: str) -> tuple[dict[str, Any], list[str]]:
            """What a cell matched to train cell `of` adds to its config, and its dependencies: `of`
            itself, or with plan_controls what `of` depends on (its compute comes from its plan)."""
            if study.plan_controls:
                return {"planned": True}, [d for d in cells[of].deps if d not in ("data", base_id)]
            return {}, [of]

        def control_cell(of: str, method: str, kind: str | None, rft: bool, extra: dict[str, Any]) -> None:
            """The compute-matched control of train cell `of`: the same recipe on D (the full
            training set), for as many steps / tokens / epochs as `of` took."""
            if kind:
                planned, deps = reference(of)
                train(
                    f"{method}-control/{of.split('/', 1)[1]}",
                    f"{method}-control",
                    {
                        "recipe": "fraction",
                        "fraction": 1.0,
                        "seed": study.sft.seeds[0],
                        "long_cot_weight": 0.0,
                        **in_order,
                        "control": kind,
                        "control_of": of,
                        **planned,
                        **extra,
                    },
                    deps,
                    rft=rft,
                )

        for a in study.augment:
            aug = _file_id(a.path, f"augment.{a.name}.path")
            for n in _unique(a.amounts):
                cid = f"{a.name}/{b.name}/n{'all' if n is None else n}"
                train(
                    cid,
                    a.name,
                    {
                        "recipe": "augment",
                        "file": aug,
                        "format": a.format,
                        "amount": n,
                        "with_original": a.with_original,
                        "seed": study.sft.seeds[0],
                    },
                    [],
                )
                control_cell(cid, a.name, a.control, False, {"amount": n})

        # sampling runs: one per (SFT model, temperature), at the largest k any cell takes from it
        smp = study.rft.sampling
        wanted: dict[tuple[float, int, float], int] = {}
        Use = tuple[str, str, list[tuple[float, int, float]], int, dict[str, Any], str | None, str | None]
        uses: list[Use] = []  # (cell id, series, sampled models, k, collect overrides, control, match)
        src = (study.rft.source_fraction, study.rft.source_seed)
        for k in _unique(study.rft.k):
            uses.append((f"rft/{b.name}/k{k}", "rft", [(*src, smp.temperature)], k, {}, study.rft.control, None))
        for ab in study.rft.ablations:
            t = smp.temperature if ab.temperature is None else ab.temperature
            for k in _unique(ab.k if ab.k is not None else study.rft.k):
                uses.append((f"{ab.name}/{b.name}/k{k}", ab.name, [(*src, t)], k, ab.collect, ab.control, ab.match))
        for p in study.rft.pooled:
            models = [(f, s, smp.temperature) for f in _unique(p.fractions) for s in _unique(p.seeds)]
            for k in _unique(p.k):
                uses.append((f"{p.name}/{b.name}/k{k}", p.name, models, k, {}, p.control, None))
        for _, _, models, k, _, _, _ in uses:
            for m in models:
                wanted[m] = max(wanted.get(m, 0), k)
        sample_ids: dict[tuple[float, int, float], str] = {}
        for (frac, seed, t), k in wanted.items():
            model = sft_cell(frac, seed)
            cfg = {
                "model": model,
                "template": tmpl,
                "dataset": study.data.dataset,
                "temperature": t,
                "top_p": smp.top_p,
                "top_k": smp.top_k,
                "max_tokens": smp.max_tokens,
                "seed": smp.seed,
                "engine": smp.engine,
                "batch_size": smp.batch_size,
                "engine_kwargs": dict(smp.engine_kwargs),
                "k": k,
            }
            keys = tuple(x for x in cfg if x not in ("k", "batch_size", "engine_kwargs"))
            sid = f"sample/{b.name}/{frac_label(frac)}/s{seed}/t{num_label(t)}"
            add(Cell(sid, "sample", cfg, ["data", model], base=b.name, identity_keys=keys, dir_keys=keys))
            sample_ids[(frac, seed, t)] = sid
        source = sft_cell(*src) if uses else None
        for cid, method, models, k, overrides, control, matched in uses:
            sids = [sample_ids[m] for m in models]
            match = {"match": study.rft.match, "match_of": source} if study.rft.match else {}
            extra_deps = [source] if match and source is not None else []  # source: set when there are uses
            if matched:  # an ablation trained for the compute of the rft cell with its k
                of = f"rft/{b.name}/k{k}"
                planned, extra_deps = reference(of)
                match = {"match": matched, "match_of": of, **planned}
            train(
                cid,
                method,
                {
                    "recipe": "rft",
                    "k": k,
                    "samples": sids,
                    "collect": _rft_collect(study, overrides),
                    "seed": study.sft.seeds[0],
                    **match,
                },
                sids + [d for d in extra_deps if d not in sids],
                rft=True,
            )
            control_cell(cid, method, control, True, {"k": k})

        fs = study.analyses.fewshot
        for n in _unique(fs.shots):
            few = {
                "shots": n,
                "template": fs.template,
                "exemplar_template": fs.exemplar_template,
                "separator": fs.separator,
                "seed": fs.seed,
                "stop": list(fs.stop),
                "template_text": _template_texts(fs.template, fs.exemplar_template),
            }
            add(
                Cell(
                    f"fewshot/{b.name}/{n}shot",
                    "eval",
                    eval_config(tmpl, few, study.analyses.leakage.enabled),
                    ["data", base_id],
                    method="fewshot",
                    base=b.name,
                    dir_keys=eval_dir_keys,
                )
            )
    return _ordered(cells)


def _template_texts(*names: str) -> list[str]:
    """The template texts (part of the fingerprint: editing a template reruns its cells)."""
    from scalemath import prompts

    out = []
    for name in names:
        try:
            out.append(prompts.load(name))
        except FileNotFoundError as e:
            raise StudyError(f"analyses.fewshot: {e}") from None
    return out


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def _ordered(cells: dict[str, Cell]) -> list[Cell]:
    """Dependencies first, otherwise in insertion order (evaluations right after their model)."""
    out: list[Cell] = []
    state: dict[str, int] = {}

    def visit(cid: str) -> None:
        if state.get(cid) == 2:
            return
        if state.get(cid) == 1:
            raise StudyError(f"dependency cycle at {cid}")
        state[cid] = 1
        for d in cells[cid].deps:
            visit(d)
        state[cid] = 2
        out.append(cells[cid])

    for cid in cells:
        visit(cid)
    return out


def _data_config(study: StudyConfig) -> dict[str, Any]:
    d = study.data
    if d.source == "procedural":
        return {
            "source": "procedural",
            "train_n": d.train_n,
            "test_n": d.test_n,
            "steps": list(d.steps),
            "number_range": list(d.number_range),
            "seed": d.seed,
            "families": list(d.families) if d.families else None,
            **({"solution_variety": d.solution_variety} if d.solution_variety != "none" else {}),
        }
    if d.train is None or d.test is None:  # validate() requires both paths for source files
        raise TypeError("source files needs data.train and data.test paths")
    return {
        "source": "files",
        "train": _file_id(d.train, "data.train"),
        "test": _file_id(d.test, "data.test"),
        "train_n": d.train_n,
        "test_n": d.test_n,
        "format": d.format,
    }


def _base_config(b: BaseModelConfig) -> dict[str, Any]:
    if b.recipe is not None:
        from scalemath.training.tiny import BaseRecipe

        return {"kind": "recipe", "recipe": dataclasses.asdict(BaseRecipe(**b.recipe)), "shipped": b.shipped}
    if b.path is not None:
        return {"kind": "path", "path": b.path, "pretrain_loss": b.pretrain_loss}
    return {
        "kind": "tiny",
        "preset": b.preset,
        "tiny": dict(b.tiny),
        "corpus_lines": b.corpus_lines,
        "corpus": dict(b.corpus),
        "pretrain_minutes": b.pretrain_minutes,
        "pretrain": dict(b.pretrain),
        "seed": b.seed,
    }


def select(cells: list[Cell], patterns: list[str]) -> list[Cell]:
    """Cells whose id matches any glob pattern, plus everything they depend on (in grid order)."""
    import fnmatch

    if not patterns:
        return list(cells)
    by_id = {c.id: c for c in cells}
    want: set[str] = set()
    todo = [c.id for c in cells if any(fnmatch.fnmatchcase(c.id, p) for p in patterns)]
    if not todo:
        raise StudyError(
            f"no cell matches {patterns}; cells: {', '.join(c.id for c in cells[:12])}"
            + (" ..." if len(cells) > 12 else "")
        )
    while todo:
        cid = todo.pop()
        if cid not in want:
            want.add(cid)
            todo.extend(by_id[cid].deps)
    return [c for c in cells if c.id in want]
