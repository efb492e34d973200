"""The demo's stage jobs: train the base on a data file, sample k paths per train question, evaluate
a model on the test split. Module-level (picklable by name) so `experiments.pipeline` can run them
side by side in worker processes; each takes a JSON-ready args dict and returns its summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scalemath.outputs import write_text
from scalemath.records import read_problems


def job_train(a: dict[str, Any]) -> dict[str, Any]:
    """SFT / RFT / control training of the base on one data file."""
    from scalemath.training.sft import SFTRunConfig, train_sft

    train_sft(SFTRunConfig(**a["sft"]), quiet=a.get("quiet", False))
    meta = json.loads((Path(a["sft"]["out"]) / "train_meta.json").read_text())
    return {
        "examples": meta["data"]["examples"],
        "tokens_per_epoch": meta["data"]["tokens"],
        "compute": meta.get("compute"),
        "control": meta.get("control"),
        **{
            k: meta.get(k)
            for k in ("steps", "train_seconds", "cpu_seconds", "tokens_per_second", "train_loss_mean", "threads")
        },
    }


def job_sample(a: dict[str, Any]) -> dict[str, Any]:
    """k sampled paths per training question from the SFT model (RFT's raw material)."""
    from scalemath.sampling import load_engine
    from scalemath.sampling.engine import SamplingParams
    from scalemath.sampling.run import sample_problems

    out = Path(a["out"])
    out.unlink(missing_ok=True)
    engine = load_engine("hf", a["model"], batch_size=a["batch_size"], threads=a["threads"])
    params = SamplingParams(temperature=a["temperature"], max_tokens=a["max_tokens"], seed=a["seed"])
    stats = sample_problems(
        read_problems(a["problems"]),
        engine,
        params,
        a["k"],
        a["template"],
        out,
        dataset="gsm8k",
        progress=a.get("progress", True),
    )
    return stats.to_dict()


def job_eval(a: dict[str, Any]) -> dict[str, Any]:
    """Greedy evaluation of one model on the test split, and its k samples per question on the
    first `sampled_n` test questions (all when None); figures in out/metrics.json."""
    from scalemath.metrics.evaluate import evaluate
    from scalemath.sampling import load_engine

    problems = list(read_problems(a["problems"]))
    engine = load_engine("hf", a["model"], batch_size=a["batch_size"], threads=a["threads"])
    common = dict(
        temperature=a["temperature"],
        out_dir=a["out"],
        max_tokens=a["max_tokens"],
        seed=a["seed"],
        template=a["template"],
        progress=a.get("progress", True),
    )
    n = a.get("sampled_n")
    if a["k"] and n is not None and n < len(problems):
        greedy = evaluate(engine, problems, k=0, **common)
        # greedy samples of these questions are already in greedy.jsonl: only the k samples are drawn
        sampled = evaluate(engine, problems[:n], k=a["k"], **common)
        metrics = {
            **sampled,
            "maj1@1": greedy["maj1@1"],
            "greedy": greedy["greedy"],
            "questions": len(problems),
            "sampled_questions": n,
            "timing": {**sampled["timing"], "greedy": greedy["timing"]["greedy"]},
        }
        write_text(Path(a["out"]) / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        return metrics
    return evaluate(engine, problems, k=a["k"], **common)
