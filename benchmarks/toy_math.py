"""A small stand-in for the procedural GSM8K-style generator, used only by the training benchmarks
(the project's real generator lives in scalemath.datasets). Problems take 1-2 steps; solutions use
GSM8K calculator annotations and end with "#### answer"."""

from __future__ import annotations

import random

NAMES = ["Tom", "Ann", "Sam", "Mia", "Leo", "Eva", "Max", "Zoe", "Ben", "Ivy"]
ITEMS = ["apples", "pens", "books", "cards", "shells", "stickers", "coins", "marbles"]


def _one(rng: random.Random) -> tuple[str, str, int]:
    n, m = rng.choice(NAMES), rng.choice([x for x in NAMES])
    it = rng.choice(ITEMS)
    a, b, c = rng.randint(2, 12), rng.randint(2, 12), rng.randint(2, 30)
    kind = rng.randrange(8)
    if kind == 0:
        q = f"{n} has {a} bags with {b} {it} each. How many {it} does {n} have?"
        s = f"{n} has {a}*{b}=<<{a}*{b}={a * b}>>{a * b} {it}."
        ans = a * b
    elif kind == 1:
        q = f"{n} has {c} {it} and buys {a} more. How many {it} does {n} have now?"
        s = f"{n} has {c}+{a}=<<{c}+{a}={c + a}>>{c + a} {it}."
        ans = c + a
    elif kind == 2:
        c = c + a
        q = f"{n} had {c} {it} and gave {a} to {m}. How many {it} are left?"
        s = f"{n} has {c}-{a}=<<{c}-{a}={c - a}>>{c - a} {it} left."
        ans = c - a
    elif kind == 3:
        t = a * b
        q = f"{n} shares {t} {it} equally among {a} friends. How many {it} does each friend get?"
        s = f"Each friend gets {t}/{a}=<<{t}/{a}={b}>>{b} {it}."
        ans = b
    elif kind == 4:
        q = f"{n} has {a} boxes with {b} {it} each and {c} loose {it}. How many {it} in total?"
        s = (
            f"The boxes hold {a}*{b}=<<{a}*{b}={a * b}>>{a * b} {it}. "
            f"In total {a * b}+{c}=<<{a * b}+{c}={a * b + c}>>{a * b + c} {it}."
        )
        ans = a * b + c
    elif kind == 5:
        q = f"{n} buys {a} {it} for ${b} each and pays with ${a * b + c}. How much change does {n} get?"
        s = (
            f"The {it} cost {a}*{b}=<<{a}*{b}={a * b}>>{a * b} dollars. "
            f"The change is {a * b + c}-{a * b}=<<{a * b + c}-{a * b}={c}>>{c} dollars."
        )
        ans = c
    elif kind == 6:
        q = f"{n} has {c} {it}. {m} has {a} times as many. How many {it} do they have together?"
        s = (
            f"{m} has {c}*{a}=<<{c}*{a}={c * a}>>{c * a} {it}. "
            f"Together they have {c}+{c * a}=<<{c}+{c * a}={c + c * a}>>{c + c * a} {it}."
        )
        ans = c + c * a
    else:
        q = f"{n} reads {a} pages a day for {b} days and then {c} more pages. How many pages in all?"
        s = (
            f"In {b} days {n} reads {a}*{b}=<<{a}*{b}={a * b}>>{a * b} pages. "
            f"In all {a * b}+{c}=<<{a * b}+{c}={a * b + c}>>{a * b + c} pages."
        )
        ans = a * b + c
    return q, s + f"\n#### {ans}", ans


def problems(n: int, seed: int = 0) -> list[dict]:
    """Problem-shaped dicts: id, question, solution, answer."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        q, s, a = _one(rng)
        out.append({"id": f"toy-{seed}-{i}", "question": q, "solution": s, "answer": str(a)})
    return out


def corpus(n: int, seed: int = 1) -> list[str]:
    """Pre-training documents: worked problems plus bare arithmetic facts."""
    rng = random.Random(seed)
    docs = []
    for p in problems(n, seed):
        if rng.random() < 0.25:
            a, b = rng.randint(0, 99), rng.randint(0, 99)
            op = rng.choice("+-*")
            v = a + b if op == "+" else a - b if op == "-" else a * b
            docs.append(f"{a}{op}{b}=<<{a}{op}{b}={v}>>{v}")
        else:
            docs.append(f"Q: {p['question']}\nA: {p['solution']}")
    return docs
