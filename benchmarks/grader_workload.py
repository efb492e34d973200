"""A deterministic mixed GSM8K + MATH grading workload built from the public data (for bench_grader).

`mixed_records(data_dir, n, seed)` returns n records {"id", "completion", "answer", "label",
"kind", "dataset"}: half of them correct by construction, half wrong. Completions are gold
solutions and real-model-like rewrites of them:

- gold: the gold solution as written (GSM8K "#### N", MATH "\\boxed{X}");
- minerva: the solution with its box unwrapped and a Minerva-style ending, "Final Answer: The final
  answer is $X$. I hope it is correct." (GSM8K numbers written 1{,}234, \\$1,234 or 1234.00);
- answer_is: "... The answer is X." / "So the answer is $X$.";
- boxed: a GSM8K solution whose "#### N" line became "\\boxed{N}";
- reformatted: the MATH answer rewritten in an equal form (\\dfrac/\\frac, "a/b", "x = X", a
  reordered list, spaces, \\left( \\right));
- debris: any of the above running on into a chat template's "<|im_end|>\\n<|im_start|>user ...";
- wrong answers: the same shapes around a wrong answer (another problem's answer of the same
  dataset and MATH subject, or the answer perturbed: a digit changed, off by one, times ten);
- no_answer: a truncated solution with no final answer (labelled wrong).

References are the gold solution text or the bare answer (half each). `label` is the construction
verdict (a neighbour answer that happens to equal the gold one is re-drawn, so labels hold).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from scalemath.answers.boxes import matching_brace

_BOX = re.compile(r"\\boxed\s*\{")


def _load(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _last_box_span(text: str) -> tuple[int, int, str] | None:
    """(start of "\\boxed{", end after its "}", content) of the last box."""
    starts = [m for m in _BOX.finditer(text)]
    if not starts:
        return None
    m = starts[-1]
    close = matching_brace(text, m.end() - 1)
    return (m.start(), close + 1, text[m.end() : close]) if close >= 0 else None


def _gsm_number(ans: str) -> int | float | None:
    try:
        v = float(ans.replace(",", ""))
    except ValueError:
        return None
    return int(v) if v.is_integer() else v


def _fmt_gsm(v, rng: random.Random, latex: bool) -> str:
    """A GSM8K number the way models write it."""
    if isinstance(v, float):
        return f"{v:g}"
    style = rng.randrange(6)
    if style == 0 and abs(v) >= 1000:
        return f"{v:,}".replace(",", "{,}") if latex else f"{v:,}"
    if style == 1:
        return f"\\${v:,}" if latex else f"${v:,}"
    if style == 2:
        return f"{v}.00"
    if style == 3 and not latex:
        return f"{v} dollars"
    return str(v)


def _perturb_number(v, rng: random.Random):
    if isinstance(v, float):
        return round(v + rng.choice([-1, 1]) * rng.choice([0.5, 1, 2]), 2)
    choice = rng.randrange(3)
    if choice == 0:
        return v + rng.choice([-2, -1, 1, 2, 10])
    if choice == 1:
        return v * 10 if v else 7
    s = str(abs(v))
    k = rng.randrange(len(s))
    d = str((int(s[k]) + rng.randint(1, 8)) % 10)
    t = s[:k] + d + s[k + 1 :]
    out = int(t.lstrip("0") or "0")
    return -out if v < 0 else (out if out != v else v + 1)


_DIGIT = re.compile(r"\d")


def _perturb_math(ans: str, rng: random.Random) -> str | None:
    """A digit of a MATH answer changed (None when it has no digit)."""
    digits = [m.start() for m in _DIGIT.finditer(ans)]
    if not digits:
        return None
    k = rng.choice(digits)
    d = str((int(ans[k]) + rng.randint(1, 8)) % 10)
    return ans[:k] + d + ans[k + 1 :]


_SIMPLE_FRAC = re.compile(r"\\[dt]?frac\{(-?\d+)\}\{(\d+)\}")


def _reformat_math(ans: str, rng: random.Random) -> str:
    """An equal rewrite of a MATH answer."""
    options = []
    if "\\frac" in ans:
        options.append(lambda a: a.replace("\\frac", "\\dfrac"))
    if "\\dfrac" in ans:
        options.append(lambda a: a.replace("\\dfrac", "\\frac"))
    m = _SIMPLE_FRAC.fullmatch(ans)
    if m:
        options.append(lambda a: f"{m.group(1)}/{m.group(2)}")
    if ans.startswith("(") and ans.endswith(")") and ans.count("(") == 1:
        options.append(lambda a: "\\left" + a[:-1] + "\\right)")
    if re.fullmatch(r"-?\d+", ans):
        options.append(lambda a: f"x = {a}")
        if abs(int(ans)) >= 1000:
            options.append(lambda a: f"{int(a):,}".replace(",", "{,}"))
    if re.fullmatch(r"-?\d+(?:, -?\d+)+", ans):
        options.append(lambda a: ", ".join(reversed([x.strip() for x in a.split(",")])))
    options.append(lambda a: a.replace(" ", "") if " " in a and "\\ " not in a else f" {a} ")
    return rng.choice(options)(ans)


_DEBRIS = (
    "<|im_end|>\n<|im_start|>user\nNow solve: what is 12 + 30? The answer is 42.",
    "<|endoftext|>Human: another one please. 7 * 8 = 56",
    "</s><s>[INST] And what is 3 + 4? [/INST] 7",
)


def _strip_gsm(sol: str) -> tuple[str, str]:
    body, _, ans = sol.rpartition("####")
    return body.rstrip(), ans.strip()


def _gsm_completion(sol: str, value, rng: random.Random, kind: str) -> str:
    body, _ = _strip_gsm(sol)
    if kind == "gold":
        return f"{body}\n#### {value}"
    if kind == "minerva":
        return f"{body}\nFinal Answer: The final answer is ${_fmt_gsm(value, rng, True)}$. I hope it is correct."
    if kind == "boxed":
        return f"{body}\nSo the answer is $\\boxed{{{value}}}$."
    return f"{body}\nThe answer is {_fmt_gsm(value, rng, False)}."  # answer_is


def _math_completion(sol: str, ans: str, rng: random.Random, kind: str) -> str:
    span = _last_box_span(sol)
    if span is None:
        return sol
    start, end, _ = span
    if kind in ("gold", "reformatted"):
        return sol[:start] + "\\boxed{" + ans + "}" + sol[end:]
    unboxed = sol[:start] + ans + sol[end:]
    if kind == "minerva":
        return f"{unboxed}\nFinal Answer: The final answer is ${ans}$. I hope it is correct."
    return f"{unboxed}\nThe answer is ${ans}$."  # answer_is


_NUM = re.compile(r"\d+(?:\.\d+)?")


def _truncate(sol: str, dataset: str, gold: str) -> str | None:
    """The first part of a solution, cut before its final answer and before any line whose last
    number is the answer (so that no last-number rule can find it), or None."""
    lines = sol.split("\n")
    keep = []
    for line in lines[: max(1, len(lines) // 2)]:
        if "\\boxed" in line or "####" in line:
            break
        keep.append(line)
    while keep:
        nums = _NUM.findall("\n".join(keep))
        if not nums or nums[-1] != gold.replace(",", ""):
            break
        keep.pop()
    if not keep:
        return None
    return "\n".join(keep) + "\nLet me think about this more carefully"


def mixed_records(data_dir: Path, n: int = 10_000, seed: int = 0) -> list[dict]:
    """The workload (see the module doc)."""
    from scalemath.answers import normalize

    rng = random.Random(seed)
    gsm = [r for r in _load(data_dir / "gsm8k" / "test.jsonl") if _gsm_number(_strip_gsm(r["answer"])[1]) is not None]
    math = []
    for r in _load(data_dir / "math" / "test.jsonl"):
        span = _last_box_span(r["solution"])
        # one box only: an earlier box would be a second answer in the text
        if span is not None and span[2].strip() and len(_BOX.findall(r["solution"])) == 1:
            math.append(dict(r, boxed=span[2].strip()))
    by_type: dict[str, list[dict]] = {}
    for r in math:
        by_type.setdefault(r["type"], []).append(r)
    out = []
    for i in range(n):
        correct = i % 2 == 0
        if rng.random() < 0.5:  # GSM8K
            row = rng.choice(gsm)
            sol = row["answer"]
            gold = _gsm_number(_strip_gsm(sol)[1])
            value = gold
            if not correct:
                other = _gsm_number(_strip_gsm(rng.choice(gsm)["answer"])[1]) if rng.random() < 0.5 else None
                value = other if other is not None and other != gold else _perturb_number(gold, rng)
            kind = rng.choice(("gold", "minerva", "answer_is", "boxed"))
            completion = _gsm_completion(sol, value, rng, kind)
            reference = sol if rng.random() < 0.5 else _strip_gsm(sol)[1]
            dataset = "gsm8k"
        else:  # MATH
            row = rng.choice(math)
            sol, gold = row["solution"], row["boxed"]
            ans = gold
            if correct:
                kind = rng.choice(("gold", "minerva", "answer_is", "reformatted"))
                if kind == "reformatted":
                    ans = _reformat_math(gold, rng)
            else:
                kind = rng.choice(("gold", "minerva", "answer_is"))
                for _ in range(20):
                    if rng.random() < 0.6:
                        cand = rng.choice(by_type[row["type"]])["boxed"]
                    else:
                        cand = _perturb_math(gold, rng) or rng.choice(math)["boxed"]
                    if normalize(cand, "math") != normalize(gold, "math") and cand.strip() != gold.strip():
                        ans = cand
                        break
            completion = _math_completion(sol, ans, rng, kind)
            reference = sol if rng.random() < 0.5 else gold
            dataset = "math"
        if not correct and rng.random() < 0.08:  # a truncated solution: no final answer at all
            truncated = _truncate(sol, dataset, str(gold))
            if truncated is not None:
                completion, kind = truncated, "no_answer"
        if rng.random() < 0.1:
            completion += rng.choice(_DEBRIS)
            kind += "+debris"
        out.append(
            {"id": i, "completion": completion, "answer": reference, "label": correct, "kind": kind, "dataset": dataset}
        )
    return out


_PREAMBLES = (
    "Let's think step by step.\n\n",
    "To solve this problem, we need to work through it carefully, one step at a time.\n\n",
    "We are asked to find the requested quantity. Let us restate what is given and proceed.\n\n",
    "",
)


def long_records(data_dir: Path, n: int = 10_000, seed: int = 0, min_chars: int = 700) -> list[dict]:
    """A workload of long chains of thought: the records of `mixed_records` (same shapes, same labels,
    half wrong) whose completion is at least `min_chars` long once a model-like preamble and the problem
    statement are put before it (mean >= 800 characters; mostly MATH, with its LaTeX answers: tuples,
    intervals, matrices, surds, expressions). Deterministic in `seed`."""
    rng = random.Random(seed + 1)
    problems = {}
    for r in _load(data_dir / "math" / "test.jsonl"):
        problems[r["solution"]] = r["problem"]
    for r in _load(data_dir / "gsm8k" / "test.jsonl"):
        problems[r["answer"]] = r["question"]
    pool = mixed_records(data_dir, 4 * n, seed)
    out = []
    for rec in pool:
        ref = rec["answer"]
        problem = problems.get(ref, "")
        text = rng.choice(_PREAMBLES) + (f"The problem: {problem}\n\n" if problem and rng.random() < 0.7 else "")
        text += rec["completion"]
        if len(text) < min_chars:
            continue
        out.append(dict(rec, id=len(out), completion=text))
        if len(out) == n:
            break
    return out
