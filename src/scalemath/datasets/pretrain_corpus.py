"""A broad procedural pre-training corpus: arithmetic and the task's words, not the task.

It gives a from-scratch tiny model arithmetic competence (facts in the calculator-annotation
syntax, number sentences) and language competence (statements in the vocabulary of the
procedural word problems), but it holds no question and no solution from the task distribution:
no line has a question mark, a `####` answer line, or a sentence that states a result of the
scenario templates with an annotation.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from scalemath.datasets import vocab as V


@dataclass
class PretrainConfig:
    """What `pretrain_corpus` makes."""

    seed: int = 0
    """Random seed; the same config gives the same lines."""
    n_lines: int | None = None
    """Stop after this many lines (None: no line limit)."""
    n_chars: int | None = None
    """Stop once this many characters (newlines included) were made (None: no limit)."""
    max_number: int = 1000
    """Largest operand of the + and - facts; * facts use factors up to `max_factor`."""
    max_factor: int = 20
    """Largest factor of the * and / facts (one factor may go up to `max_number // 10`)."""
    weights: dict[str, float] = field(
        default_factory=lambda: {"facts": 0.40, "words": 0.20, "scenes": 0.30, "stories": 0.10}
    )
    """Share of each kind of line: annotated facts, number sentences, scenario statements,
    short event sequences (statements only)."""


def pretrain_corpus(
    n_lines: int | None = None, n_chars: int | None = None, seed: int = 0, config: PretrainConfig | None = None
) -> Iterator[str]:
    """Yield corpus lines (without newline). Infinite if neither `n_lines` nor `n_chars` is set."""
    cfg = config or PretrainConfig(seed=seed, n_lines=n_lines, n_chars=n_chars)
    if config is not None and (n_lines is not None or n_chars is not None):
        cfg = PretrainConfig(**{**cfg.__dict__, "n_lines": n_lines, "n_chars": n_chars})
    rng = random.Random(f"pretrain:{cfg.seed}")
    kinds = list(cfg.weights)
    weights = [cfg.weights[k] for k in kinds]
    makers = {"facts": _facts, "words": _words, "scenes": _scenes, "stories": _stories}
    unknown = set(kinds) - set(makers)
    if unknown:
        raise ValueError(f"unknown corpus kinds {sorted(unknown)}; known: {sorted(makers)}")
    lines = chars = 0
    while (cfg.n_lines is None or lines < cfg.n_lines) and (cfg.n_chars is None or chars < cfg.n_chars):
        line = makers[rng.choices(kinds, weights)[0]](rng, cfg)
        lines += 1
        chars += len(line) + 1
        yield line


# ----------------------------------------------------------------------------------------------
# arithmetic


def _operand(rng: random.Random, hi: int) -> int:
    """Log-uniform-ish in 1..hi, so small and large numbers both show up."""
    return max(1, min(hi, int(math.exp(rng.uniform(0, math.log(hi + 1))))))


def _fact(rng: random.Random, cfg: PretrainConfig) -> tuple[str, list[int], int]:
    op = rng.choice("+-*/+*")
    if op == "+":
        nums = [_operand(rng, cfg.max_number) for _ in range(rng.choice((2, 2, 2, 3, 4)))]
        return op, nums, sum(nums)
    if op == "-":
        a, b = sorted((_operand(rng, cfg.max_number), _operand(rng, cfg.max_number)), reverse=True)
        return op, [a, b], a - b
    a = rng.randint(1, cfg.max_factor)
    b = (
        rng.randint(1, cfg.max_factor)
        if rng.random() < 0.7
        else _operand(rng, max(cfg.max_factor, cfg.max_number // 10))
    )
    if op == "*":
        return op, [a, b], a * b
    return op, [a * b, a], b


def annotated(op: str, nums: list[int], value: int) -> str:
    expr = op.join(map(str, nums))
    return f"{expr}=<<{expr}={value}>>{value}"


def _facts(rng: random.Random, cfg: PretrainConfig) -> str:
    return " ".join(annotated(*_fact(rng, cfg)) for _ in range(rng.randint(2, 6)))


_OP_WORDS = {"+": ("plus", "and"), "-": ("minus", "take away"), "*": ("times",), "/": ("divided by",)}


def _word_sentence(rng: random.Random, cfg: PretrainConfig) -> str:
    op, nums, value = _fact(rng, cfg)
    a, b = nums[0], nums[1]
    r = rng.random()
    if op == "*" and b == 2 and r < 0.5:
        return f"Twice {a} is {value}."
    if op == "/" and b == 2 and r < 0.5:
        return f"Half of {a} is {value}."
    if op == "+" and len(nums) == 2 and r < 0.3:
        return f"{b} more than {a} is {value}."
    if op == "-" and r < 0.3:
        return f"{b} less than {a} is {value}."
    if r < 0.4:
        rel = "more than" if a > b else "less than" if a < b else "equal to"
        return f"{a} is {rel} {b}."
    word = rng.choice(_OP_WORDS[op])
    return f"{f' {word} '.join(map(str, nums))} is {value}."


def _words(rng: random.Random, cfg: PretrainConfig) -> str:
    r = rng.random()
    if r < 0.1:
        n = rng.randint(0, len(V.NUMBER_WORDS) - 1)
        return f"{V.NUMBER_WORDS[n].capitalize()} is {n}."
    if r < 0.2:
        start, step = rng.randint(0, 50), rng.choice((1, 2, 5, 10))
        return ", ".join(str(start + i * step) for i in range(rng.randint(4, 8))) + "."
    return " ".join(_word_sentence(rng, cfg) for _ in range(rng.randint(1, 3)))


# ----------------------------------------------------------------------------------------------
# scenario statements (no question, no computed result)


def _n(rng: random.Random, hi: int = 20) -> int:
    return rng.randint(2, hi)


def _scene(rng: random.Random) -> str:
    name, he, his = rng.choice(V.PEOPLE)
    plural, single = rng.choice(V.ITEMS)
    acts, act = rng.choice(V.ACTIVITIES)
    place, goods = rng.choice(V.STORES)
    thing, box = rng.choice(V.SHARE_THINGS), rng.choice(V.CONTAINERS)
    does, doing = rng.choice(V.JOBS)
    day, veh, dish = rng.choice(V.DAYS), rng.choice(V.VEHICLES), rng.choice(V.DISHES)
    ing, goal = rng.choice(V.INGREDIENTS), rng.choice(V.GOALS)
    options = [
        f"{name} buys {_n(rng)} {plural}.",
        f"A {single} costs {_n(rng)} dollars.",
        f"The {plural} cost {_n(rng)} dollars each.",
        f"{name} has a coupon for {_n(rng)} dollars off.",
        f"{name} pays with {_n(rng, 10) * 10} dollars.",
        f"Each day {name} has {_n(rng, 6)} {acts}.",
        f"The {act} takes {_n(rng) * 5} minutes.",
        f"{name} has {_n(rng, 30) * 10} free minutes.",
        f"A {veh} goes {_n(rng, 60)} miles per hour.",
        f"The road is {_n(rng, 50) * 10} miles long.",
        f"The {veh} comes back the same way.",
        f"{name} is {_n(rng, 60)} years old.",
        f"{name} is {rng.choice(('twice', 'three times'))} as old as {his} {rng.choice(('son', 'daughter'))}.",
        f"{name} is {_n(rng, 9)} years older than {rng.choice(V.PEOPLE)[0]}.",
        f"{name} has {_n(rng)} {box} of {thing}.",
        f"Each of the {box} holds {_n(rng)} {thing}.",
        f"{name} shares the {thing} with {his} friends.",
        f"{name} {does} on {day}.",
        f"{doing} pays {_n(rng)} dollars.",
        f"{name} earns {_n(rng)} dollars an hour.",
        f"{name} wants a {goal}.",
        f"A {dish} needs {_n(rng, 9)} cups of {ing}.",
        f"{name} makes a {dish} for {_n(rng, 8)} people.",
        f"A {place} has {_n(rng, 90)} {goods}.",
        f"On {day} the {place} sells {_n(rng, 30)} {goods}.",
        f"After {day} the {place} has {_n(rng, 90)} {goods}.",
        f"Another {veh} goes {_n(rng, 60)} miles per hour.",
        f"At {_n(rng, 60)} miles per hour the trip takes {_n(rng, 9)} hours.",
        f"In {_n(rng, 9)} weeks {name} works {_n(rng, 40)} hours.",
        f"Now {name} has {_n(rng)} {thing}.",
        f"Then {he} goes home.",
        f"There are {_n(rng, 90)} {goods} in the {place}.",
        f"Together they have {_n(rng, 90)} {thing}.",
        f"{name} asks how many {thing} are in the {box}.",
        f"{name} asks how much the {plural} cost.",
        f"{name} asks what the sum of their ages is.",
        f"With the coupon {name} can pay less.",
        f"{name} does the same every week.",
        f"It takes {_n(rng, 9)} hours.",
        f"The {_single(box)} has {_n(rng)} {thing}.",
        f"The {box} hold {_n(rng, 90)} {thing}.",
        f"{name} has {_n(rng)} loose {thing}.",
        f"{name} gets {_n(rng)} dollars back as change.",
        f"{name} is busy for {_n(rng) * 5} minutes.",
        f"{name} cooks a {dish} from a recipe.",
        f"{name} must buy {_n(rng, 9)} cups of {ing}.",
        f"{name} has {_n(rng, 9)} cups of {ing} at home.",
        f"{name} uses {_n(rng, 9)} cups of {ing} for the {dish}.",
        f"{name} likes to use {ing} in a {dish}.",
        f"{name} needs {_n(rng)} more dollars.",
        f"{name} needs to save for a {goal}.",
        f"{name} saves {_n(rng)} dollars a week.",
        f"{name} does not spend much, {he} spends {_n(rng)} dollars.",
        f"{name} likes to earn money, {he} works on {day}.",
        f"The {rng.choice(('first', 'second', 'third'))} part of the trip is {_n(rng, 90)} miles.",
        f"The rest of the road is {_n(rng, 90)} miles.",
        f"The whole road is {_n(rng, 50) * 10} miles long.",
        f"The cost is shared equally by {_n(rng, 6)} friends.",
        f"Each friend gets {_n(rng)} {thing}.",
        f"{name} shares them among {his} friends.",
        f"{name} is {_n(rng, 9)} years younger than {rng.choice(V.PEOPLE)[0]}.",
        f"{name} is four times as old as {his} dog.",
        f"In {_n(rng, 9)} years {name} will be older.",
        "Every year they gain one year in age.",
        f"{name} gets a gift of {_n(rng)} dollars.",
        f"{name} {does} once a week.",
        f"{name} goes to a {rng.choice(V.LONG_ACTIVITIES)} that is {_n(rng, 4)} hours long.",
        f"{name} gives them away. That is all.",
        f"Those {plural} are new and this {single} is old.",
        f"{name} and {rng.choice(V.PEOPLE)[0]} have {_n(rng)} {thing}.",
        f"{name} and {rng.choice(V.PEOPLE)[0]} get {_n(rng)} {thing}.",
        f"They need {_n(rng, 9)} cups of {ing}.",
        f"{name} can go there and back in a day.",
        f"{name} likes to do {acts} and {rng.choice(V.ACTIVITIES)[0]}.",
        "One hour has 60 minutes.",
        "A week has 7 days.",
        "A dozen is 12.",
    ]
    return rng.choice(options)


def _single(plural: str) -> str:
    return plural[:-2] if plural.endswith("xes") else plural[:-1]


def _scenes(rng: random.Random, cfg: PretrainConfig) -> str:
    return " ".join(_scene(rng) for _ in range(rng.randint(1, 3)))


def _stories(rng: random.Random, cfg: PretrainConfig) -> str:
    """A few events in order, counts stated plainly (no question, no annotation)."""
    name, he, _ = rng.choice(V.PEOPLE)
    thing = rng.choice(V.SHARE_THINGS)
    count = _n(rng, 30)
    out = [f"{name} has {count} {thing}."]
    for _ in range(rng.randint(1, 3)):
        x = rng.randint(1, 10)
        if rng.random() < 0.5 or count <= x:
            count += x
            out.append(f"{he.capitalize()} gets {x} more, so {he} has {count}.")
        else:
            count -= x
            out.append(f"{he.capitalize()} gives {x} away, so {he} has {count} left.")
    return " ".join(out)
