"""Paired comparisons of two models scored on the same questions.

How it works, in full: docs/modules.md (`scalemath.metrics.paired`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scalemath.metrics.paired_config import PairedConfig
from scalemath.records import RecordError, iter_jsonl_numbered, text_hash


class ComparisonError(ValueError):
    """Two evaluations that cannot be compared (different questions, missing samples, ...)."""


@dataclass
class Evaluation:
    """Per-question outcomes of one model on a test set.

    greedy: problem id -> correct (one greedy sample per question), or None when absent.
    sampled: problem id -> [(correct, vote key), ...] in sample_index order, or None.
    questions: problem id -> hash of the question text (to catch two files that reuse ids).
    """

    name: str
    source: str
    questions: dict[str, str] = field(default_factory=dict)
    greedy: dict[str, bool] | None = None
    sampled: dict[str, list[tuple[bool, str | None]]] | None = None


# ------------------------------------------------------------------------------------ loading


def _read_samples(
    path: Path, dataset: str
) -> tuple[dict[str, list[tuple[int, bool, str | None]]], dict[str, str], set[Any]]:
    from scalemath.answers import normalize

    by_q: dict[str, list[tuple[int, bool, str | None]]] = {}
    qhash: dict[str, str] = {}
    temps: set[Any] = set()
    seen: set[tuple[str, int]] = set()
    for line, d in iter_jsonl_numbered(path):
        for key in ("problem_id", "sample_index", "correct"):
            if key not in d:
                raise RecordError(path, line, f"sample without {key!r}")
        if d["correct"] is None:
            raise RecordError(path, line, "ungraded sample (correct is null); grade it first (scalemath grade)")
        pid, idx = str(d["problem_id"]), int(d["sample_index"])
        if (pid, idx) in seen:
            raise RecordError(path, line, f"duplicate sample {pid}#{idx}")
        seen.add((pid, idx))
        h = text_hash(str(d.get("question", "")))
        if qhash.setdefault(pid, h) != h:
            raise RecordError(path, line, f"problem id {pid!r} appears with two different questions")
        ext = d.get("extracted")
        vote = (normalize(ext, dataset) or None) if ext is not None else None
        by_q.setdefault(pid, []).append((idx, bool(d["correct"]), vote))
        temps.add(d.get("temperature"))
    if not by_q:
        raise ComparisonError(f"{path}: no samples")
    return by_q, qhash, temps


def load_evaluation(path: str | Path, name: str | None = None, dataset: str = "gsm8k") -> Evaluation:
    """An evaluation from a directory (greedy.jsonl and/or samples.jsonl, as `scalemath evaluate`
    and the demo write them) or from one sample file (greedy when every sample has temperature 0
    and one sample per question, else sampled)."""
    p = Path(path)
    if p.is_dir():
        files = {"greedy": p / "greedy.jsonl", "sampled": p / "samples.jsonl"}
        files = {k: f for k, f in files.items() if f.is_file()}
        if not files:
            raise ComparisonError(f"{p}: no greedy.jsonl or samples.jsonl (not an evaluation directory)")
    elif p.is_file():
        files = {"auto": p}
    else:
        raise ComparisonError(f"{p}: no such file or directory")
    ev = Evaluation(name=name or _default_name(p), source=str(p))
    for kind, f in files.items():
        by_q, qhash, temps = _read_samples(f, dataset)
        if kind == "auto":
            greedy_like = temps == {0.0} or temps == {0}
            kind = "greedy" if greedy_like and all(len(v) == 1 for v in by_q.values()) else "sampled"
        for pid, h in qhash.items():
            if ev.questions.setdefault(pid, h) != h:
                raise ComparisonError(
                    f"{f}: problem id {pid!r} has another question than in the other file of this evaluation"
                )
        if kind == "greedy":
            bad = [pid for pid, v in by_q.items() if len(v) != 1]
            if bad:
                raise ComparisonError(f"{f}: {len(bad)} questions have several greedy samples (e.g. {bad[0]!r})")
            ev.greedy = {pid: v[0][1] for pid, v in by_q.items()}
        else:
            ev.sampled = {pid: [(c, a) for _, c, a in sorted(v, key=lambda x: x[0])] for pid, v in by_q.items()}
    return ev


def _default_name(p: Path) -> str:
    parts = [x for x in p.resolve().parts if x not in ("/",)]
    if p.is_file():
        parts = parts[:-1] + [p.stem]
    return "/".join(parts[-2:]) if len(parts) >= 2 else (parts[-1] if parts else str(p))


# ---------------------------------------------------------------------------------- statistics


def mcnemar_exact(b_only: int, a_only: int) -> float:
    """Two-sided exact McNemar p-value: min(1, 2 P(X <= min(b_only, a_only))), X ~ Bin(n, 1/2),
    n = b_only + a_only (the discordant questions). Exact integer arithmetic; 1.0 when n = 0."""
    if b_only < 0 or a_only < 0:
        raise ValueError("counts must be >= 0")
    n, m = b_only + a_only, min(b_only, a_only)
    if n == 0:
        return 1.0
    tail, c = 0, 1
    for i in range(m + 1):
        tail += c
        c = c * (n - i) // (i + 1)
    # tail / 2**n without overflowing a float for large n
    p = 2.0 * math.exp(math.log(tail) - n * math.log(2.0)) if tail else 0.0
    return min(1.0, p)


def paired_bootstrap(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    bootstrap: int = 10000,
    seed: int = 0,
    ci: float = 0.95,
) -> dict[str, Any]:
    """Means of a and b, their difference b - a, and percentile bootstrap intervals of all three,
    from ONE draw of question indices per replicate (shared by a and b: the pairing).

    Replicate r resamples n questions with replacement (numpy default_rng(seed)); its difference
    is mean(b[idx] - a[idx]). bootstrap = 0 gives point estimates only (intervals None)."""
    from scalemath.metrics.bootstrap import question_weights

    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("a and b must be 1-d and of the same length (one value per question)")
    n = len(x)
    if n == 0:
        raise ValueError("no questions to compare")
    out: dict[str, Any] = {
        "n": n,
        "a": float(x.mean()),
        "b": float(y.mean()),
        "diff": float((y - x).mean()),
        "a_lo": None,
        "a_hi": None,
        "b_lo": None,
        "b_hi": None,
        "lo": None,
        "hi": None,
        "se": None,
    }
    if bootstrap:
        rng = np.random.default_rng(seed)
        alpha = (1.0 - ci) / 2.0
        reps = np.empty((bootstrap, 3))
        chunk = max(1, min(bootstrap, 5_000_000 // n))
        for start in range(0, bootstrap, chunk):
            w = question_weights(n, min(chunk, bootstrap - start), rng)
            reps[start : start + len(w)] = np.stack([w @ x, w @ y, w @ (y - x)], axis=1) / n
        lo, hi = np.quantile(reps, [alpha, 1.0 - alpha], axis=0)
        out.update(
            {
                "a_lo": float(lo[0]),
                "a_hi": float(hi[0]),
                "b_lo": float(lo[1]),
                "b_hi": float(hi[1]),
                "lo": float(lo[2]),
                "hi": float(hi[2]),
                "se": float(reps[:, 2].std(ddof=1)) if bootstrap > 1 else None,
            }
        )
    return out


# --------------------------------------------------------------------------- per-question values


def per_question_sampled(samples: list[tuple[bool, str | None]], k: int) -> tuple[float, float, float]:
    """(maj@k, Pass@k, PassRatio@k) of one question from its first k samples, by the metrics
    engine's rules (`metrics.passk`: votes are normalized answers, ties go to the answer voted
    first, no votes = wrong)."""
    from scalemath.metrics.passk import majority_vote

    first = samples[:k]
    correct = [c for c, _ in first]
    i = majority_vote([a for _, a in first])
    maj = float(i is not None and correct[i])
    return maj, float(any(correct)), sum(correct) / len(correct)


def _question_sets(
    a: dict[str, Any], b: dict[str, Any], what: str, names: tuple[str, str], cfg: PairedConfig
) -> tuple[list[str], str | None]:
    sa, sb = set(a), set(b)
    if sa == sb:
        return sorted(sa), None
    both = sorted(sa & sb)
    msg = (
        f"{what}: {names[0]} has {len(sa)} questions, {names[1]} has {len(sb)}; {len(both)} shared "
        f"({len(sa - sb)} only in {names[0]}, {len(sb - sa)} only in {names[1]})"
    )
    if cfg.on_mismatch == "error" or not both:
        raise ComparisonError(
            msg
            + (
                "; compare on the shared questions with on_mismatch='intersect' (--intersect)"
                if both
                else "; nothing to compare"
            )
        )
    return both, f"COMPARED ON THE INTERSECTION ONLY: {msg}"


def compare(a: Evaluation, b: Evaluation, config: PairedConfig | None = None) -> dict[str, Any]:
    """Paired comparison B − A of every figure both evaluations have.

    Returns {"a", "b" (names), "sources", "questions", "k", "notes", "config", "rows"}, one row per
    figure: metric, a, b, diff (= b - a), lo / hi (paired interval of diff), a_lo / a_hi, b_lo /
    b_hi (each model's own interval, from the same draws), n (questions), and for greedy accuracy
    also both / neither / a_only / b_only counts and p_mcnemar. Every value is a fraction (0..1)."""
    cfg = config or PairedConfig()
    names = (a.name, b.name)
    if a.name == b.name:
        names = (f"A ({a.name})", f"B ({b.name})")
    for pid in set(a.questions) & set(b.questions):
        if a.questions[pid] != b.questions[pid]:
            raise ComparisonError(
                f"problem id {pid!r} is a different question in {a.source} and {b.source}: "
                "these evaluations are not of the same test set"
            )
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    k_used = None
    n_questions = 0
    if a.greedy is not None and b.greedy is not None:
        qs, note = _question_sets(a.greedy, b.greedy, "greedy", names, cfg)
        if note:
            notes.append(note)
        x = np.array([a.greedy[q] for q in qs], dtype=bool)
        y = np.array([b.greedy[q] for q in qs], dtype=bool)
        row = {"metric": "greedy", **paired_bootstrap(x, y, cfg.bootstrap, cfg.seed, cfg.ci)}
        counts = {
            "both": int((x & y).sum()),
            "neither": int((~x & ~y).sum()),
            "a_only": int((x & ~y).sum()),
            "b_only": int((~x & y).sum()),
        }
        row.update(counts, p_mcnemar=mcnemar_exact(counts["b_only"], counts["a_only"]))
        rows.append(row)
        n_questions = max(n_questions, len(qs))
    elif (a.greedy is None) != (b.greedy is None):
        notes.append(
            f"greedy accuracy not compared: only {names[0] if a.greedy is not None else names[1]} has greedy samples"
        )
    if a.sampled is not None and b.sampled is not None:
        qs, note = _question_sets(a.sampled, b.sampled, "sampled", names, cfg)
        if note:
            notes.append(note)
        have = min(min(len(a.sampled[q]) for q in qs), min(len(b.sampled[q]) for q in qs))
        k = cfg.k if cfg.k is not None else have
        if k > have:
            raise ComparisonError(f"k={k} asked for, but some question has only {have} samples")
        na = {len(a.sampled[q]) for q in qs} | {len(b.sampled[q]) for q in qs}
        if len(na) > 1 and cfg.k is None:
            notes.append(
                f"sampled figures over the first {k} samples per question (the evaluations have {min(na)}..{max(na)})"
            )
        va = np.array([per_question_sampled(a.sampled[q], k) for q in qs])
        vb = np.array([per_question_sampled(b.sampled[q], k) for q in qs])
        for j, metric in enumerate((f"maj@{k}", f"Pass@{k}", f"PassRatio@{k}")):
            # same seed and n: every figure (and greedy) uses the same question draws
            rows.append({"metric": metric, **paired_bootstrap(va[:, j], vb[:, j], cfg.bootstrap, cfg.seed, cfg.ci)})
        k_used = k
        n_questions = max(n_questions, len(qs))
    elif (a.sampled is None) != (b.sampled is None):
        notes.append(
            f"sampled figures not compared: only {names[0] if a.sampled is not None else names[1]} "
            "has sampled completions"
        )
    if not rows:
        raise ComparisonError(
            f"nothing to compare: {a.source} and {b.source} share no kind of samples (greedy or sampled)"
        )
    from dataclasses import asdict

    return {
        "a": names[0],
        "b": names[1],
        "sources": [a.source, b.source],
        "questions": n_questions,
        "k": k_used,
        "notes": notes,
        "config": asdict(cfg),
        "rows": rows,
    }


# ----------------------------------------------------------------------------------- wording

LABELS = {"greedy": "greedy accuracy"}


def label(metric: str) -> str:
    """ "greedy accuracy", "maj@8", "Pass@8", "PassRatio@8"."""
    if metric in LABELS:
        return LABELS[metric]
    return metric


def verdict(row: dict[str, Any]) -> str:
    """ "b" (interval above 0), "a" (below 0), "none" (it contains 0) or "unknown" (no interval)."""
    if row.get("lo") is None or row.get("hi") is None:
        return "unknown"
    if row["lo"] > 0:
        return "b"
    if row["hi"] < 0:
        return "a"
    return "none"


def pts(x: float) -> str:
    """A difference of fractions in percentage points: "+2.3"."""
    return f"{100 * x:+.1f}"


def interval_text(row: dict[str, Any], ci: float = 0.95) -> str:
    """ "+2.3 pts (95% CI −2.0 … +6.7)"."""
    s = f"{pts(row['diff'])} pts"
    if row.get("lo") is not None:
        s += f" ({int(round(ci * 100))}% CI {pts(row['lo'])} … {pts(row['hi'])})"
    return s


def describe(row: dict[str, Any], a: str, b: str, ci: float = 0.95) -> str:
    """One sentence saying what the paired interval of `row` supports, and no more."""
    what = label(row["metric"])
    v = verdict(row)
    base = f"{b} − {a}, {what}: {interval_text(row, ci)}"
    if "p_mcnemar" in row:
        base += f", McNemar exact p = {row['p_mcnemar']:.3g} ({row['b_only']} vs {row['a_only']} discordant)"
    n = row["n"]
    if v == "b":
        return f"{base}: on these {n} questions {b} is better than {a}."
    if v == "a":
        return f"{base}: on these {n} questions {a} is better than {b}."
    if v == "none":
        return (
            f"{base}: the interval contains 0, so these {n} questions show no difference between "
            f"{a} and {b}, and do not rule out one as large as the interval's ends."
        )
    return f"{base} (no interval computed)."


def rich_table(result: dict[str, Any]):
    """A rich Table of a `compare` result: A, B (each with its own interval), B − A with the paired
    interval, McNemar's p for greedy accuracy, and what the interval supports."""
    from rich.table import Table

    ci = result["config"]["ci"]
    c = int(round(ci * 100))
    t = Table(
        title=f"{result['b']} vs {result['a']} on the same {result['questions']} questions "
        f"(paired, {c}% intervals, {result['config']['bootstrap']} bootstrap replicates)"
    )
    t.add_column("metric")
    t.add_column(result["a"], justify="right")
    t.add_column(result["b"], justify="right")
    t.add_column(f"{result['b']} − {result['a']} [{c}% CI]", justify="right")
    t.add_column("McNemar p", justify="right")
    t.add_column("supports", justify="left")
    for r in result["rows"]:
        v = verdict(r)
        t.add_row(
            label(r["metric"]),
            _pct(r["a"], r["a_lo"], r["a_hi"]),
            _pct(r["b"], r["b_lo"], r["b_hi"]),
            _diff_cell(r),
            f"{r['p_mcnemar']:.3g} ({r['b_only']}:{r['a_only']})" if "p_mcnemar" in r else "—",
            {"b": f"{result['b']} better", "a": f"{result['a']} better", "none": "no difference shown", "unknown": "—"}[
                v
            ],
        )
    return t


def _diff_cell(r: dict[str, Any]) -> str:
    s = f"{pts(r['diff'])} pts"
    if r.get("lo") is not None:
        s += f" [{pts(r['lo'])}, {pts(r['hi'])}]"
    return s


def _pct(v: float, lo: float | None, hi: float | None) -> str:
    s = f"{100 * v:.1f}%"
    if lo is not None and hi is not None:
        s += f" [{100 * lo:.1f}, {100 * hi:.1f}]"
    return s
