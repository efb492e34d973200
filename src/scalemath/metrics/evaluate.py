"""Evaluate a model on problems: greedy accuracy (maj1@1) plus maj@k, Pass@k, PassRatio@k at temperature T.

Draws one greedy sample (T=0) and k samples at temperature T per problem through the sampling stage
(so both sample files carry full provenance and resume), then computes the metrics of
`scalemath.metrics.passk`. Output folder: greedy.jsonl, samples.jsonl, metrics.json.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypedDict, cast

from scalemath.outputs import write_json
from scalemath.prompts import PromptFormat, as_format
from scalemath.records import Problem, read_samples, write_jsonl
from scalemath.sampling.engine import Engine, SamplingParams
from scalemath.sampling.run import grade_samples, sample_problems


class _CommonParams(TypedDict):
    """The `SamplingParams` fields the greedy and the sampled pass share."""

    top_p: float
    top_k: int
    max_tokens: int
    stop: tuple[str, ...]
    seed: int


def evaluate(
    model: str | os.PathLike | Engine,
    problems: Iterable[Problem],
    k: int = 8,
    temperature: float = 0.7,
    *,
    out_dir: str | os.PathLike,
    top_p: float = 1.0,
    top_k: int = 0,
    max_tokens: int = 256,
    seed: int = 0,
    stop: tuple[str, ...] = (),
    template: str | PromptFormat = "qa",
    dataset: str = "gsm8k",
    engine: str = "hf",
    batch_size: int = 64,
    device: str = "auto",
    dtype: str = "auto",
    threads: int = 0,
    progress: bool = True,
    overwrite: bool = False,
    engine_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Greedy + k-sample evaluation; writes out_dir/{greedy,samples}.jsonl and metrics.json, returns the metrics.

    `model` is a checkpoint (directory or hub id, loaded with engine `engine`) or a ready `Engine`.
    k=0 skips the sampled pass (greedy only). Keys of the result: maj1@1, maj@k, Pass@k,
    PassRatio@k (first k samples; `scalemath.metrics.passk`), plus "greedy" / "sampled" summaries (the latter for k = 1, 2, 4, ... and k) and
    the sampling throughput of each pass under "timing". An existing out_dir is resumed only
    when its samples were made by the same model content, prompt, settings and grader (else
    RecordError); `overwrite=True` draws them again. `engine_kwargs` go to the engine's
    constructor besides the common settings (e.g. the openai engine's base_url, api_key).
    """
    from scalemath.metrics.passk import summarize
    from scalemath.sampling import engine_options, load_engine, resolve_engine

    if k < 0:
        raise ValueError("k must be >= 0")
    problems = list(problems)
    if not problems:
        raise ValueError("evaluate: no problems")
    fmt = as_format(template)
    fmt.check()  # before the model loads
    if not hasattr(model, "generate"):
        engine = resolve_engine(engine, model)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    eng = (
        cast(Engine, model)
        if hasattr(model, "generate")
        else load_engine(
            engine,
            model,
            **engine_options(engine, device=device, dtype=dtype, batch_size=batch_size, threads=threads),
            **(engine_kwargs or {}),
        )
    )
    from scalemath.sampling.fingerprint import model_identity

    common = _CommonParams(top_p=top_p, top_k=top_k, max_tokens=max_tokens, stop=tuple(stop), seed=seed)
    metrics: dict[str, Any] = {
        "model": eng.model_id,
        "engine": eng.name,
        "dataset": dataset,
        **model_identity(eng),
        "template": fmt.template,
        **({"prompt": fmt.describe(), "prompt_hash": fmt.hash} if not fmt.plain else {}),
        "questions": len(problems),
        "k": k,
        "temperature": temperature,
        **common,
        "stop": list(stop),
    }
    try:
        greedy_stats = sample_problems(
            problems,
            eng,
            SamplingParams(temperature=0.0, **common),
            1,
            fmt,
            out_dir / "greedy.jsonl",
            dataset=dataset,
            progress=progress,
            overwrite=overwrite,
        )
        greedy = summarize(_only(out_dir / "greedy.jsonl", problems), dataset=dataset)
        metrics["maj1@1"] = greedy["maj@1"]
        metrics["greedy"] = greedy
        metrics["timing"] = {"greedy": greedy_stats.to_dict()}
        if k:
            stats = sample_problems(
                problems,
                eng,
                SamplingParams(temperature=temperature, **common),
                k,
                fmt,
                out_dir / "samples.jsonl",
                dataset=dataset,
                progress=progress,
                overwrite=overwrite,
            )
            ks = sorted({2**i for i in range(k.bit_length()) if 2**i <= k} | {k})
            sampled = summarize(_only(out_dir / "samples.jsonl", problems, k), dataset=dataset, ks=ks)
            for name in ("maj", "Pass", "PassRatio"):
                metrics[f"{name}@{k}"] = sampled[f"{name}@{k}"]
            metrics["sampled"] = sampled
            metrics["timing"]["sampled"] = stats.to_dict()
    finally:
        close = getattr(eng, "close", None)
        if eng is not model and callable(close):  # an engine we made (the openai client's session)
            close()
    metrics["grader_version"] = greedy["grader_version"]
    write_json(out_dir / "metrics.json", metrics)
    return metrics


def _only(path: Path, problems: list[Problem], k: int = 1):
    """The samples of `path` for these problems and indices < k (a resumed file may hold more)."""
    ids = {p.id for p in problems}
    return [s for s in read_samples(path) if s.problem_id in ids and s.sample_index < k]


def metrics_from_samples(
    path: str | os.PathLike,
    dataset: str = "gsm8k",
    ks: list[int] | None = None,
    out_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Metrics of an existing sample file, without a model; ungraded samples are graded first.

    With out_dir, writes metrics.json there (and samples.jsonl when grading added verdicts)."""
    from scalemath.metrics.passk import summarize

    samples = list(read_samples(path))
    if not samples:
        raise ValueError(f"{path}: no samples")
    ungraded = any(s.correct is None for s in samples)
    if out_dir is not None:
        from scalemath.outputs import check_outputs

        written = [("metrics.json", Path(out_dir) / "metrics.json")]
        if ungraded:
            written.append(("the graded copy", Path(out_dir) / "samples.jsonl"))
        check_outputs([path], written)
    if ungraded:
        samples = list(grade_samples(samples, dataset))
    counts: dict[str, int] = {}
    for s in samples:
        counts[s.problem_id] = counts.get(s.problem_id, 0) + 1
    n = min(counts.values())
    ks = ks or sorted({2**i for i in range(n.bit_length()) if 2**i <= n} | {n})
    summary = summarize(samples, dataset=dataset, ks=ks)
    temps = {s.temperature for s in samples}
    metrics: dict[str, Any] = {
        "samples_file": str(path),
        "dataset": dataset,
        "model": ",".join(sorted({s.model for s in samples})),
        "temperature": temps.pop() if len(temps) == 1 else sorted(t for t in temps if t is not None),
        "questions": summary["questions"],
        "k": summary["n"],
        **summary,
    }
    if metrics["temperature"] == 0 and summary["n"] == 1:
        metrics["maj1@1"] = summary["maj@1"]
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if ungraded:
            write_jsonl(out_dir / "samples.jsonl", samples)
        write_json(out_dir / "metrics.json", metrics)
    return metrics
