"""The builder the procedural families write a problem with (`Build`: numbers, sentences, gold
steps, alternative solutions) and the helpers they share (plans, people, step blocks)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Sequence

from scalemath.datasets import vocab as V
from scalemath.datasets.procedural_core import Arg, ProceduralConfig, Program, Step, _apply, _Reject


class Build:
    def __init__(self, rng: random.Random, cfg: ProceduralConfig):
        self.rng, self.cfg = rng, cfg
        self.lo, self.hi = cfg.number_range
        self.say_lines: list[str] = []
        self.steps: list[Step] = []
        self.values: dict[str, int] = {}
        self.alts: list[tuple[list[str], list[Step]]] = []  # (replaced step names, new steps)
        self.question_ask = ""

    # numbers
    def num(self, lo: int | None = None, hi: int | None = None) -> int:
        lo = self.lo if lo is None else lo
        hi = self.hi if hi is None else hi
        if lo > hi:
            raise _Reject("empty number range")
        return self.rng.randint(lo, hi)

    def small(self) -> int:
        """A multiplier like weeks or people: 2..min(hi, 9)."""
        return self.num(2, max(2, min(self.hi, 9)))

    def above(self, value: int) -> int:
        """A round number above `value` (a bill, a budget, a road length)."""
        return (value // 10 + 1 + self.rng.randint(0, 3)) * 10

    def divisor(self, value: int) -> int:
        ds = [d for d in range(2, max(2, min(self.hi, 12)) + 1) if value % d == 0 and d < value]
        if not ds:
            raise _Reject("no divisor")
        return self.rng.choice(ds)

    def val(self, a: Arg) -> int:
        return self.values[a] if isinstance(a, str) else a

    # text
    def say(self, sentence: str) -> None:
        self.say_lines.append(sentence)

    def ask(self, question: str) -> None:
        self.question_ask = question

    # steps
    def step(self, op: str, args: Iterable[Arg], text: str) -> str:
        name = f"s{len(self.steps)}"
        self.steps.append(self._checked(Step(name, op, tuple(args), text)))
        return name

    def _checked(self, s: Step) -> Step:
        v = _apply(s.op, [self.val(a) for a in s.args])
        if v <= 0 or v > self.cfg.max_value:
            raise _Reject(f"value {v} out of range")
        self.values[s.name] = v
        return s

    def alt(self, replaces: list[str], new_steps: list[tuple[str, Iterable[Arg], str]]) -> None:
        """An equivalent way to compute the steps `replaces`: the last new step takes the name of
        the last replaced one, so later steps use it unchanged."""
        before = self.values[replaces[-1]]
        made: list[Step] = []
        for i, (op, args, text) in enumerate(new_steps):
            name = replaces[-1] if i == len(new_steps) - 1 else f"a{len(self.alts)}_{i}"
            made.append(self._checked(Step(name, op, tuple(args), text)))
        if self.values[replaces[-1]] != before:
            raise AssertionError("alternative program gives a different value")
        self.alts.append((replaces, made))

    def programs(self) -> list[Program]:
        """The gold program first, then every combination of the alternatives."""
        out: list[Program] = []
        for mask in itertools.product((False, True), repeat=len(self.alts)):
            steps = list(self.steps)
            for use, (replaces, made) in zip(mask, self.alts):
                if use:
                    pos = next(i for i, s in enumerate(steps) if s.name == replaces[0])
                    steps = [s for s in steps if s.name not in replaces]
                    steps[pos:pos] = made
            out.append(_stable_topo(steps))
        return out


def _stable_topo(steps: Sequence[Step]) -> Program:
    """Steps reordered as little as possible so each comes after the steps it uses."""
    left, done, out = list(steps), set(), []
    while left:
        i = next(i for i, s in enumerate(left) if all(a in done for a in s.args if isinstance(a, str)))
        done.add(left[i].name)
        out.append(left.pop(i))
    return tuple(out)


def join_and(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def capitalized(s: str) -> str:
    return s[:1].upper() + s[1:]


def plan_steps(b: Build, steps: int, kmax: int = 3, mmax: int = 2, products: str = "any") -> tuple[int, int, int]:
    """Choose (parts k, products p, modifiers m) with p + (k >= 2) + m == steps."""
    options = []
    for k in range(1, kmax + 1):
        prange = range(k, k + 1) if products == "all" else range(0, k + 1)
        for p in prange:
            m = steps - p - (k >= 2)
            if 0 <= m <= mmax:
                options.append((k, p, m))
    if not options:
        raise _Reject(f"no plan for {steps} steps")
    return b.rng.choice(options)


def product_flags(b: Build, k: int, p: int) -> list[bool]:
    flags = [True] * p + [False] * (k - p)
    b.rng.shuffle(flags)
    return flags


def modifier_chain(b: Build, chains: Sequence[tuple[str, ...]], m: int) -> tuple[str, ...]:
    options = [c for c in chains if len(c) == m]
    if not options:
        raise _Reject(f"no modifier chain of length {m}")
    return b.rng.choice(options)


def pick_person(b: Build, exclude: Iterable[str] = ()) -> tuple[str, str, str]:
    return b.rng.choice([p for p in V.PEOPLE if p[0] not in set(exclude)])


def _resolve(args: Iterable[Arg], names: list[str]) -> tuple[Arg, ...]:
    """Placeholders "<per>" (the first step of a block) and "<i>" (its i-th step) -> names."""
    out: list[Arg] = []
    for a in args:
        if isinstance(a, str) and a.startswith("<"):
            out.append(names[0] if a == "<per>" else names[int(a[1:-1])])
        else:
            out.append(a)
    return tuple(out)


def add_block(b: Build, block: list[tuple[str, tuple[Arg, ...], str]]) -> list[str]:
    names: list[str] = []
    for op, args, text in block:
        names.append(b.step(op, _resolve(args, names), text))
    return names


def alt_block(b: Build, replaces: list[str], block: list[tuple[str, tuple[Arg, ...], str]]) -> None:
    base = f"a{len(b.alts)}_"
    names = [f"{base}{i}" for i in range(len(block) - 1)] + [replaces[-1]]
    b.alt(replaces, [(op, _resolve(args, names), text) for op, args, text in block])
