"""Analyses a study can switch on, each a small function the runner calls.

- `fewshot_template`: a k-shot chain-of-thought prompt (exemplars drawn from the train split with
  a seed) written as a template file, so a base model is evaluated through the ordinary sampling
  and grading path.
- `leakage_check`: Xwin-Math's test-set leakage check: the LM loss of a model on test problems
  against the same problems with new numbers; a model that saw the test set finds the originals
  clearly more predictable (gap = loss(regenerated) - loss(original) > 0).
- `pretrain_loss_of`: a base model's pre-training loss (tiny_meta.json's held-out loss, or the
  value given in the study), for accuracy against pre-training loss across base models.
- `path_stats`: training records, questions and distinct reasoning paths (equation lists) per
  question of a training file: the results' data_size and distinct_paths.
- `greedy_accuracy`: greedy accuracy with a bootstrap interval over questions.
(Long-CoT resampling of SFT data is `metrics.steps.long_cot_resample`, applied per SFT cell.)
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scalemath import prompts
from scalemath.outputs import write_text
from scalemath.records import Problem

# ------------------------------------------------------------------------------------ few-shot


def fewshot_template(
    train: Sequence[Problem],
    shots: int,
    seed: int = 0,
    frame: str = "fewshot_qa",
    exemplar: str = "fewshot_qa_exemplar",
    separator: str = "\n\n",
) -> str:
    """Template text (with a `{question}` field left) holding `shots` exemplars drawn from `train`.

    `frame` has `{exemplars}` and `{question}`; `exemplar` has `{question}` and `{solution}`
    (both `scalemath.prompts` names or .txt paths). With shots=0 the frame gets no exemplars."""
    if shots > len(train):
        raise ValueError(f"{shots} exemplars asked for, the train split has {len(train)} problems")
    picked = random.Random(seed).sample(list(train), shots)
    block = prompts.exemplar_block([(p.question, p.solution) for p in picked], exemplar, separator)
    text = prompts.load(frame).replace("{exemplars}", "\x00")
    # exemplar text is literal: escape its braces so str.format leaves it alone
    return text.replace("\x00", block.replace("{", "{{").replace("}", "}}"))


def write_fewshot_template(out_dir: Path, text: str) -> str:
    """Write a template under a content-named file (prompt files are cached by path)."""
    from scalemath.records import text_hash

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"fewshot-{text_hash(text, 12)}.txt"
    if not path.exists() or path.read_text(encoding="utf-8") != text:  # used exactly as written
        write_text(path, text, encoding="utf-8")
    return str(path)


# ------------------------------------------------------------------------------------ leakage

_NUMBER = re.compile(r"(?<![\d.,])\d+(?![\d.,]?\d)")
# numbers a question may say in words: a program value that also occurs in words is never swapped
_WORDS = {
    2: r"twice|double|half|two|pair",
    3: r"three|triple|third",
    4: r"four|quarter",
    5: r"five",
    6: r"six",
    7: r"seven|week",
    8: r"eight",
    9: r"nine",
    10: r"ten",
    12: r"twelve|dozen",
    24: r"day",
    60: r"hour|minute",
}


def _new_number(v: int, rng: random.Random) -> int:
    """Another number of about the same size (within half to one and a half times it) with as
    many digits, so the problem stays plausible and its tokenisation comparable."""
    digits = len(str(v))
    lo, hi = (2, 9) if digits == 1 else (10 ** (digits - 1), 10**digits - 1)
    lo, hi = max(lo, v // 2), min(hi, v + v // 2)
    if hi <= lo:
        lo, hi = (2, 9) if digits == 1 else (10 ** (digits - 1), 10**digits - 1)
    if hi <= lo:
        return v
    while True:
        x = rng.randint(lo, hi)
        if x != v:
            return x


def swap_numbers(
    text: str, rng: random.Random, mapping: dict[int, int] | None = None, extend: bool = True
) -> tuple[str, dict[int, int]]:
    """Replace every integer of `text` by another of the same length (equal numbers stay equal):
    by `mapping` where it has the number, else by a new draw (extend=True) or not at all."""
    mapping = dict(mapping or {})

    def sub(m: re.Match) -> str:
        v = int(m.group())
        if v not in mapping:
            if not extend:
                return m.group()
            mapping[v] = _new_number(v, rng)
        return str(mapping[v])

    return _NUMBER.sub(sub, text), mapping


def regenerate_procedural(problem: Problem, rng: random.Random, attempts: int = 200) -> Problem | None:
    """The same procedural problem with new numbers: the program's numbers that the question states
    in digits are swapped (in the question, the program and its step texts), and the solution is
    recomputed from the program (None when no valid draw is found). A value that the question may
    also say in words ("twice", "a week", "hours") is left as it is, so the two never disagree."""
    from scalemath.datasets.procedural import Step, evaluate, programs_of, render

    try:
        program = programs_of(problem)[0]
    except ValueError:
        return None
    stated = {int(m.group()) for m in _NUMBER.finditer(problem.question)}
    worded = {v for v, pat in _WORDS.items() if re.search(rf"\b({pat})", problem.question, re.I)}
    ints = sorted(({a for s in program for a in s.args if isinstance(a, int)} & stated) - worded)
    if not ints:
        return None
    for _ in range(attempts):
        mapping = {v: _new_number(v, rng) for v in ints}
        # step texts may state question numbers too ("In 7 years ..."): same mapping
        new_prog = tuple(
            Step(
                s.name,
                s.op,
                tuple(mapping.get(a, a) if isinstance(a, int) else a for a in s.args),
                swap_numbers(s.text, rng, mapping, extend=False)[0],
            )
            for s in program
        )
        try:
            values = evaluate(new_prog)
        except Exception:  # inexact division and the like: draw again
            continue
        if any(v <= 0 or v > 99999 for v in values.values()):
            continue
        question, _ = swap_numbers(problem.question, rng, mapping, extend=False)
        answer = values[new_prog[-1].name]
        return Problem(
            id=problem.id + "/regen",
            question=question,
            solution=render(new_prog),
            answer=str(answer),
            source=problem.source,
            split=problem.split,
            meta={"regenerated_from": problem.id},
        )
    return None


def completion_losses(
    model: Any, tokenizer: Any, pairs: Sequence[tuple[str, str]], batch_size: int = 16
) -> list[float]:
    """Mean next-token loss of each completion given its prompt (prompt tokens not scored)."""
    import torch

    dev = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    rows = []
    for prompt, completion in pairs:
        p = tokenizer(prompt, add_special_tokens=True)["input_ids"] if prompt else []
        c = tokenizer(completion, add_special_tokens=False)["input_ids"]
        rows.append((p, c))
    out: list[float] = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for i in range(0, len(rows), batch_size):
            chunk = rows[i : i + batch_size]
            width = max(len(p) + len(c) for p, c in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            labels = torch.full((len(chunk), width), -100, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for j, (p, c) in enumerate(chunk):
                seq = p + c
                ids[j, : len(seq)] = torch.tensor(seq)
                mask[j, : len(seq)] = 1
                labels[j, len(p) : len(seq)] = torch.tensor(c)
                if not p:  # no prompt: the first token has nothing to be predicted from
                    labels[j, 0] = -100
            logits = model(input_ids=ids.to(dev), attention_mask=mask.to(dev)).logits.float()
            shift_logits, shift_labels = logits[:, :-1], labels[:, 1:].to(dev)
            loss = torch.nn.functional.cross_entropy(
                shift_logits.transpose(1, 2), shift_labels, ignore_index=-100, reduction="none"
            )
            counts = (shift_labels != -100).sum(1).clamp(min=1)
            out.extend((loss.sum(1) / counts).tolist())
    model.train(was_training)
    return out


def leakage_check(
    model: Any,
    tokenizer: Any,
    problems: Sequence[Problem],
    template: str | prompts.PromptFormat = "qa",
    n: int = 100,
    mode: str = "auto",
    seed: int = 0,
    batch_size: int = 16,
    bootstrap: int = 1000,
    eos: bool = True,
) -> dict[str, Any]:
    """Loss on the first `n` test problems vs the same problems with new numbers.

    mode "solution": the loss of the solution given the prompt (as SFT trains it), the problem
    regenerated from its procedural program; "question": the loss of the question text, its numbers
    swapped (works for any dataset; detects pre-training exposure); "auto": solution when every
    checked problem carries a program. `template` is a template name or a `PromptFormat` (a
    study's chat prompt): the solution follows it as in an SFT example. Returns the two mean
    losses, the gap (regenerated - original) with a paired bootstrap interval over problems, and
    counts."""
    fmt = prompts.as_format(template)
    probs = list(problems)[:n]
    if not probs:
        raise ValueError("leakage check: no problems")
    if mode == "auto":
        mode = "solution" if all(p.meta.get("programs") for p in probs) else "question"
    rng = random.Random(seed)
    orig, regen = [], []
    skipped = 0
    suffix = (tokenizer.eos_token or "") if eos else ""
    for p in probs:
        if mode == "solution":
            q = regenerate_procedural(p, rng)
            if q is None:
                skipped += 1
                continue
            sep = fmt.completion_prefix(p.question)
            orig.append((fmt.render(p.question), sep + p.solution.strip() + suffix))
            regen.append((fmt.render(q.question), sep + q.solution.strip() + suffix))
        elif mode == "question":
            swapped, _ = swap_numbers(p.question, rng)
            if swapped == p.question:
                skipped += 1
                continue
            orig.append(("", p.question))
            regen.append(("", swapped))
        else:
            raise ValueError(f"unknown leakage mode {mode!r}")
    if not orig:
        raise ValueError("leakage check: no problem could be regenerated")
    lo_ = np.asarray(completion_losses(model, tokenizer, orig, batch_size))
    lr_ = np.asarray(completion_losses(model, tokenizer, regen, batch_size))
    diff = lr_ - lo_
    out = {
        "mode": mode,
        "checked": int(len(diff)),
        "skipped": skipped,
        "loss_original": float(lo_.mean()),
        "loss_regenerated": float(lr_.mean()),
        "gap": float(diff.mean()),
        "gap_lo": None,
        "gap_hi": None,
        "original_lower_share": float((diff > 0).mean()),
    }
    if bootstrap and len(diff) > 1:
        g = np.random.default_rng(seed)
        means = diff[g.integers(0, len(diff), size=(bootstrap, len(diff)))].mean(1)
        out["gap_lo"], out["gap_hi"] = (float(x) for x in np.quantile(means, [0.025, 0.975]))
    return out


# ------------------------------------------------------------------------------- small helpers


def pretrain_loss_of(model_dir: str | Path, given: float | None = None) -> float | None:
    """The study's value if given, else `pretrain.heldout_loss` of a tiny base's tiny_meta.json."""
    if given is not None:
        return float(given)
    meta = Path(model_dir) / "tiny_meta.json"
    if meta.is_file():
        v = (json.loads(meta.read_text()).get("pretrain") or {}).get("heldout_loss")
        return None if v is None else float(v)
    return None


def path_stats(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """data_size (records), questions, and distinct_paths: the mean number of distinct reasoning
    paths (`answers.paths.path_signature`) per question among the records' solutions."""
    from scalemath.answers.paths import path_signature

    sigs: dict[str, set[Any]] = {}
    n = 0
    for r in records:
        n += 1
        text = r.get("solution") or r.get("completion") or ""
        sigs.setdefault(r["question"], set()).add(path_signature(text))
    q = len(sigs)
    return {
        "data_size": n,
        "questions": q,
        "distinct_paths": round(sum(len(s) for s in sigs.values()) / q, 4) if q else 0.0,
    }


def rft_path_counts(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Distinct reasoning paths (equation lists) of RFT data D ∪ D' per question, by source: the
    original reference solution (D), sampled paths (D') that repeat the original's equations, and
    sampled paths new to it (what RFT adds beyond re-weighting D); paths are told apart by
    `answers.paths.path_signature`."""
    from scalemath.answers.paths import path_signature

    per_q: dict[str, dict[str, Any]] = {}
    for r in records:
        q = per_q.setdefault(r["question"], {"original": None, "sampled": []})
        sig = path_signature(r.get("solution") or r.get("completion") or "")
        if (r.get("meta") or {}).get("origin") == "original":
            q["original"] = sig
        else:
            q["sampled"].append(sig)
    n = max(len(per_q), 1)
    sampled = sum(len(q["sampled"]) for q in per_q.values())
    same = sum(sum(s == q["original"] for s in q["sampled"]) for q in per_q.values())
    distinct = [len({*q["sampled"], *([q["original"]] if q["original"] is not None else [])}) for q in per_q.values()]
    return {
        "questions": len(per_q),
        "originals": sum(q["original"] is not None for q in per_q.values()),
        "sampled_paths": sampled,
        "sampled_per_question": round(sampled / n, 4),
        "sampled_same_as_original": same,
        "sampled_new": sampled - same,
        "new_per_question": round((sampled - same) / n, 4),
        "distinct_per_question": round(sum(distinct) / n, 4),
        "questions_with_new_path": sum(1 for q in per_q.values() if any(s != q["original"] for s in q["sampled"])),
    }


def greedy_accuracy(path: str | Path, bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Greedy accuracy of a graded greedy sample file: {value, lo, hi, n} (lo/hi None without bootstrap)."""
    from scalemath.metrics.aggregate import MetricsConfig, summarize
    from scalemath.metrics.table import load_samples

    table = load_samples(path)
    s = summarize(table, MetricsConfig(ks=(1,), bootstrap=bootstrap, seed=seed, curve=False))
    g = s["overall"].get("greedy") or s["overall"].get("sample_acc")
    return {
        "value": g["value"],
        "lo": g["lo"] if bootstrap else None,
        "hi": g["hi"] if bootstrap else None,
        "n": s["n_questions"],
    }
