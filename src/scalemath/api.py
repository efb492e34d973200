"""The public Python API: the pipeline's verbs as plain functions (`from scalemath import sample`).

Each function is a thin, documented call into the module that owns the step; nothing here is a
second implementation. Heavy libraries (torch, transformers, TRL, SciPy) load inside the functions
that need them, so `import scalemath` stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from scalemath.answers import Verdict
from scalemath.methods.rft_config import RFTConfig, RFTStats
from scalemath.records import Problem, Sample, read_samples, write_jsonl
from scalemath.sampling import load_engine
from scalemath.sampling.engine import Engine, SamplingParams

if TYPE_CHECKING:
    from scalemath.scaling.fit import FitResult

__all__ = [
    "Engine",
    "Problem",
    "RFTConfig",
    "RFTStats",
    "Sample",
    "SamplingParams",
    "Verdict",
    "collect_rft",
    "compare",
    "evaluate",
    "fit",
    "generate_problems",
    "grade",
    "grade_samples",
    "load_engine",
    "load_problems",
    "read_samples",
    "sample",
    "summarize_samples",
    "train",
    "write_jsonl",
]

PathLike = str | os.PathLike


def load_problems(
    source: PathLike, *, format: str = "auto", split: str | None = None, limit: int | None = None
) -> list[Problem]:
    """Read problems from a file, folder or Hugging Face dataset.

    Args:
        source: a GSM8K / MATH / MATH-500 / RFT-repo / scalemath JSONL file, a folder, a parquet or
            csv file, or a Hugging Face dataset id.
        format: "auto" (detected from the first record's keys) or one of
            `scalemath.datasets.FORMATS`.
        split: the split to label the problems with (and to pick from a dataset with splits).
        limit: stop after this many problems.

    Returns:
        The problems, in file order, with stable ids.
    """
    from scalemath.datasets import load_problems as _load

    return list(_load(source, format=format, split=split, limit=limit))


def generate_problems(
    n: int, *, seed: int = 0, split: str = "train", steps: tuple[int, int] = (1, 3), **options: Any
) -> list[Problem]:
    """Make GSM8K-style problems procedurally (no download; the demo's data).

    Args:
        n: how many problems.
        seed: the same seed and options give the same problems.
        split: "train", "validation" or "test"; splits never share a question or a structure.
        steps: inclusive range of reasoning steps per problem (each within 1..6).
        **options: any other `scalemath.datasets.procedural.ProceduralConfig` field
            (number_range, families, solution_variety, ...).

    Returns:
        `n` unique problems with question, worked solution (`<<a*b=c>>` annotations) and answer.
    """
    from scalemath.datasets.procedural import generate

    return generate(n, steps=steps, seed=seed, split=split, **options)


def sample(
    problems: Iterable[Problem],
    model: PathLike | Engine,
    *,
    out: PathLike,
    k: int = 4,
    temperature: float = 0.7,
    max_tokens: int = 256,
    seed: int = 0,
    stop: Sequence[str] = (),
    template: str = "qa",
    dataset: str = "gsm8k",
    engine: str = "hf",
    progress: bool = False,
    **engine_options: Any,
) -> list[Sample]:
    """Draw `k` graded samples per problem and append them to `out` (resumable), as
    `scalemath sample` does.

    Args:
        problems: the problems to prompt with (ids unique).
        model: a checkpoint directory or hub id (loaded with `engine`), or a ready `Engine`.
        out: the sample JSONL file; samples already in it (same settings) are not drawn again.
        k: samples per problem.
        temperature: sampling temperature (0: greedy).
        max_tokens: completion length limit in tokens.
        seed: base of every per-sample seed (same seed, same samples).
        stop: stop strings.
        template: prompt template name or path (`scalemath.prompts`).
        dataset: answer conventions for grading ("gsm8k", "math", ...).
        engine: "hf", "vllm", "openai" or "fake", when `model` is not an Engine.
        progress: show a progress bar.
        **engine_options: constructor options of the engine (batch_size, device, dtype, ...).

    Returns:
        The samples of these problems in `out`, graded (`correct`, `extracted`, `reason`).
    """
    from scalemath.sampling.run import sample_problems

    problems = list(problems)
    eng = cast(Engine, model) if hasattr(model, "generate") else load_engine(engine, model, **engine_options)
    params = SamplingParams(temperature=temperature, max_tokens=max_tokens, seed=seed, stop=tuple(stop))
    sample_problems(problems, eng, params, k, template, out, dataset=dataset, progress=progress)
    ids = {p.id for p in problems}
    return [s for s in read_samples(out) if s.problem_id in ids and s.sample_index < k]


def grade(prediction: str, reference: str, dataset: str = "auto", **policy: Any) -> Verdict:
    """Grade one answer (a full solution text or a bare answer) against a reference.

    Args:
        prediction: the model's text or final answer.
        reference: the reference solution or answer.
        dataset: "gsm8k", "math" or "auto" (answer conventions).
        **policy: `scalemath.answers.GradePolicy` options (tolerances, units, timeout_s, ...).

    Returns:
        A `Verdict`: correct, reason ("match", "mismatch", "no_answer", ...), extracted, reference.
    """
    from scalemath.answers import grade as _grade

    return _grade(prediction, reference, dataset, **policy)


def grade_samples(samples: Iterable[Sample], dataset: str = "gsm8k", *, regrade: bool = False) -> list[Sample]:
    """Grade samples against their `answer`, in place.

    Args:
        samples: the samples (e.g. read with `read_samples`).
        dataset: answer conventions ("gsm8k", "math", ...).
        regrade: grade samples that already carry a verdict too.

    Returns:
        The same samples, with `correct`, `extracted`, `reason` and `grader_version` set.
    """
    from scalemath.sampling.run import grade_samples as _grade_samples

    return list(_grade_samples(samples, dataset, regrade=regrade))


def collect_rft(
    samples: Iterable[Sample | dict[str, Any]],
    *,
    problems: Iterable[Problem | dict[str, Any]] | None = None,
    config: RFTConfig | None = None,
    **overrides: Any,
) -> tuple[list[dict[str, Any]], RFTStats]:
    """Rejection-sampling fine-tuning data (Yuan et al. 2023): per question its original example,
    then the distinct correct reasoning paths among the samples.

    Args:
        samples: sampled paths (question, answer = reference, completion; model and seed optional).
        problems: the questions with their reference solutions; fixes the output order.
        config: an `RFTConfig` (defaults reproduce the paper's script).
        **overrides: `RFTConfig` fields to change, e.g. `tie_break="first"`.

    Returns:
        (records, stats): Problem-shaped dicts ready for `train`, and what was seen and kept.
    """
    from scalemath.methods.rft_core import collect

    return collect(samples, config, problems, **overrides)


def train(
    data: PathLike | Iterable[Problem | Sample | dict[str, Any]], model: PathLike, out: PathLike, **config: Any
) -> Path:
    """Supervised fine-tuning (TRL SFTTrainer, loss on the completion only), as `scalemath train`.

    Args:
        data: a JSONL file of Problem or Sample records, or the records themselves (written to
            `out`.data.jsonl first), e.g. `collect_rft`'s output.
        model: the checkpoint to start from (directory or hub id).
        out: the output directory (model, tokenizer, train_meta.json).
        **config: any `scalemath.training.sft_config.SFTRunConfig` field (max_steps, epochs,
            learning_rate, batch_size, template, seed, ...).

    Returns:
        The directory of the trained model.
    """
    from scalemath.training.sft import train_sft
    from scalemath.training.sft_config import SFTRunConfig

    if not isinstance(data, str | os.PathLike):
        path = Path(f"{out}.data.jsonl")
        write_jsonl(path, data)
        data = path
    return train_sft(SFTRunConfig(model=str(model), data=str(data), out=str(out), **config), quiet=True)


def evaluate(
    model: PathLike | Engine,
    problems: Iterable[Problem],
    *,
    out: PathLike,
    k: int = 8,
    temperature: float = 0.7,
    **options: Any,
) -> dict[str, Any]:
    """Greedy accuracy plus maj@k, Pass@k and PassRatio@k of a model, as `scalemath eval`.

    Args:
        model: a checkpoint (directory or hub id) or a ready `Engine`.
        problems: the test problems.
        out: output directory (greedy.jsonl, samples.jsonl, metrics.json).
        k: samples per problem at `temperature` (0: greedy only).
        temperature: sampling temperature of the k samples.
        **options: the other options of `scalemath.metrics.evaluate.evaluate` (max_tokens, seed,
            template, dataset, engine, batch_size, progress, ...).

    Returns:
        The metrics (also written to out/metrics.json): "maj1@1", f"maj@{k}", f"Pass@{k}" (first k),
        f"PassRatio@{k}", the greedy and sampled summaries, timing.
    """
    from scalemath.metrics.evaluate import evaluate as _evaluate

    options.setdefault("progress", False)
    return _evaluate(model, problems, k, temperature, out_dir=out, **options)


def summarize_samples(path: PathLike, *, dataset: str = "gsm8k", ks: list[int] | None = None) -> dict[str, Any]:
    """The metrics of a sample file, without a model (`scalemath eval --samples`); ungraded
    samples are graded first.

    Args:
        path: a sample JSONL file.
        dataset: answer conventions for grading and voting.
        ks: the k of maj@k / Pass@k (default: 1, 2, 4, ... up to the samples per question).

    Returns:
        The metrics: questions, k, maj@k, Pass@k, PassRatio@k (first k samples) for each k, grader_version, ...
    """
    from scalemath.metrics.evaluate import metrics_from_samples

    return metrics_from_samples(path, dataset=dataset, ks=ks)


def compare(a: PathLike, b: PathLike, *, dataset: str = "gsm8k", **config: Any) -> dict[str, Any]:
    """Two evaluations on the same questions: B − A per metric with paired bootstrap intervals and
    McNemar's exact test, as `scalemath compare`.

    Args:
        a: evaluation directory (greedy.jsonl / samples.jsonl) or sample file of model A.
        b: the same for model B.
        dataset: answer conventions for majority voting.
        **config: `scalemath.metrics.paired.PairedConfig` fields (ci, bootstrap, seed, ...).

    Returns:
        The comparison: per metric A, B, B − A, interval and p-value, and the questions used.
    """
    from scalemath.metrics.paired import PairedConfig, load_evaluation
    from scalemath.metrics.paired import compare as _compare

    return _compare(
        load_evaluation(Path(a), dataset=dataset), load_evaluation(Path(b), dataset=dataset), PairedConfig(**config)
    )


def fit(x: Sequence[float], y: Sequence[float], model: str = "loglinear", **options: Any) -> FitResult:
    """Fit a scaling law of accuracy against data amount, as `scalemath fit`.

    Args:
        x: data amounts (e.g. training questions).
        y: accuracies at those amounts.
        model: "loglinear", "segmented", "power", or "auto" (the lowest AICc among them).
        **options: options of `scalemath.scaling.fit.fit` (sigma, ci, interval, ...).

    Returns:
        A `FitResult`: params with intervals, R², AIC/BIC; `.predict(n)`, `.data_needed(target)`.
    """
    from scalemath.scaling.fit import fit as _fit
    from scalemath.scaling.fit import fit_auto

    if model == "auto":
        return fit_auto(x, y, **options)[0]
    return _fit(x, y, model, **options)
