"""What each kind of cell does (see `experiments.grid` for the kinds). Each action takes the cell
and the run context, writes its outputs under the cell's directory and returns a JSON-ready
summary (stored in the cell's stage marker; eval summaries carry the results row)."""

from __future__ import annotations

import dataclasses
import gc
import itertools
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scalemath.experiments.grid import Cell
from scalemath.outputs import write_text
from scalemath.records import iter_jsonl, iter_jsonl_numbered, read_problems, to_dict, write_jsonl

if TYPE_CHECKING:
    from scalemath.prompts import PromptFormat


@dataclass
class RunContext:
    """What actions need besides their cell."""

    run_dir: Path
    cells: dict[str, Cell]
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: Callable[[str], None] = print
    quiet: bool = False
    threads: int | None = None
    """torch CPU threads for every stage (None: `scalemath.threads.default_threads()`)."""

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    def cell_dir(self, cid: str) -> Path:
        return self.data_dir if cid == "data" else self.run_dir / "cells" / cid

    def model_path(self, cid: str) -> str:
        """Checkpoint of a base or train cell."""
        cell = self.cells[cid]
        if cell.kind == "base" and cell.config["kind"] == "path":
            return cell.config["path"]
        if cell.kind == "base" and cell.config.get("shipped"):
            from scalemath.training.tiny import SHIPPED_BASE

            return str(SHIPPED_BASE)
        return str(self.cell_dir(cid) / "model")

    def base_of(self, cell: Cell) -> str:
        return f"base/{cell.base}"

    @property
    def progress(self) -> bool:
        return not self.quiet and sys.stderr.isatty()


# ----------------------------------------------------------------------------------------- data


def act_data(cell: Cell, ctx: RunContext) -> dict[str, Any]:
    cfg = cell.config
    if cfg["source"] == "procedural":
        from scalemath.datasets.procedural import generate

        common = dict(
            steps=tuple(cfg["steps"]),
            seed=cfg["seed"],
            number_range=tuple(cfg["number_range"]),
            families=cfg.get("families"),
            solution_variety=cfg.get("solution_variety", "none"),
        )
        train = generate(cfg["train_n"], split="train", **common)
        test = generate(cfg["test_n"], split="test", **common)
    else:
        from scalemath.datasets import load_problems

        train = list(load_problems(cfg["train"]["path"], format=cfg["format"], split="train", limit=cfg["train_n"]))
        test = list(load_problems(cfg["test"]["path"], format=cfg["format"], split="test", limit=cfg["test_n"]))
        for name, probs in (("train", train), ("test", test)):
            if not probs:
                raise ValueError(f"data.{name}: no problems in {cfg[name]['path']}")
            bad = [p.id for p in probs if not (p.solution or "").strip()][:3]
            if bad and name == "train":
                raise ValueError(f"data.train: problems without a solution to train on, e.g. {bad}")
    ids = [p.id for p in train] + [p.id for p in test]
    if len(set(ids)) != len(ids):
        raise ValueError("data: train and test problems share ids")
    d = ctx.data_dir
    n_tr = write_jsonl(d / "train.jsonl", train)
    n_te = write_jsonl(d / "test.jsonl", test)
    # the report joins problem fields (meta.steps, meta.family) to sample files from here
    write_jsonl(ctx.run_dir / "problems.jsonl", itertools.chain(train, test))
    return {"train": n_tr, "test": n_te}


def train_problems(ctx: RunContext) -> list[dict[str, Any]]:
    return list(iter_jsonl(ctx.data_dir / "train.jsonl"))


def test_problems(ctx: RunContext) -> list:
    return list(read_problems(ctx.data_dir / "test.jsonl"))


# ----------------------------------------------------------------------------------------- base


def act_base(cell: Cell, ctx: RunContext) -> dict[str, Any]:
    from scalemath.experiments.analyses import pretrain_loss_of

    cfg = cell.config
    out = ctx.cell_dir(cell.id)
    if cfg["kind"] == "path":
        return {
            "model": cfg["path"],
            "pretrain_loss": pretrain_loss_of(cfg["path"], cfg["pretrain_loss"])
            if Path(cfg["path"]).exists()
            else cfg["pretrain_loss"],
        }
    if cfg["kind"] == "recipe":
        return recipe_base(cfg, ctx.model_path(cell.id), quiet=ctx.quiet)
    from scalemath.datasets.pretrain_corpus import PretrainConfig as CorpusConfig
    from scalemath.datasets.pretrain_corpus import pretrain_corpus
    from scalemath.training.pretrain import PretrainConfig
    from scalemath.training.tiny import PRESETS, build_tiny_base

    lines = pretrain_corpus(
        config=CorpusConfig(**{**cfg.get("corpus", {}), "seed": cfg["seed"], "n_lines": cfg["corpus_lines"]})
    )
    corpus = out / "corpus.txt"
    corpus.parent.mkdir(parents=True, exist_ok=True)
    write_text(corpus, "\n".join(lines) + "\n", encoding="utf-8")
    tiny = dataclasses.replace(PRESETS[cfg["preset"]], **{**cfg["tiny"], "seed": cfg["seed"]})
    pre = PretrainConfig(
        **{"threads": ctx.threads, **cfg["pretrain"], "minutes": cfg["pretrain_minutes"], "seed": cfg["seed"]}
    )
    build_tiny_base(corpus, out / "model", tiny, pre, quiet=ctx.quiet)
    meta = json.loads((out / "model" / "tiny_meta.json").read_text())
    stats = meta.get("pretrain", {})
    return {
        "model": str(out / "model"),
        "pretrain_loss": pretrain_loss_of(out / "model"),
        "parameters": meta.get("parameters"),
        "pretrain_steps": stats.get("steps"),
        "pretrain_seconds": stats.get("train_seconds"),
    }


def recipe_base(cfg: dict[str, Any], model: str, quiet: bool) -> dict[str, Any]:
    """A base built by its recorded recipe (`training.tiny.build_base`), or the shipped one checked
    against it (sha256 of its files)."""
    from scalemath.experiments.analyses import pretrain_loss_of
    from scalemath.training.tiny import BaseRecipe, build_base, verify_base

    recipe = BaseRecipe(**cfg["recipe"])
    if cfg["shipped"]:
        try:
            verify_base(model, recipe)
        except ValueError as e:
            raise RuntimeError(f"the shipped base is damaged: {e}; `scalemath demo --pretrain` builds one") from None
    else:
        build_base(recipe, Path(model), quiet=quiet)
    meta = json.loads((Path(model) / "tiny_meta.json").read_text())
    stats = meta.get("pretrain", {})
    return {
        "model": model,
        "pretrain_loss": pretrain_loss_of(model),
        "parameters": meta.get("parameters"),
        "pretrain_steps": stats.get("steps"),
        "pretrain_seconds": stats.get("train_seconds"),
    }


# ---------------------------------------------------------------------------------------- train


def first_k_samples(path: str | Path, k: int) -> Iterator[dict[str, Any]]:
    """The samples of a sampling run with sample_index < k, in file order: the samples a k-sample
    run would have drawn (per-sample seeds depend on the index, not on k)."""
    for lineno, d in iter_jsonl_numbered(path):
        if "sample_index" not in d:
            from scalemath.records import RecordError

            raise RecordError(path, lineno, "sample without sample_index")
        if d["sample_index"] < k:
            yield d


def rft_records(
    sample_files: list[Path], k: int, collect_cfg: dict[str, Any], problems: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """D ∪ D' from the first k samples per question of each sampling run (pooled when several)."""
    from scalemath.methods.rft import RFTConfig, collect

    samples = itertools.chain.from_iterable(first_k_samples(p, k) for p in sample_files)
    records, stats = collect(samples, RFTConfig(**collect_cfg), problems=problems)
    return records, stats.to_dict()


def training_records(cell: Cell, ctx: RunContext, write: bool = True) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The cell's training data (Problem-shaped dicts) and extra summary fields; `write`: also its
    collection statistics (an RFT cell's rft_stats.json), False when another cell plans from it."""
    from scalemath.training.data import nested_indices

    cfg = cell.config
    recipe = cfg["recipe"]
    if recipe == "fraction":
        train = train_problems(ctx)
        keep = nested_indices(len(train), cfg["fraction"], cfg["seed"])
        # shuffle false: the first fraction of the set in file order (as many records)
        subset = [train[i] for i in (keep if cfg.get("shuffle", True) else range(len(keep)))]
        if cfg["long_cot_weight"]:
            from scalemath.metrics.steps import long_cot_resample

            subset = long_cot_resample(subset, cfg["long_cot_weight"], seed=cfg["seed"])
        return subset, {"fraction": cfg["fraction"], "long_cot_weight": cfg["long_cot_weight"]}
    if recipe == "leaky":
        return train_problems(ctx) + [to_dict(p) for p in test_problems(ctx)], {}
    if recipe == "augment":
        from scalemath.datasets import load_problems

        aug = []
        for p in load_problems(cfg["file"]["path"], format=cfg["format"]):
            if not (p.solution or "").strip():
                raise ValueError(f"{cfg['file']['path']}: augmented problem {p.id!r} has no solution")
            aug.append(to_dict(p))
            if cfg["amount"] is not None and len(aug) >= cfg["amount"]:
                break
        if cfg["amount"] is not None and len(aug) < cfg["amount"]:
            raise ValueError(
                f"{cell.id}: {cfg['amount']} augmented records asked for, {cfg['file']['path']} has {len(aug)}"
            )
        base = train_problems(ctx) if cfg["with_original"] else []
        return base + aug, {"augmented": len(aug)}
    if recipe == "rft":
        files = [ctx.cell_dir(s) / "samples.jsonl" for s in cfg["samples"]]
        from scalemath.experiments.analyses import rft_path_counts

        records, stats = rft_records(files, cfg["k"], cfg["collect"], train_problems(ctx))
        stats["path_counts"] = counts = rft_path_counts(records)
        out = ctx.cell_dir(cell.id)
        if write:
            out.mkdir(parents=True, exist_ok=True)
            # examples of dropped samples go to their own file (long texts; the report tabulates rft_stats)
            write_text(out / "rft_examples.json", json.dumps(stats.pop("examples", {}), indent=2) + "\n")
            write_text(out / "rft_stats.json", json.dumps(stats, indent=2) + "\n")
        return records, {
            "k": cfg["k"],
            "sampled": stats.get("samples"),
            "correct_samples": stats.get("correct"),
            "rft_distinct_paths": stats.get("distinct_paths"),
            "originals": stats.get("originals"),
            "new_paths": counts["new_per_question"],
        }
    raise ValueError(f"{cell.id}: unknown recipe {recipe!r}")


def run_config(cell: Cell, ctx: RunContext, data: Path, out: Path, control: dict[str, Any]):
    """The `SFTRunConfig` of train cell `cell` on `data`, written to `out`."""
    from scalemath.training.sft import SFTRunConfig

    cfg = cell.config
    # the test-set check: the known public sets, and this study's own test split (exact matches;
    # the "leaky" recipe trains on test questions on purpose)
    check = {"own_test_sets": [str(ctx.data_dir / "test.jsonl")], "allow_contamination": cfg["recipe"] == "leaky"}
    return SFTRunConfig.from_dict(
        {
            "threads": ctx.threads,
            **check,
            **cfg["train"],
            "model": ctx.model_path(ctx.base_of(cell)),
            "data": str(data),
            "out": str(out),
            "template": cfg["template"],
            "seed": cfg["seed"],
            **control,
        }
    )


def reference_of(cell: Cell, ctx: RunContext) -> dict[str, Any]:
    """The control settings of a control or matched cell: its kind and the reference it matches,
    the reference's model folder, or with `planned` its training plan (`training.plan`), written
    to plan.json from the reference's own data before the reference trains."""
    cfg = cell.config
    kind, of = (cfg["match"], cfg["match_of"]) if cfg.get("match") else (cfg["control"], cfg["control_of"])
    if not cfg.get("planned"):
        return {"control": kind, "control_of": ctx.model_path(of)}
    from scalemath.training.plan import plan

    ref = ctx.cells[of]
    out = ctx.cell_dir(cell.id)
    records, _ = training_records(ref, ctx, write=False)
    data = out / "reference_train.jsonl"
    write_jsonl(data, records)
    ref_control = reference_of(ref, ctx) if ref.config.get("control") or ref.config.get("match") else {}
    planned = plan(run_config(ref, ctx, data, out / "reference_model", ref_control))
    path = out / "plan.json"
    write_text(path, json.dumps(planned, indent=2) + "\n")
    return {"control": kind, "control_of": str(path)}


def check_planned(cell: Cell, ctx: RunContext) -> None:
    """A planned cell's reference trained exactly the steps of its plan (else the match is off)."""
    of = cell.config.get("match_of") or cell.config["control_of"]
    planned = json.loads((ctx.cell_dir(cell.id) / "plan.json").read_text())["steps"]
    actual = json.loads((Path(ctx.model_path(of)) / "train_meta.json").read_text())["steps"]
    if actual != planned:
        raise RuntimeError(f"{of} trained {actual} steps, the plan {cell.id} matched said {planned}")


def act_train(cell: Cell, ctx: RunContext) -> dict[str, Any]:
    from scalemath.experiments.analyses import path_stats
    from scalemath.training.sft import train_sft

    cfg = cell.config
    out = ctx.cell_dir(cell.id)
    records, extra = training_records(cell, ctx)
    if not records:
        raise ValueError(f"{cell.id}: no training records")
    data = out / "train.jsonl"
    write_jsonl(data, records)
    # a control of another cell, or a cell matched to one (an RFT cell to its SFT source)
    control = reference_of(cell, ctx) if cfg.get("control") or cfg.get("match") else {}
    run = run_config(cell, ctx, data, out / "model", control)
    train_sft(run, quiet=ctx.quiet)
    meta = json.loads((out / "model" / "train_meta.json").read_text())
    gc.collect()
    comp = meta.get("compute") or {}
    summary = {
        **path_stats(records),
        **extra,
        "seed": cfg["seed"],
        "steps": meta.get("steps"),
        "epochs": comp.get("epochs"),
        "train_tokens": comp.get("tokens"),
        "train_seconds": meta.get("train_seconds"),
        "train_loss_mean": meta.get("train_loss_mean"),
    }
    if control:
        summary.update(
            {
                "control": cfg.get("control") or cfg.get("match"),
                "control_of": cfg.get("control_of") or cfg.get("match_of"),
                "control_detail": meta.get("control"),
            }
        )
    return summary


# --------------------------------------------------------------------------------------- prompts


def cell_prompt(template: str, model_cell: str | None, ctx: RunContext) -> str | PromptFormat:
    """What a model is sampled and evaluated with: `template` with the chat settings the model was
    trained with (its train cell's `train.chat` / `train.system`, from the study's sft.chat /
    sft.system), as a checked `PromptFormat`, so SFT examples, RFT sampling and evaluation render
    one way; the template name itself when there are none (a base model: no train cell)."""
    from scalemath.experiments.config import PROMPT_KEYS
    from scalemath.prompts import prompt_format

    cell = ctx.cells.get(model_cell) if model_cell else None
    train = cell.config.get("train", {}) if cell is not None and cell.kind == "train" else {}
    settings = {k: train[k] for k in PROMPT_KEYS if k in train}
    if not settings.get("chat"):
        return template
    assert model_cell is not None  # a train cell was found
    return prompt_format(template, chat=True, system=settings.get("system"), model=ctx.model_path(model_cell))


# ------------------------------------------------------------------------------------- sampling


def _engine(name: str, model: str, batch_size: int, kwargs: dict[str, Any], threads: int | None):
    """The cell's engine, given the common settings it takes (`engine_options`, as the CLI does:
    batch_size and threads are the transformers engine's; passing them to vLLM made `engine: vllm`
    fail with "EngineArgs got an unexpected keyword argument 'batch_size'"), then engine_kwargs."""
    from scalemath.sampling import engine_options, load_engine

    return load_engine(name, model, **{**engine_options(name, batch_size=batch_size, threads=threads or 0), **kwargs})


def act_sample(cell: Cell, ctx: RunContext) -> dict[str, Any]:
    from scalemath.sampling.engine import SamplingParams
    from scalemath.sampling.run import sample_problems

    cfg = cell.config
    out = ctx.cell_dir(cell.id) / "samples.jsonl"
    prompt = cell_prompt(cfg["template"], cfg["model"], ctx)
    engine = _engine(cfg["engine"], ctx.model_path(cfg["model"]), cfg["batch_size"], cfg["engine_kwargs"], ctx.threads)
    params = SamplingParams(
        temperature=cfg["temperature"],
        top_p=cfg["top_p"],
        top_k=cfg["top_k"],
        max_tokens=cfg["max_tokens"],
        seed=cfg["seed"],
    )
    stats = sample_problems(
        list(read_problems(ctx.data_dir / "train.jsonl")),
        engine,
        params,
        cfg["k"],
        prompt,
        out,
        dataset=cfg["dataset"],
        progress=ctx.progress,
    )
    del engine
    gc.collect()
    return {**stats.to_dict(), "k": cfg["k"]}


# ------------------------------------------------------------------------------------- evaluate


def act_eval(cell: Cell, ctx: RunContext) -> dict[str, Any]:
    from scalemath.experiments.analyses import greedy_accuracy
    from scalemath.metrics.evaluate import evaluate

    cfg = cell.config
    out = ctx.cell_dir(cell.id)
    out.mkdir(parents=True, exist_ok=True)
    few = cfg["fewshot"]
    model_cell = ctx.base_of(cell) if few else cell.deps[-1]
    model = ctx.model_path(model_cell)
    prompt = cell_prompt(cfg["template"], None if few else model_cell, ctx)
    template, stop = prompt, ()
    if few:
        from scalemath.experiments.analyses import fewshot_template, write_fewshot_template

        train = list(read_problems(ctx.data_dir / "train.jsonl"))
        text = fewshot_template(
            train, few["shots"], few["seed"], few["template"], few["exemplar_template"], few["separator"]
        )
        template, stop = write_fewshot_template(out, text), tuple(few["stop"])
    engine = _engine(cfg["engine"], model, cfg["batch_size"], cfg["engine_kwargs"], ctx.threads)
    common = dict(
        max_tokens=cfg["max_tokens"],
        seed=cfg["seed"],
        stop=stop,
        template=template,
        dataset=cfg["dataset"],
        progress=ctx.progress,
    )
    problems = test_problems(ctx)
    n = cfg.get("sampled_n")
    if cfg["k"] and n is not None and n < len(problems):  # greedy on every question, k samples on n
        metrics = evaluate_sampled_n(
            engine, problems, cfg["k"], n, temperature=cfg["temperature"], out_dir=out, **common
        )
    else:
        metrics = evaluate(engine, problems, k=cfg["k"], temperature=cfg["temperature"], out_dir=out, **common)
    acc = greedy_accuracy(out / "greedy.jsonl", cfg["bootstrap"], cfg["seed"])
    row: dict[str, Any] = {
        "accuracy": acc["value"],
        "accuracy_lo": acc["lo"],
        "accuracy_hi": acc["hi"],
        "test_questions": acc["n"],
    }
    if cfg["k"]:
        for key in (f"maj@{cfg['k']}", f"Pass@{cfg['k']}", f"PassRatio@{cfg['k']}"):
            row[key] = metrics.get(key)
    if cfg["sets"]:
        from scalemath.datasets import load_problems

        for name, fid in cfg["sets"].items():
            probs = list(load_problems(fid["path"], limit=cfg["sets_limit"]))
            sdir = out / "sets" / f"{name}-{fid['sha256'][:8]}"  # a changed file never reuses old samples
            evaluate(engine, probs, k=0, temperature=cfg["temperature"], out_dir=sdir, **common)
            a = greedy_accuracy(sdir / "greedy.jsonl", cfg["bootstrap"], cfg["seed"])
            row.update({f"accuracy_{name}": a["value"], f"accuracy_{name}_lo": a["lo"], f"accuracy_{name}_hi": a["hi"]})
    leak = None
    if cfg["leakage"]:
        from scalemath.experiments.analyses import leakage_check

        lk = cfg["leakage"]
        model_obj, tok = getattr(engine, "model", None), getattr(engine, "tokenizer", None)
        if model_obj is None or tok is None:  # an engine without a local model (e.g. a server)
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tok = AutoTokenizer.from_pretrained(model)
            model_obj = AutoModelForCausalLM.from_pretrained(model)
        leak = leakage_check(
            model_obj,
            tok,
            problems,
            template=prompt,
            n=lk["n"],
            mode=lk["mode"],
            seed=lk["seed"],
            batch_size=lk["batch_size"],
            bootstrap=cfg["bootstrap"],
        )
        write_text(out / "leakage.json", json.dumps(leak, indent=2) + "\n")
        row.update({"leak_gap": leak["gap"], "leak_gap_lo": leak["gap_lo"], "leak_gap_hi": leak["gap_hi"]})
    del engine
    gc.collect()
    return {"row": results_row(cell, ctx, row, few), "leakage": leak, "timing": metrics.get("timing", {})}


def evaluate_sampled_n(engine: Any, problems: list, k: int, n: int, out_dir: Path, **common: Any) -> dict[str, Any]:
    """Greedy answers to every test question and k samples for the first n of them (`eval.sampled_n`),
    in one out_dir: metrics.json holds the sampled figures over n questions and greedy over all."""
    from scalemath.metrics.evaluate import evaluate

    greedy = evaluate(engine, problems, k=0, out_dir=out_dir, **common)
    # greedy samples of these questions are already in greedy.jsonl: only the k samples are drawn
    sampled = evaluate(engine, problems[:n], k=k, out_dir=out_dir, **common)
    metrics = {
        **sampled,
        "maj1@1": greedy["maj1@1"],
        "greedy": greedy["greedy"],
        "questions": len(problems),
        "sampled_questions": n,
        "timing": {**sampled["timing"], "greedy": greedy["timing"]["greedy"]},
    }
    write_text(Path(out_dir) / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def results_row(cell: Cell, ctx: RunContext, measured: dict[str, Any], few: dict[str, Any] | None) -> dict[str, Any]:
    """One results.csv row: what the cell is (method, data amount, k, ...) plus what was measured."""
    base = ctx.summaries.get(ctx.base_of(cell), {})
    row: dict[str, Any] = {"cell": cell.id.removeprefix("eval/"), "method": cell.method, "base_model": cell.base}
    if few:
        row.update({"shots": few["shots"], "data_size": None, "k": None, "distinct_paths": None})
    else:
        model = ctx.summaries.get(cell.deps[-1], {})
        tcfg = ctx.cells[cell.deps[-1]].config
        row.update(
            {
                "fraction": tcfg.get("fraction"),
                "seed": tcfg.get("seed"),
                "k": tcfg.get("k"),
                "data_size": model.get("data_size"),
                "questions": model.get("questions"),
                "distinct_paths": model.get("distinct_paths"),
                "train_seconds": model.get("train_seconds"),
                "train_steps": model.get("steps"),
                "train_epochs": model.get("epochs"),
                "train_tokens": model.get("train_tokens"),
            }
        )
        if tcfg.get("control"):
            row.update({"control": tcfg["control"], "control_of": tcfg["control_of"]})
        if tcfg.get("recipe") == "rft":
            # the SFT model whose samples the cell's D' came from (the first, for pooled cells)
            row["sft_source"] = tcfg.get("match_of") or ctx.cells[tcfg["samples"][0]].config["model"]
            if tcfg.get("match"):
                row["matched_to_source"] = tcfg["match"]
        if model.get("rft_distinct_paths") is not None and model.get("questions"):
            # the RFT paper's count: distinct sampled correct paths kept per question (D' alone)
            row["sampled_paths"] = round(model["rft_distinct_paths"] / model["questions"], 4)
            # of those, the ones whose equations differ from the question's reference solution
            row["new_paths"] = model.get("new_paths")
    row.update(measured)
    if cell.config.get("pretrain_loss", True):
        row["pretrain_loss"] = base.get("pretrain_loss")
    return row


ACTIONS: dict[str, Callable[[Cell, RunContext], dict[str, Any]]] = {
    "data": act_data,
    "base": act_base,
    "train": act_train,
    "sample": act_sample,
    "eval": act_eval,
}
