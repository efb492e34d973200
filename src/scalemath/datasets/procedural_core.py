"""The procedural generator's settings (`ProceduralConfig`) and its problem model: a program of
steps, each one equation, rendered as a GSM8K solution; structure keys and splits."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

Arg = int | str  # a number from the question, or the name of an earlier step

FAMILY_NAMES = ("shopping", "time", "speed", "ages", "sharing", "savings", "recipes", "inventory")
"""The scenario families (`procedural_families.FAMILIES` builds each)."""


# ----------------------------------------------------------------------------------------------
# config


@dataclass
class ProceduralConfig:
    """What `generate` makes. Every field has a safe default; `generate(...)` mirrors them."""

    n: int = 1000
    """Number of problems to make."""
    steps: tuple[int, int] = (1, 3)
    """Inclusive range of reasoning steps (equations in the gold solution), each within 1..6."""
    seed: int = 0
    """Base seed; the same config and seed give the same problems, in the same order."""
    split: str = "train"
    """One of "train", "validation", "test". Splits never share a structure key or a question."""
    number_range: tuple[int, int] = (2, 20)
    """Inclusive range of the base numbers in a question (counts, prices, rates, ages...)."""
    families: tuple[str, ...] | None = None
    """Scenario families to draw from (`FAMILY_NAMES`); None = all, drawn uniformly."""
    test_fraction: float = 0.15
    """Share of the structure-key hash space reserved for the test split."""
    validation_fraction: float = 0.05
    """Share of the structure-key hash space reserved for the validation split."""
    minute_scale: int = 5
    """Minutes in the time family are `minute_scale` times a number from `number_range`."""
    max_value: int = 9999
    """Largest allowed answer or intermediate result (keeps numbers short)."""
    unique_structure: bool = True
    """Also dedupe within the split on the structure key (not only on the question text)."""
    max_attempts: int | None = None
    """Give up after this many candidate draws (None: 200 * n + 1000), or after `PATIENCE` draws in
    a row without a new problem; either raises ValueError."""
    id_prefix: str = "procedural"
    """Problem ids are `{id_prefix}-{split}-{seed}-{index}`."""
    solution_variety: str = "none"
    """How each problem's solution text is written: "none" (the canonical gold path, always the
    same step order), "orders" (a seeded random valid path: one of the equivalent programs, its
    steps in a random dependency-respecting order) or "forms" (that, and random operand orders of
    + and *), as human-written solutions vary. The questions, answers and programs are the same
    whatever this is (only `solution` changes; `meta.solution_path` says which path was written)."""

    def __post_init__(self) -> None:
        lo, hi = self.steps
        if not (1 <= lo <= hi <= MAX_STEPS):
            raise ValueError(f"steps must be a range within 1..{MAX_STEPS}, got {self.steps}")
        a, b = self.number_range
        if not (1 <= a < b):
            raise ValueError(f"number_range must be (lo, hi) with 1 <= lo < hi, got {self.number_range}")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")
        if (unknown := unknown_families(self.families)) is not None:
            raise ValueError(f"unknown families {unknown}; choose from {sorted(FAMILY_NAMES)}")
        if self.solution_variety not in SOLUTION_VARIETIES:
            raise ValueError(f"solution_variety must be one of {SOLUTION_VARIETIES}, got {self.solution_variety!r}")
        if not (
            self.test_fraction > 0
            and self.validation_fraction >= 0
            and self.test_fraction + self.validation_fraction < 1
        ):
            raise ValueError("test_fraction and validation_fraction must leave room for train")


MAX_STEPS = 6
SOLUTION_VARIETIES = ("none", "orders", "forms")
PATIENCE = 20000  # give up after this many draws in a row without a new problem
SPLITS = ("train", "validation", "test")


def unknown_families(families: Sequence[str] | None) -> list[str] | None:
    """None when `families` is None (all) or names known families only; else the unknown names,
    sorted ([] for an empty list, which is refused too)."""
    if families is None:
        return None
    unknown = sorted(set(families) - set(FAMILY_NAMES))
    return unknown if unknown or not families else None


# ----------------------------------------------------------------------------------------------
# programs


@dataclass(frozen=True)
class Step:
    """One equation of a solution: `op` over `args`, said by `text` (which holds "{eq}")."""

    name: str
    op: str
    args: tuple[Arg, ...]
    text: str


Program = tuple[Step, ...]


class _Reject(Exception):
    """The drawn numbers do not make a valid problem; draw again."""


def _apply(op: str, nums: Sequence[int]) -> int:
    if op == "+":
        return sum(nums)
    if op == "*":
        out = 1
        for x in nums:
            out *= x
        return out
    if op == "-":
        return nums[0] - sum(nums[1:])
    if op == "/":
        if len(nums) != 2 or nums[1] == 0 or nums[0] % nums[1]:
            raise _Reject(f"inexact division {nums}")
        return nums[0] // nums[1]
    raise ValueError(f"unknown op {op!r}")


def evaluate(program: Sequence[Step]) -> dict[str, int]:
    """The value of every step of a program (raises ValueError on an invalid program)."""
    values: dict[str, int] = {}
    for s in program:
        nums = [values[a] if isinstance(a, str) else a for a in s.args]
        values[s.name] = _apply(s.op, nums)
    return values


def _equation(op: str, nums: Sequence[int], value: int) -> str:
    expr = op.join(str(x) for x in nums)
    return f"{expr}=<<{expr}={value}>>{value}"


def render(
    program: Sequence[Step], order: Sequence[int] | None = None, arg_orders: dict[str, tuple[Arg, ...]] | None = None
) -> str:
    """Solution text of a program: one sentence per step (in `order`), then `#### answer`."""
    values = evaluate(program)
    steps = [program[i] for i in order] if order is not None else list(program)
    lines = []
    for s in steps:
        args = arg_orders.get(s.name, s.args) if arg_orders else s.args
        nums = [values[a] if isinstance(a, str) else a for a in args]
        lines.append(s.text.replace("{eq}", _equation(s.op, nums, values[s.name])))
    lines.append(f"#### {values[program[-1].name]}")
    return "\n".join(lines)


def _canon(program: Sequence[Step]) -> str:
    """Canonical arithmetic of a program: nested same-op +/* flattened, commutative args sorted."""
    by_name = {s.name: s for s in program}

    def terms(a: Arg, op: str) -> list[str]:
        if isinstance(a, str) and by_name[a].op == op and op in "+*":
            return [t for b in by_name[a].args for t in terms(b, op)]
        return [node(a)]

    def node(a: Arg) -> str:
        if not isinstance(a, str):
            return str(a)
        s = by_name[a]
        if s.op in "+*":
            kids = sorted(t for b in s.args for t in terms(b, s.op))
        elif s.op == "-":
            kids = [node(s.args[0])] + sorted(node(b) for b in s.args[1:])
        else:
            kids = [node(b) for b in s.args]
        return f"{s.op}({','.join(kids)})"

    return node(program[-1].name)


def structure_key(programs: Sequence[Sequence[Step]]) -> str:
    """Hash of the problem's arithmetic (the smallest canonical form over its programs)."""
    return hashlib.sha256(min(_canon(p) for p in programs).encode()).hexdigest()[:16]


def split_of_key(key: str, test_fraction: float = 0.15, validation_fraction: float = 0.05) -> str:
    """The split a structure key belongs to (a fixed hash bucket)."""
    u = int(hashlib.sha256(("split:" + key).encode()).hexdigest()[:12], 16) / float(1 << 48)
    if u < test_fraction:
        return "test"
    if u < test_fraction + validation_fraction:
        return "validation"
    return "train"


def normalize_question(text: str) -> str:
    """Lower case, punctuation dropped, whitespace collapsed (for dedupe)."""
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", text.lower()).split())
