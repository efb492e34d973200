"""One study = one YAML file, mirrored by `StudyConfig` (every field documented below).

A study names base model(s), data, the SFT data fractions, the RFT k values, pooled and ablation
variants, augmented data files, evaluation settings and the analyses to run; `experiments.grid`
expands it into cells and `experiments.runner` executes them. Unknown keys are errors that name
the key and where it sits (e.g. `rft.ablations[0]: unknown key 'signatur'`).

Paths in a study (data files, model paths, eval sets, augmented data) are taken relative to the
current working directory, like any other command-line path.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalemath.experiments.study_parse import StudyError, build, located
from scalemath.experiments.study_parse import field_docs as _field_docs
from scalemath.experiments.study_sections import (
    PROMPT_KEYS,
    AnalysesConfig,
    AugmentSet,
    BaseModelConfig,
    DataConfig,
    EvalConfig,
    RFTGridConfig,
    SFTGridConfig,
    prompt_settings,
    setting,
)
from scalemath.records import InputError

__all__ = ["PROMPT_KEYS", "BaseModelConfig", "StudyConfig", "StudyError", "field_docs", "load_study", "validate"]


@dataclass
class StudyConfig:
    """A whole study: what to train, sample and evaluate, and which analyses to run."""

    name: str = setting("", "Study name (default run directory runs/<name>; default: the file's stem).")
    description: str = setting("", "Free text, copied into the run directory.")
    threads: int | None = setting(
        None,
        "torch CPU threads for pre-training, training and sampling (None: the "
        "default of every command, scalemath.threads: all the CPUs this process may "
        "use). 1 on a small CPU shared with other heavy work (docs/scale.md). Not part "
        "of any cell's fingerprint.",
    )
    workers: int = setting(
        1,
        "Cells run side by side at most: cells whose dependencies are finished run in this many "
        "processes at once (needs `threads`; each cell computes what it would alone, so this changes "
        "the wall time, never the numbers). Each worker process loads torch first, so it pays off for "
        "cells of minutes, not seconds. Not part of any cell's fingerprint.",
    )
    plan_controls: bool = setting(
        False,
        "Compute-matched controls and matched ablations take their reference cell's compute from its "
        "training plan (training.plan: its data tokenized and batched as its training will, before it "
        "trains) instead of its finished run, so they train beside it (workers > 1); the runner then "
        "checks that the reference trained the planned steps.",
    )
    base_models: list[BaseModelConfig] = setting(
        help="Base models; the grid is repeated for each.", factory=lambda: [BaseModelConfig()]
    )
    data: DataConfig = setting(help="Train/test problems.", factory=DataConfig)
    sft: SFTGridConfig = setting(help="SFT cells.", factory=SFTGridConfig)
    rft: RFTGridConfig = setting(help="RFT cells.", factory=RFTGridConfig)
    augment: list[AugmentSet] = setting(help="Augmented-data series.", factory=list)
    eval: EvalConfig = setting(help="Evaluation settings.", factory=EvalConfig)
    eval_sets: dict[str, str] = setting(
        help="Out-of-domain evaluation sets, name -> problems file (any "
        "load_problems format), evaluated greedily with every model; each adds "
        "accuracy_<name> columns and eval_sets/<name>/results.csv.",
        factory=dict,
    )
    analyses: AnalysesConfig = setting(help="Analyses.", factory=AnalysesConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Any, where: str = "study") -> StudyConfig:
        """Build and validate a study from a mapping (as read from YAML)."""
        study = build(cls, d, where)
        raw = d.get("sft") if isinstance(d, dict) else None
        raw_train = raw.get("train") if isinstance(raw, dict) else None
        if not isinstance(raw_train, dict):
            raw_train = {}
        for key in PROMPT_KEYS:
            if key in raw_train and raw_train[key] != study.sft.train.get(key):  # overridden by sft.<key>
                raise StudyError(f"{where}.sft.train.{key}: set by sft.{key} (one prompt format for the whole study)")
        validate(study, where)
        return study


def load_study(
    path: str | os.PathLike, overrides: Callable[[dict[str, Any]], dict[str, Any]] | None = None
) -> StudyConfig:
    """Read and validate a study YAML file; errors name the file and the key (and its line).
    `overrides`: a command's changes, applied to the typed study's mapping before validation."""
    from scalemath.inputs import load_yaml

    p = Path(path)
    try:  # bounded: file size, lines, alias expansion; bytes named by line
        d, lines = load_yaml(p, what="study", allow_empty=False)
    except FileNotFoundError:
        raise StudyError(f"{p}: no such study file") from None
    except InputError as e:
        raise StudyError(str(e)) from None
    if d is None:
        raise StudyError(
            f"{p}: no study in it (only comments or blank lines); `scalemath experiment fields` lists what a study sets"
        )
    if isinstance(d, dict) and not d.get("name"):
        d = {**d, "name": p.stem}
    try:
        if overrides is not None:
            d = overrides(build(StudyConfig, d, str(p)).to_dict())
        return StudyConfig.from_dict(d, str(p))
    except StudyError as e:
        raise StudyError(located(str(e), str(p), lines)) from None


# ------------------------------------------------------------------------------- validation

_NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def _name(value: str, where: str) -> None:
    if not value or not set(value) <= _NAME_OK or value in (".", ".."):
        raise StudyError(f"{where}: {value!r} is not a usable name (letters, digits, - _ . only)")


def _check_fields(cls: type, d: dict[str, Any], where: str, reserved: tuple[str, ...] = ()) -> None:
    known = {f.name for f in dataclasses.fields(cls)}
    for key in d:
        if key in reserved:
            raise StudyError(f"{where}: {key!r} is set by the runner for each cell")
        if key not in known:
            raise StudyError(f"{where}: unknown key {key!r}; known: {', '.join(sorted(known - set(reserved)))}")


def validate(s: StudyConfig, where: str = "study") -> None:
    """Cross-field checks (names, choices, positive counts, config pass-throughs)."""
    from scalemath.methods.rft import RFTConfig
    from scalemath.training.sft import SFTRunConfig

    _name(s.name, f"{where}.name")
    if s.threads is not None and s.threads < 1:
        raise StudyError(f"{where}.threads: must be >= 1 (or null)")
    if s.workers < 1 or (s.workers > 1 and s.threads is None):
        raise StudyError(f"{where}.workers: must be >= 1, and > 1 only with threads set (cells share the CPU)")
    if not s.base_models:
        raise StudyError(f"{where}.base_models: at least one base model is needed")
    seen: set[str] = set()
    for i, b in enumerate(s.base_models):
        w = f"{where}.base_models[{i}]"
        _name(b.name, f"{w}.name")
        if b.name in seen:
            raise StudyError(f"{w}.name: duplicate base model name {b.name!r}")
        seen.add(b.name)
        if b.recipe is not None or b.shipped:
            _check_recipe(b, w)
        elif b.path is None:
            if b.pretrain_minutes is None and not b.pretrain.get("max_steps"):
                raise StudyError(f"{w}: set pretrain_minutes or pretrain.max_steps")
            from scalemath.datasets.pretrain_corpus import PretrainConfig as CorpusConfig

            _check_fields(CorpusConfig, b.corpus, f"{w}.corpus", ("seed", "n_lines", "n_chars"))
    d = s.data
    if d.source not in ("procedural", "files"):
        raise StudyError(f"{where}.data.source: must be procedural or files, got {d.source!r}")
    if d.source == "files" and not (d.train and d.test):
        raise StudyError(f"{where}.data: source files needs both train and test paths")
    from scalemath.datasets.procedural_core import FAMILY_NAMES, SOLUTION_VARIETIES, unknown_families

    if (unknown := unknown_families(d.families)) is not None:
        raise StudyError(f"{where}.data.families: unknown {unknown or 'empty list'}; known: {sorted(FAMILY_NAMES)}")

    if d.solution_variety not in SOLUTION_VARIETIES:
        raise StudyError(f"{where}.data.solution_variety: must be one of {', '.join(SOLUTION_VARIETIES)}")
    if d.source == "procedural" and not (d.train_n and d.test_n):
        raise StudyError(f"{where}.data: procedural data needs train_n and test_n > 0")
    for key in ("train_n", "test_n"):
        if getattr(d, key) is not None and getattr(d, key) <= 0:
            raise StudyError(f"{where}.data.{key}: must be > 0")
    reserved = ("model", "data", "out", "seed", "fraction", "template")
    _check_fields(SFTRunConfig, s.sft.train, f"{where}.sft.train", reserved)
    for key in PROMPT_KEYS:
        if key in s.rft.train:
            raise StudyError(f"{where}.rft.train.{key}: set by sft.{key} (one prompt format for the whole study)")
    _check_fields(SFTRunConfig, s.rft.train, f"{where}.rft.train", reserved)
    sft_epochs, rft_epochs = s.sft.train.get("epochs"), s.rft.train.get("epochs")
    if isinstance(sft_epochs, int | float) and isinstance(rft_epochs, int | float) and rft_epochs < sft_epochs:
        raise StudyError(
            f"{where}.rft.train.epochs: {rft_epochs:g} < sft.train.epochs {sft_epochs:g}: RFT would train fewer "
            "steps than SFT (the paper trains RFT for SFT's epochs)"
        )
    _check_prompt(s, where)
    if not s.sft.fractions:
        raise StudyError(f"{where}.sft.fractions: at least one fraction is needed")
    if not s.sft.seeds:
        raise StudyError(f"{where}.sft.seeds: at least one seed is needed")
    _check_fields(RFTConfig, s.rft.collect, f"{where}.rft.collect", reserved=("workers",))
    _positive(s.rft.k, f"{where}.rft.k")
    names = {"sft", "rft", "fewshot"}
    _control(s.rft.control, f"{where}.rft.control")
    _control(s.rft.match, f"{where}.rft.match")
    if s.rft.control:
        names.add("rft-control")
    for i, p in enumerate(s.rft.pooled):
        w = f"{where}.rft.pooled[{i}]"
        _name(p.name, f"{w}.name")
        _positive(p.k, f"{w}.k")
        if not p.k or not p.fractions or not p.seeds:
            raise StudyError(f"{w}: needs k, fractions and seeds")
        _add_series(p.name, p.control, names, w)
    for i, a in enumerate(s.rft.ablations):
        w = f"{where}.rft.ablations[{i}]"
        _name(a.name, f"{w}.name")
        _add_series(a.name, a.control, names, w)
        _check_fields(RFTConfig, a.collect, f"{w}.collect", reserved=("workers",))
        ks = a.k if a.k is not None else s.rft.k
        if not ks:
            raise StudyError(f"{w}.k: no k values (set k here or rft.k)")
        _positive(ks, f"{w}.k")
        _control(a.match, f"{w}.match")
        if a.match and s.rft.match:
            raise StudyError(f"{w}.match: rft.match already matches every RFT cell to its SFT source; set one")
        if a.match and set(ks) - set(s.rft.k):
            raise StudyError(
                f"{w}.match: no rft cell to match for k {sorted(set(ks) - set(s.rft.k))} (rft.k: {s.rft.k})"
            )
        if a.temperature is not None and a.temperature < 0:
            raise StudyError(f"{w}.temperature: must be >= 0")
    for i, aug in enumerate(s.augment):
        w = f"{where}.augment[{i}]"
        _name(aug.name, f"{w}.name")
        _add_series(aug.name, aug.control, names, w)
        if not aug.path:
            raise StudyError(f"{w}.path: the augmented data file is required")
        if not aug.amounts:
            raise StudyError(f"{w}.amounts: at least one amount (or null for all)")
        _positive([n for n in aug.amounts if n is not None], f"{w}.amounts")
    for name in s.eval_sets:
        _name(name, f"{where}.eval_sets")
    if s.eval.k < 0:
        raise StudyError(f"{where}.eval.k: must be >= 0")
    if s.eval.sampled_n is not None and s.eval.sampled_n <= 0:
        raise StudyError(f"{where}.eval.sampled_n: must be > 0 (or null: every test question)")
    fs = s.analyses.fewshot
    if any(n < 0 for n in fs.shots):
        raise StudyError(f"{where}.analyses.fewshot.shots: must be >= 0")
    lk = s.analyses.leakage
    if lk.mode not in ("auto", "solution", "question"):
        raise StudyError(f"{where}.analyses.leakage.mode: must be auto, solution or question")
    if lk.n <= 0:
        raise StudyError(f"{where}.analyses.leakage.n: must be > 0")


def _check_recipe(b: BaseModelConfig, where: str) -> None:
    """A base built by a recorded recipe (training.tiny.BaseRecipe), or the shipped one built by it."""
    from scalemath.training.tiny import RECIPE_FILE, SHIPPED_BASE, BaseRecipe

    if b.recipe is None:
        raise StudyError(
            f"{where}.shipped: the shipped base is named by its recipe (set recipe, {{}} for its defaults)"
        )
    if b.path is not None:
        raise StudyError(f"{where}.recipe: a base is built by a recipe or read from a path, not both")
    _check_fields(BaseRecipe, b.recipe, f"{where}.recipe")
    for key, value in b.recipe.items():
        if key == "model_preset":
            ok = isinstance(value, str)
        else:
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= (0 if key == "seed" else 1)
        if not ok:
            what = "a preset name" if key == "model_preset" else "a count"
            raise StudyError(f"{where}.recipe.{key}: expected {what}, got {value!r}")
    if b.shipped:
        shipped = json.loads((SHIPPED_BASE / RECIPE_FILE).read_text())["recipe"]
        wanted = dataclasses.asdict(BaseRecipe(**b.recipe))
        if shipped != wanted:
            diff = ", ".join(
                f"{k} {wanted[k]!r} (shipped: {shipped.get(k)!r})" for k in wanted if wanted[k] != shipped.get(k)
            )
            raise StudyError(
                f"{where}.recipe: the shipped base was built with another recipe: {diff}; "
                "shipped: false (the demo's --pretrain) builds this one"
            )


def _check_prompt(s: StudyConfig, where: str) -> None:
    """The study's prompt (sft.template, sft.chat, sft.system) renders: checked before any model
    loads, as the CLI checks --template/--chat/--system (the tokenizer's chat template is checked
    in `validate_models`)."""
    from scalemath.prompts import PromptFormat

    sft = s.sft
    shown = {k: v for k, v in sft.train.items() if k in PROMPT_KEYS}
    if shown != prompt_settings(sft.chat, sft.system):
        key = next(k for k in PROMPT_KEYS if shown.get(k) != prompt_settings(sft.chat, sft.system).get(k))
        raise StudyError(f"{where}.sft.train.{key}: set it as sft.{key} (one prompt format for the whole study)")
    if sft.system is not None and not sft.chat:
        raise StudyError(f"{where}.sft.system: a system message needs sft.chat: true")
    if sft.chat:
        tiny = [i for i, b in enumerate(s.base_models) if b.path is None]
        if tiny:
            raise StudyError(
                f"{where}.base_models[{tiny[0]}]: sft.chat renders the base model's chat template, and the "
                "embedded tiny base has none (give a `path` to an instruct model, or drop sft.chat)"
            )
    try:  # chat left to a tokenizer checked later: here the template and its fields
        PromptFormat(sft.template, chat=sft.chat, system=sft.system).check()
    except InputError as e:
        raise StudyError(f"{where}.sft.template: {e}") from None


def validate_models(s: StudyConfig, where: str = "study") -> None:
    """The checks that need torch (tiny presets, TinyConfig / PretrainConfig keys) or a model's
    files (the chat template of each base, with sft.chat); the runner calls them before running
    anything (kept out of `validate` so listing a study stays fast)."""
    from scalemath.training.pretrain import PretrainConfig
    from scalemath.training.tiny import PRESETS, TinyConfig

    for i, b in enumerate(s.base_models):
        w = f"{where}.base_models[{i}]"
        if b.path is None:
            if b.preset not in PRESETS:
                raise StudyError(f"{w}.preset: unknown preset {b.preset!r}; known: {', '.join(PRESETS)}")
            _check_fields(TinyConfig, b.tiny, f"{w}.tiny", reserved=("seed",))
            _check_fields(PretrainConfig, b.pretrain, f"{w}.pretrain", reserved=("minutes", "seed"))
        elif s.sft.chat:
            from scalemath.prompts import prompt_format

            try:
                prompt_format(s.sft.template, chat=True, system=s.sft.system, model=b.path)
            except InputError as e:
                raise StudyError(f"{w}.path: {e}") from None


def _control(value: str | None, where: str) -> None:
    from scalemath.training.control import KINDS

    if value is not None and value not in KINDS:
        raise StudyError(f"{where}: must be one of {', '.join(KINDS)} (or null), got {value!r}")


def _add_series(name: str, control: str | None, names: set[str], where: str) -> None:
    """Claim a named series (`where` is its section) and its control series, when it has one, in `names`."""
    if name in names:
        raise StudyError(f"{where}.name: series name {name!r} is taken")
    names.add(name)
    _control(control, f"{where}.control")
    if control:
        _series(f"{name}-control", names, f"{where}.control")


def _series(name: str, names: set[str], where: str) -> None:
    if name in names:
        raise StudyError(f"{where}: the control series name {name!r} is taken")
    names.add(name)


def _positive(values: list[int], where: str) -> None:
    bad = [v for v in values if v <= 0]
    if bad:
        raise StudyError(f"{where}: values must be > 0, got {bad}")


def field_docs(cls: type | None = None, prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted key, default, help) of every study field, nested sections expanded."""
    return _field_docs(StudyConfig if cls is None else cls, prefix)
