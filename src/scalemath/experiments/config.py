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
import os
import re
import types
import typing
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from scalemath.records import InputError


class StudyError(InputError):
    """A study file or mapping that does not describe a valid study; names the offending key."""


def _f(default: Any = dataclasses.MISSING, help: str = "", factory: Any = dataclasses.MISSING) -> Any:
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata={"help": help})
    return field(default=default, metadata={"help": help})


# ------------------------------------------------------------------------------------ sections

CONTROL_HELP = (
    "A compute-matched control beside each of these cells: the same recipe on D (the full training "
    "set) for the same optimizer steps, training tokens or epochs as the cell (steps | tokens | "
    "epochs; null = none). Cell id <series>-control/<base>/k<k>."
)


@dataclass
class BaseModelConfig:
    """A base model every trained cell starts from: the embedded tiny default or a checkpoint."""

    name: str = _f("tiny", "Label of the base in cell ids and results (letters, digits, - _ .).")
    path: str | None = _f(
        None,
        "Checkpoint directory or hub id; None builds the embedded tiny default "
        "(tokenizer + Llama trained from scratch on the procedural corpus).",
    )
    preset: str = _f("nano", "Tiny model shape (training.tiny.PRESETS: nano, micro, small, base).")
    tiny: dict[str, Any] = _f(help="TinyConfig overrides (hidden_size, num_layers, vocab_size, ...).", factory=dict)
    corpus_lines: int = _f(20000, "Lines of the procedural pre-training corpus.")
    corpus: dict[str, Any] = _f(
        help="Corpus overrides (datasets.pretrain_corpus.PretrainConfig: max_number, "
        "max_factor, weights); keep its arithmetic at the task's scale.",
        factory=dict,
    )
    pretrain_minutes: float | None = _f(1.0, "Wall-clock budget of pre-training (None: use pretrain.max_steps).")
    pretrain: dict[str, Any] = _f(
        help="PretrainConfig overrides (max_steps, batch_size, learning_rate, ...).", factory=dict
    )
    seed: int = _f(0, "Seed of the corpus, the weight initialisation and pre-training.")
    pretrain_loss: float | None = _f(
        None,
        "Known pre-training loss of a `path` model (a tiny base "
        "reports its own held-out loss); fills results' pretrain_loss.",
    )


@dataclass
class DataConfig:
    """Train and test problems: generated procedurally, or read from files."""

    source: str = _f("procedural", "procedural (the embedded generator) or files (train/test below).")
    train_n: int | None = _f(400, "procedural: training problems to generate; files: keep the first n (None = all).")
    test_n: int | None = _f(100, "procedural: test problems to generate; files: keep the first n (None = all).")
    steps: tuple[int, int] = _f((1, 3), "procedural: reasoning steps per problem (min, max).")
    number_range: tuple[int, int] = _f((2, 20), "procedural: operand range (min, max).")
    families: list[str] | None = _f(
        None,
        "procedural: scenario families (datasets.procedural.FAMILIES; "
        "None = all); fewer = less template diversity to learn.",
    )
    seed: int = _f(0, "procedural: generator seed.")
    solution_variety: str = _f(
        "none",
        "procedural: how reference solutions are written: none (one canonical "
        "path), orders (a random valid step order / equivalent program), forms "
        "(also operand orders); see datasets.procedural.ProceduralConfig.",
    )
    train: str | None = _f(None, "files: training problems (GSM8K / MATH / scalemath JSONL, any load_problems format).")
    test: str | None = _f(None, "files: test problems.")
    format: str = _f("auto", "files: format passed to datasets.load_problems.")
    dataset: str = _f("gsm8k", "Answer conventions of the grader (gsm8k, math).")


@dataclass
class SFTGridConfig:
    """The SFT cells: one per (base model, data fraction, seed), all starting from the base."""

    fractions: list[float] = _f(
        help="Fractions of the training set (nested: every fraction contains "
        'the smaller ones); numbers or strings like "1/8".',
        factory=lambda: [1.0],
    )
    seeds: list[int] = _f(help="Seeds of the data subset and training; one cell per seed.", factory=lambda: [0])
    template: str = _f(
        "qa",
        "Prompt template (scalemath.prompts name or .txt path) for training, sampling and evaluation; "
        "with chat: true it fills the user message (`question`: the bare question).",
    )
    chat: bool = _f(
        False,
        "Render every prompt with the base model's own chat template (its tokenizer's), as the CLI's "
        "--chat: SFT and RFT examples are written in it (target + the tokenizer's eos), and a trained "
        "model is sampled and evaluated with the prompt it was trained with (one PromptFormat). "
        "Needs base models whose tokenizer has a chat template (not the embedded tiny base).",
    )
    system: str | None = _f(
        None, "chat: a system message in every prompt (as --system; null: the chat template's own default)."
    )
    long_cot_weight: float = _f(
        0.0,
        "Resample each SFT cell's data with probability ~ steps ** weight "
        "(metrics.steps.long_cot_resample; 0 = off, > 0 favours long solutions).",
    )
    train: dict[str, Any] = _f(
        help="SFTRunConfig fields for every trained cell (epochs, learning_rate, "
        "max_steps, max_minutes, profile, ...); model/data/out/seed are set per cell, and "
        "chat/system come from sft.chat and sft.system.",
        factory=dict,
    )

    def __post_init__(self) -> None:
        # Each trained cell's config carries its prompt settings inside `train` (what SFTRunConfig
        # takes), so a model's fingerprint covers them and its sampling and evaluation cells, which
        # depend on it, render with the same PromptFormat (experiments.actions.cell_prompt). Added
        # only when set: studies without chat keep their cells' fingerprints.
        self.train = {**self.train, **prompt_settings(self.chat, self.system)}


#: the prompt settings of a study (sft.chat, sft.system) as trained cells carry them in `train`
PROMPT_KEYS = ("chat", "system")


def prompt_settings(chat: bool, system: str | None) -> dict[str, Any]:
    """The prompt fields a trained cell's `train` settings carry ({} for a plain template)."""
    out: dict[str, Any] = {}
    if chat:
        out["chat"] = True
    if system is not None:
        out["system"] = system
    return out


@dataclass
class SamplingConfig:
    """How RFT training paths are sampled from an SFT model."""

    temperature: float = _f(0.7, "Sampling temperature (the paper: 0.7).")
    top_p: float = _f(1.0, "Nucleus mass (1 = off).")
    top_k: int = _f(0, "Top-k (0 = off).")
    max_tokens: int = _f(256, "New tokens per completion.")
    seed: int = _f(
        0,
        "Base seed; sample i of a question uses a seed derived from (seed, prompt, i), "
        "so the first k samples of a k=100 run are the samples of a k run.",
    )
    engine: str = _f("hf", "Sampling engine (scalemath.sampling.ENGINES).")
    batch_size: int = _f(64, "Rows the transformers engine (hf) decodes together (vLLM batches itself).")
    engine_kwargs: dict[str, Any] = _f(help="Extra engine settings (device, dtype, threads, ...).", factory=dict)


@dataclass
class PooledConfig:
    """An RFT cell trained on the pooled samples of several SFT models (the paper pools models)."""

    name: str = _f("rft-pooled", "Series (method) name of the pooled cells.")
    fractions: list[float] = _f(help="SFT fractions whose models are pooled.", factory=lambda: [1.0])
    seeds: list[int] = _f(help="SFT seeds whose models are pooled (with every fraction).", factory=lambda: [0])
    k: list[int] = _f(
        help="Samples per question taken from each pooled model; one cell per value.", factory=lambda: [4]
    )
    control: str | None = _f(None, CONTROL_HELP)


@dataclass
class RFTAblation:
    """An RFT variant: other collection options or sampling temperature, as its own series."""

    name: str = _f("", "Series (method) name, e.g. rft-nodedupe.")
    k: list[int] | None = _f(None, "k values of this variant (None = rft.k).")
    temperature: float | None = _f(
        None, "Sampling temperature (None = rft.sampling.temperature); another temperature means another sampling run."
    )
    collect: dict[str, Any] = _f(
        help="RFTConfig overrides, e.g. {signature: none} for no de-duplication.", factory=dict
    )
    control: str | None = _f(None, CONTROL_HELP)


@dataclass
class RFTGridConfig:
    """The RFT cells: for each k, the first k samples per question of ONE sampling run at max k."""

    k: list[int] = _f(
        help="Samples per training question (the paper: 1, 3, 6, 12, 25, 50, 100); empty = no RFT.", factory=list
    )
    source_fraction: float = _f(1.0, "The SFT fraction whose model samples the RFT paths (paper: full data).")
    source_seed: int = _f(0, "The SFT seed whose model samples the RFT paths.")
    collect: dict[str, Any] = _f(
        help="RFTConfig fields (signature, tie_break, require_annotations_ok, include_original, grading, dataset).",
        factory=dict,
    )
    sampling: SamplingConfig = _f(help="Sampling settings.", factory=SamplingConfig)
    pooled: list[PooledConfig] = _f(help="Pooled-model cells.", factory=list)
    ablations: list[RFTAblation] = _f(help="Variant series (no dedupe, another temperature, ...).", factory=list)
    control: str | None = _f(None, CONTROL_HELP)
    match: str | None = _f(
        None,
        "Train every RFT cell (rft.k, ablations, pooled) for as much compute as the SFT "
        "source model (source_fraction, source_seed): steps | tokens | epochs; then each "
        "RFT cell and that SFT model are compute-matched and the report compares them "
        "question by question. null: the training recipe alone decides (the paper: the "
        "same epochs, so more steps for the larger D ∪ D').",
    )
    train: dict[str, Any] = _f(
        help="SFTRunConfig overrides for RFT cells on top of sft.train "
        "(default: the same recipe, from the base model).",
        factory=dict,
    )


@dataclass
class AugmentSet:
    """Augmented data (e.g. MuggleMath files): SFT on D plus the first n augmented records."""

    name: str = _f("", "Series (method) name.")
    path: str = _f("", "Problem-shaped JSONL (question + solution) of augmented data.")
    amounts: list[int | None] = _f(
        help="Augmented records to add (a nested prefix of the file); None = all; one cell per amount.",
        factory=lambda: [None],
    )
    with_original: bool = _f(True, "Train on D ∪ A (True) or on A alone.")
    format: str = _f("auto", "Format passed to datasets.load_problems.")
    control: str | None = _f(None, CONTROL_HELP.replace("/k<k>", "/n<amount>"))


@dataclass
class EvalConfig:
    """Evaluation of every trained model on the test split (and extra sets)."""

    k: int = _f(0, "Samples per test question for maj@k / pass@k (0 = greedy only).")
    temperature: float = _f(0.7, "Temperature of the k samples.")
    max_tokens: int = _f(256, "New tokens per completion.")
    seed: int = _f(0, "Base sampling seed.")
    engine: str = _f("hf", "Sampling engine.")
    batch_size: int = _f(64, "Rows the transformers engine (hf) decodes together (vLLM batches itself).")
    engine_kwargs: dict[str, Any] = _f(help="Extra engine settings (device, dtype, threads, ...).", factory=dict)
    bootstrap: int = _f(1000, "Bootstrap replicates for accuracy intervals (0 = none).")
    sets_limit: int | None = _f(None, "Evaluate only the first n problems of each set in eval_sets.")


@dataclass
class FewShotConfig:
    """Few-shot chain-of-thought evaluation of each base model (no training)."""

    shots: list[int] = _f(help="Exemplar counts; one cell per value per base (empty = off).", factory=list)
    template: str = _f("fewshot_qa", "Frame template with {exemplars} and {question}.")
    exemplar_template: str = _f("fewshot_qa_exemplar", "Exemplar template with {question} and {solution}.")
    separator: str = _f("\n\n", "Text between exemplars (and before the question).")
    seed: int = _f(0, "Seed of the exemplar draw from the train split.")
    stop: list[str] = _f(
        help="Stop strings (the model would go on with the next question).", factory=lambda: ["\n\n", "\nQ:"]
    )


@dataclass
class LeakageConfig:
    """Xwin-Math's leakage check: LM loss on test problems vs the same problems with new numbers."""

    enabled: bool = _f(False, "Run the check in every evaluation (column leak_gap).")
    n: int = _f(100, "Test problems checked.")
    mode: str = _f(
        "auto",
        "solution: loss on the solution given the question, with procedural problems "
        "regenerated from their programs; question: loss on the question text with its "
        "numbers swapped (any dataset); auto: solution when the problems carry programs.",
    )
    seed: int = _f(0, "Seed of the new numbers.")
    batch_size: int = _f(16, "Sequences per forward pass.")
    control: bool = _f(
        False,
        "Also train a deliberately leaked model (SFT on train + test) per base, "
        "so the study shows what a leak looks like.",
    )


@dataclass
class LongCotConfig:
    """Extra SFT series trained on data resampled towards long solutions."""

    weights: list[float] = _f(help="long_cot_resample weights; one series per value (empty = off).", factory=list)
    fractions: list[float] = _f(help="Fractions trained for each weight.", factory=lambda: [1.0])


@dataclass
class AnalysesConfig:
    """Analyses run beside the grid."""

    fewshot: FewShotConfig = _f(help="Few-shot CoT evaluation of base models.", factory=FewShotConfig)
    leakage: LeakageConfig = _f(help="Test-set leakage check.", factory=LeakageConfig)
    long_cot: LongCotConfig = _f(help="Long-CoT resampled SFT series.", factory=LongCotConfig)
    pretrain_loss: bool = _f(
        True,
        "Record each base's pre-training loss in the results (and, with "
        "several bases, write pretrain_loss/results.csv: accuracy vs loss).",
    )


@dataclass
class StudyConfig:
    """A whole study: what to train, sample and evaluate, and which analyses to run."""

    name: str = _f("", "Study name (default run directory runs/<name>; default: the file's stem).")
    description: str = _f("", "Free text, copied into the run directory.")
    threads: int | None = _f(
        None,
        "torch CPU threads for pre-training, training and sampling (None: the "
        "default of every command, scalemath.threads: all the CPUs this process may "
        "use). 1 on a small CPU shared with other heavy work (docs/scale.md). Not part "
        "of any cell's fingerprint.",
    )
    workers: int = _f(
        1,
        "Cells run side by side at most: cells whose dependencies are finished run in this many "
        "processes at once (needs `threads`; each cell computes what it would alone, so this changes "
        "the wall time, never the numbers). Each worker process loads torch first, so it pays off for "
        "cells of minutes, not seconds. Not part of any cell's fingerprint.",
    )
    base_models: list[BaseModelConfig] = _f(
        help="Base models; the grid is repeated for each.", factory=lambda: [BaseModelConfig()]
    )
    data: DataConfig = _f(help="Train/test problems.", factory=DataConfig)
    sft: SFTGridConfig = _f(help="SFT cells.", factory=SFTGridConfig)
    rft: RFTGridConfig = _f(help="RFT cells.", factory=RFTGridConfig)
    augment: list[AugmentSet] = _f(help="Augmented-data series.", factory=list)
    eval: EvalConfig = _f(help="Evaluation settings.", factory=EvalConfig)
    eval_sets: dict[str, str] = _f(
        help="Out-of-domain evaluation sets, name -> problems file (any "
        "load_problems format), evaluated greedily with every model; each adds "
        "accuracy_<name> columns and eval_sets/<name>/results.csv.",
        factory=dict,
    )
    analyses: AnalysesConfig = _f(help="Analyses.", factory=AnalysesConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Any, where: str = "study") -> StudyConfig:
        """Build and validate a study from a mapping (as read from YAML)."""
        study = _build(cls, d, where)
        raw = d.get("sft") if isinstance(d, dict) else None
        raw_train = raw.get("train") if isinstance(raw, dict) else None
        if not isinstance(raw_train, dict):
            raw_train = {}
        for key in PROMPT_KEYS:
            if key in raw_train and raw_train[key] != study.sft.train.get(key):  # overridden by sft.<key>
                raise StudyError(f"{where}.sft.train.{key}: set by sft.{key} (one prompt format for the whole study)")
        validate(study, where)
        return study


def load_study(path: str | os.PathLike) -> StudyConfig:
    """Read and validate a study YAML file; errors name the file and the key."""
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
        return StudyConfig.from_dict(d, str(p))
    except StudyError as e:
        raise StudyError(located(str(e), str(p), lines)) from None


_KEY_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def located(message: str, prefix: str, lines: dict[tuple, int]) -> str:
    """`PREFIX.a.b[0].c: what` as `PREFIX:LINE: a.b[0].c: what`, LINE being where the deepest of
    those keys that the file writes is (study errors name their key; the file's lines say where)."""
    if not message.startswith(prefix + "."):
        return message
    rest, pos = message[len(prefix) :], 0
    path: tuple[str | int, ...] = ()
    best = None
    while m := _KEY_PART.match(rest, pos):
        path = (*path, m.group(1) if m.group(1) is not None else int(m.group(2)))
        best = lines.get(path, best)
        pos = m.end()
    if best is None or not rest.startswith(": ", pos):
        return message
    return f"{prefix}:{best}: {rest[1:pos]}{rest[pos:]}"


# ---------------------------------------------------------------------------------- parsing


def parse_fraction(v: Any, where: str) -> float:
    """A data fraction in (0, 1]: a number or a string such as "1/8"."""
    try:
        x = float(Fraction(v)) if isinstance(v, str) else float(v)
    except (ValueError, ZeroDivisionError, TypeError):
        raise StudyError(f'{where}: expected a fraction such as 0.25 or "1/4", got {v!r}') from None
    if isinstance(v, bool) or not 0 < x <= 1:
        raise StudyError(f"{where}: a fraction must be in (0, 1], got {v!r}")
    return x


_FRACTION_FIELDS = {"fractions", "source_fraction"}


def _build(cls: type, d: Any, where: str) -> Any:
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise StudyError(f"{where}: expected a mapping of {cls.__name__} fields, got {type(d).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in d:
        if key not in fields:
            raise StudyError(f"{where}: unknown key {key!r}; known: {', '.join(fields)}")
    kw = {name: _convert(hints[name], d[name], f"{where}.{name}", name) for name in d}
    return cls(**kw)


def _convert(tp: Any, v: Any, where: str, name: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if v is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _convert(options[0], v, where, name)
        for a in options:  # e.g. float | str: the first that accepts the value
            try:
                return _convert(a, v, where, name)
            except StudyError:
                continue
        raise StudyError(f"{where}: unexpected value {v!r}")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):  # a section class (hints hold no instances)
        return _build(tp, v, where)
    if origin is list:
        if not isinstance(v, list):
            raise StudyError(f"{where}: expected a list, got {v!r}")
        return [_convert(args[0], x, f"{where}[{i}]", name) for i, x in enumerate(v)]
    if origin is tuple:
        if not isinstance(v, (list, tuple)) or len(v) != len(args):
            raise StudyError(f"{where}: expected a list of {len(args)} values, got {v!r}")
        return tuple(_convert(a, x, f"{where}[{i}]", name) for i, (a, x) in enumerate(zip(args, v)))
    if origin is dict:
        if not isinstance(v, dict):
            raise StudyError(f"{where}: expected a mapping, got {v!r}")
        return {str(k): (x if args[1] is Any else _convert(args[1], x, f"{where}.{k}", name)) for k, x in v.items()}
    if tp is Any:
        return v
    if tp is bool:
        if not isinstance(v, bool):
            raise StudyError(f"{where}: expected true or false, got {v!r}")
        return v
    if tp is int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise StudyError(f"{where}: expected an integer, got {v!r}")
        return v
    if tp is float:
        if name in _FRACTION_FIELDS:
            return parse_fraction(v, where)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise StudyError(f"{where}: expected a number, got {v!r}")
        return float(v)
    if tp is str:
        if not isinstance(v, str):
            raise StudyError(f"{where}: expected a string, got {v!r}")
        return v
    raise StudyError(f"{where}: unsupported field type {tp}")  # a bug in the dataclasses above


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
        if b.path is None:
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
        if p.name in names:
            raise StudyError(f"{w}.name: series name {p.name!r} is taken")
        names.add(p.name)
        _control(p.control, f"{w}.control")
        if p.control:
            _series(f"{p.name}-control", names, f"{w}.control")
    for i, a in enumerate(s.rft.ablations):
        w = f"{where}.rft.ablations[{i}]"
        _name(a.name, f"{w}.name")
        if a.name in names:
            raise StudyError(f"{w}.name: series name {a.name!r} is taken")
        names.add(a.name)
        _control(a.control, f"{w}.control")
        if a.control:
            _series(f"{a.name}-control", names, f"{w}.control")
        _check_fields(RFTConfig, a.collect, f"{w}.collect", reserved=("workers",))
        ks = a.k if a.k is not None else s.rft.k
        if not ks:
            raise StudyError(f"{w}.k: no k values (set k here or rft.k)")
        _positive(ks, f"{w}.k")
        if a.temperature is not None and a.temperature < 0:
            raise StudyError(f"{w}.temperature: must be >= 0")
    for i, aug in enumerate(s.augment):
        w = f"{where}.augment[{i}]"
        _name(aug.name, f"{w}.name")
        if aug.name in names:
            raise StudyError(f"{w}.name: series name {aug.name!r} is taken")
        names.add(aug.name)
        _control(aug.control, f"{w}.control")
        if aug.control:
            _series(f"{aug.name}-control", names, f"{w}.control")
        if not aug.path:
            raise StudyError(f"{w}.path: the augmented data file is required")
        if not aug.amounts:
            raise StudyError(f"{w}.amounts: at least one amount (or null for all)")
        _positive([n for n in aug.amounts if n is not None], f"{w}.amounts")
    for name in s.eval_sets:
        _name(name, f"{where}.eval_sets")
    if s.eval.k < 0:
        raise StudyError(f"{where}.eval.k: must be >= 0")
    fs = s.analyses.fewshot
    if any(n < 0 for n in fs.shots):
        raise StudyError(f"{where}.analyses.fewshot.shots: must be >= 0")
    lk = s.analyses.leakage
    if lk.mode not in ("auto", "solution", "question"):
        raise StudyError(f"{where}.analyses.leakage.mode: must be auto, solution or question")
    if lk.n <= 0:
        raise StudyError(f"{where}.analyses.leakage.n: must be > 0")


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


def _series(name: str, names: set[str], where: str) -> None:
    if name in names:
        raise StudyError(f"{where}: the control series name {name!r} is taken")
    names.add(name)


def _positive(values: list[int], where: str) -> None:
    bad = [v for v in values if v <= 0]
    if bad:
        raise StudyError(f"{where}: values must be > 0, got {bad}")


def field_docs(cls: type = StudyConfig, prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted key, default, help) of every study field, nested sections expanded."""
    out = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        tp = hints[f.name]
        inner = typing.get_args(tp)[0] if typing.get_origin(tp) is list and typing.get_args(tp) else None
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):  # a section class (hints hold no instances)
            out.append((key, "", f.metadata.get("help", "")))
            out += field_docs(tp, key + ".")
        elif isinstance(inner, type) and dataclasses.is_dataclass(inner):
            out.append((key + "[]", "", f.metadata.get("help", "")))
            out += field_docs(inner, key + "[].")
        else:
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            out.append((key, repr(default), f.metadata.get("help", "")))
    return out
