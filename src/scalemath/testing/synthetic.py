"""Synthetic graded samples with known ground truth (for tests, benchmarks and report demos).

Question q has `steps` reasoning steps (1..max_steps) and a true per-sample accuracy
p_q = acc_step ** steps (times a per-question jitter), so the CoT-step fit should recover
`acc_step`. Completions are GSM8K-style chains of `<<a+b=c>>` calculator annotations ending in
"The answer is X". A wrong sample is a format error (no answer), a calculation error (one
annotation with a wrong result) or a reasoning error (sound arithmetic, wrong answer) with the
given shares, so error-type analyses have a known answer too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class SyntheticConfig:
    """Shape of a synthetic sample store."""

    n_questions: int = 200
    """Number of questions."""
    n_samples: int = 16
    """Sampled completions per question (temperature 0.7)."""
    greedy: bool = True
    """Also emit one greedy (temperature 0) sample per question."""
    acc_step: float = 0.9
    """True per-step accuracy: p_q = acc_step ** steps_q."""
    max_steps: int = 8
    """Steps are uniform on 1..max_steps."""
    jitter: float = 0.1
    """Per-question multiplicative jitter of p_q (uniform in [1-jitter, 1+jitter])."""
    format_share: float = 0.05
    """Share of wrong samples with no extractable answer."""
    calc_share: float = 0.3
    """Share of wrong samples with an arithmetic slip in an annotation."""
    models: tuple[str, ...] = ("tiny",)
    """Source model names, assigned round-robin over sample indices."""
    seed: int = 0


def _chain(rng: np.random.Generator, steps: int) -> tuple[list[tuple[int, str, int, int]], int]:
    """A random arithmetic chain: list of (a, op, b, result) and the final value."""
    x = int(rng.integers(2, 50))
    ops = []
    for _ in range(steps):
        op = "+-*"[int(rng.integers(0, 3))]
        b = int(rng.integers(2, 12))
        r = x + b if op == "+" else x - b if op == "-" else x * b
        ops.append((x, op, b, r))
        x = r
    return ops, x


def _text(ops: list[tuple[int, str, int, int]], final: str | None, slip: int | None = None, prefix: str = "") -> str:
    lines = []
    for i, (a, op, b, r) in enumerate(ops):
        shown = r + 1 if slip == i else r
        lines.append(f"{prefix}We get {a} {op} {b} = <<{a}{op}{b}={shown}>>{shown}.")
    if final is not None:
        lines.append(f"The answer is {final}.")
    else:
        lines.append("So that is how it goes.")
    return "\n".join(lines)


def _question(cfg: SyntheticConfig, q: int) -> dict[str, Any]:
    """Everything about question q that does not depend on the samples drawn for it."""
    rng = np.random.default_rng([cfg.seed, q, 0])
    steps = int(rng.integers(1, cfg.max_steps + 1))
    p = min(1.0, cfg.acc_step**steps * rng.uniform(1 - cfg.jitter, 1 + cfg.jitter))
    ops, ans = _chain(rng, steps)
    ref = str(ans)
    distract = [str(ans + d) for d in (1, -2, 10)]
    return {
        "id": f"syn-{q}",
        "steps": steps,
        "p": p,
        "ref": ref,
        "distract": distract,
        "right": [
            _text(ops, ref),
            _text(ops, ref, prefix="Then "),
            _text(ops[::-1] if steps > 1 else ops, ref, prefix="First "),
        ],
        "reasoning": [_text(ops[:-1] or ops, d) for d in distract],
        "calc": [_text(ops, d, slip=int(rng.integers(0, steps))) for d in distract],
        "format": _text(ops, None),
        "meta": {"steps": steps, "level": 1 + (steps - 1) * 5 // cfg.max_steps, "subject": ("arith", "algebra")[q % 2]},
    }


QUESTION = "A shop has some apples and does a few things with them. How many are left?"


def synthetic_samples(config: SyntheticConfig | None = None) -> Iterator[dict[str, Any]]:
    """Yield graded sample dicts (Sample fields; `meta.steps` holds the true step count)."""
    cfg = config or SyntheticConfig()
    calc_cut = cfg.format_share + (1 - cfg.format_share) * cfg.calc_share
    for q in range(cfg.n_questions):
        Q = _question(cfg, q)
        n_total = cfg.n_samples + (1 if cfg.greedy else 0)
        u = np.random.default_rng([cfg.seed, q, 1]).random((n_total, 3))
        for j in range(n_total):
            greedy = cfg.greedy and j == cfg.n_samples
            ok = bool(u[j, 0] < Q["p"])
            if ok:
                comp, ext = Q["right"][int(u[j, 1] * 3)], Q["ref"]
            elif u[j, 1] < cfg.format_share:
                comp, ext = Q["format"], None
            else:
                d = int(u[j, 2] * 3)
                comp = Q["calc"][d] if u[j, 1] < calc_cut else Q["reasoning"][d]
                ext = Q["distract"][d]
            yield {
                "problem_id": Q["id"],
                "question": QUESTION,
                "answer": Q["ref"],
                "completion": comp,
                "model": cfg.models[j % len(cfg.models)],
                "engine": "synthetic",
                "seed": j,
                "temperature": 0.0 if greedy else 0.7,
                "top_p": 1.0,
                "top_k": None,
                "max_tokens": 256,
                "prompt_hash": "synthetic",
                "sample_index": j,
                "extracted": ext,
                "correct": ok,
                "reason": "match" if ok else ("no_answer" if ext is None else "mismatch"),
                "grader_version": "synthetic",
                "created_at": 0.0,
                "meta": Q["meta"],
                "schema": 1,
            }


def synthetic_problems(config: SyntheticConfig | None = None) -> list[dict[str, Any]]:
    """The problem records matching `synthetic_samples(config)` (same ids, answers and steps)."""
    cfg = config or SyntheticConfig()
    out = []
    for q in range(cfg.n_questions):
        Q = _question(cfg, q)
        out.append(
            {
                "id": Q["id"],
                "question": QUESTION,
                "answer": Q["ref"],
                "solution": Q["right"][0],
                "source": "synthetic",
                "split": "test",
                "meta": Q["meta"],
            }
        )
    return out
