"""Seeded generator of multi-step arithmetic word problems in GSM8K's exact format.

Each problem is a small program: a list of steps, each one equation (`op` over numbers from the
question or results of earlier steps) rendered as one short sentence with a calculator annotation:

    Tom buys 3 apples for 4 dollars each and a pen for 5 dollars. How much does Tom spend in all?
    The apples cost 3*4=<<3*4=12>>12 dollars.
    Tom spends 12+5=<<12+5=17>>17 dollars in all.
    #### 17

Problems keep their program(s) in `meta["programs"]`, so `solutions(problem)` can enumerate the
other valid solutions: any order of the steps that respects their dependencies, the operand orders
of + and *, and for some families a different but equivalent program (e.g. 3*5+4*5 vs (3+4)*5).
The gold solution is the first one listed.

Splits are disjoint by construction: a problem's split is a hash bucket of its *structure key*
(the arithmetic of its program in a canonical form, names and wording left out), so a train and a
test problem never share the same computation, let alone the same question text.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, cast

from scalemath.datasets.procedural_build import Build
from scalemath.datasets.procedural_core import (
    FAMILY_NAMES,
    MAX_STEPS,
    PATIENCE,
    SOLUTION_VARIETIES,
    SPLITS,
    Arg,
    ProceduralConfig,
    Program,
    Step,
    _Reject,
    evaluate,
    normalize_question,
    render,
    split_of_key,
    structure_key,
)
from scalemath.datasets.procedural_families import FAMILIES
from scalemath.records import Problem

# ----------------------------------------------------------------------------------------------
# generation


def _derive_seed(*parts: object) -> int:
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:15], 16)


def _serialize(program: Program) -> list[list]:
    return [[s.name, s.op, list(s.args), s.text] for s in program]


def build_one(problem_seed: int, cfg: ProceduralConfig) -> Problem | None:
    """The candidate problem drawn from one seed (None if the draw was rejected).

    The id and split are left for `generate` to fill in.
    """
    rng = random.Random(problem_seed)
    families = list(cfg.families or FAMILIES)
    steps = rng.randint(*cfg.steps)
    family = rng.choice(families)
    b = Build(rng, cfg)
    try:
        FAMILIES[family](b, steps)
    except _Reject:
        return None
    if len(b.steps) != steps:
        raise AssertionError(f"{family} built {len(b.steps)} steps, wanted {steps}")
    b.steps = _post_order(b.steps)
    programs = b.programs()
    for prog in programs:
        _check_all_used(prog, family)
    question = " ".join(b.say_lines + [b.question_ask])
    answer = b.values[b.steps[-1].name]
    meta = {
        "family": family,
        "steps": steps,
        "seed": problem_seed,
        "key": structure_key(programs),
        "programs": [_serialize(p) for p in programs],
    }
    solution = render(programs[0])
    if cfg.solution_variety != "none":
        # its own RNG: the question and numbers do not depend on how the solution is written
        solution, meta["solution_path"] = random_solution(
            programs, random.Random(_derive_seed("solution", problem_seed)), commute=cfg.solution_variety == "forms"
        )
    return Problem(id="", question=question, solution=solution, answer=str(answer), source="procedural", meta=meta)


def random_solution(
    programs: Sequence[Program], rng: random.Random, commute: bool = False
) -> tuple[str, dict[str, object]]:
    """A random valid solution text: a uniformly drawn program (gold or an equivalent rewrite),
    a uniformly drawn dependency-respecting order of its steps and, with `commute`, random operand
    orders of + and * (and of the subtrahends of -). Returns (text, {program, order, commuted})."""
    pi = rng.randrange(len(programs))
    prog = programs[pi]
    orders = list(_topo_orders(prog))
    order = orders[rng.randrange(len(orders))]
    arg_orders = None
    if commute:
        arg_orders = {}
        for st in prog:
            choices = _arg_orders(st)
            arg_orders[st.name] = choices[rng.randrange(len(choices))]
    return render(prog, order, arg_orders), {"program": pi, "order": order, "commuted": bool(commute)}


def _post_order(steps: Sequence[Step]) -> list[Step]:
    """Gold order: each step right after what it uses, walking from the final step's arguments
    left to right (a product used by the fourth event comes just before that event)."""
    by_name = {s.name: s for s in steps}
    out: list[Step] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        for a in by_name[name].args:
            if isinstance(a, str):
                visit(a)
        done.add(name)
        out.append(by_name[name])

    visit(steps[-1].name)
    return out + [s for s in steps if s.name not in done]


def _check_all_used(program: Program, family: str) -> None:
    """Every step must feed the final one (no distractor steps in a solution)."""
    by_name = {s.name: s for s in program}
    needed, todo = set(), [program[-1].name]
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(a for a in by_name[name].args if isinstance(a, str))
    if len(needed) != len(program):
        raise AssertionError(f"{family}: steps {sorted(set(by_name) - needed)} are not used")


def iter_generate(cfg: ProceduralConfig) -> Iterator[Problem]:
    """Yield `cfg.n` unique problems of `cfg.split` (see `generate`)."""
    seen_q: set[str] = set()
    seen_k: set[str] = set()
    limit = cfg.max_attempts if cfg.max_attempts is not None else 200 * cfg.n + 1000
    made = last_new = 0
    for attempt in range(limit):
        if made >= cfg.n:
            return
        if attempt - last_new > PATIENCE:
            break
        pseed = _derive_seed("procedural", cfg.seed, cfg.split, attempt)
        prob = build_one(pseed, cfg)
        if prob is None:
            continue
        key = prob.meta["key"]
        if split_of_key(key, cfg.test_fraction, cfg.validation_fraction) != cfg.split:
            continue
        q = normalize_question(prob.question)
        if q in seen_q or (cfg.unique_structure and key in seen_k):
            continue
        seen_q.add(q)
        seen_k.add(key)
        prob.id = f"{cfg.id_prefix}-{cfg.split}-{cfg.seed}-{made}"
        prob.split = cfg.split
        made += 1
        last_new = attempt
        yield prob
    if made < cfg.n:
        raise ValueError(
            f"only {made} of {cfg.n} unique {cfg.split} problems found in {attempt + 1} draws for "
            f"steps={cfg.steps}, number_range={cfg.number_range}; widen number_range or steps"
        )


def generate(
    n: int,
    steps: tuple[int, int] = (1, 3),
    seed: int = 0,
    split: str = "train",
    number_range: tuple[int, int] = (2, 20),
    families: Sequence[str] | None = None,
    **config: Any,
) -> list[Problem]:
    """Make `n` unique GSM8K-format problems (see `ProceduralConfig` for every option).

    Deterministic in its arguments. Problems of different splits never share a question or a
    structure key; within a split none repeats.
    """
    cfg = ProceduralConfig(
        n=n,
        # tuple() also takes lists; ProceduralConfig checks there are two items
        steps=cast("tuple[int, int]", tuple(steps)),
        seed=seed,
        split=split,
        number_range=cast("tuple[int, int]", tuple(number_range)),
        families=tuple(families) if families else None,
        **config,
    )
    return list(iter_generate(cfg))


def check_disjoint(a: Iterable[Problem], b: Iterable[Problem]) -> dict[str, int]:
    """Raise ValueError if two problem sets share a normalized question or a structure key.

    Returns the counts compared. Problems without a structure key are compared on questions only.
    """
    qa, ka = set(), set()
    na = 0
    for p in a:
        na += 1
        qa.add(normalize_question(p.question))
        if p.meta.get("key"):
            ka.add(p.meta["key"])
    nb = shared_q = shared_k = 0
    for p in b:
        nb += 1
        shared_q += normalize_question(p.question) in qa
        shared_k += bool(p.meta.get("key")) and p.meta["key"] in ka
    if shared_q or shared_k:
        raise ValueError(f"sets overlap: {shared_q} shared questions, {shared_k} shared structure keys")
    return {"a": na, "b": nb}


# ----------------------------------------------------------------------------------------------
# alternative solutions


def programs_of(problem: Problem) -> list[Program]:
    """The programs stored in a procedural problem's meta (gold first)."""
    raw = problem.meta.get("programs")
    if not raw:
        raise ValueError(f"problem {problem.id!r} has no meta['programs'] (not procedural?)")
    return [tuple(Step(n, op, tuple(args), text) for n, op, args, text in prog) for prog in raw]


def _topo_orders(program: Program) -> Iterator[list[int]]:
    """Every order of the steps that computes each step after the steps it uses (gold first)."""
    deps = [{a for a in s.args if isinstance(a, str)} for s in program]
    names = [s.name for s in program]
    n = len(program)

    def rec(order: list[int], done: set[str]) -> Iterator[list[int]]:
        if len(order) == n:
            yield list(order)
            return
        for i in range(n):
            if names[i] not in done and deps[i] <= done:
                order.append(i)
                done.add(names[i])
                yield from rec(order, done)
                order.pop()
                done.discard(names[i])

    yield from rec([], set())


def _arg_orders(s: Step) -> list[tuple[Arg, ...]]:
    perms: Iterator[tuple[Arg, ...]]
    if s.op in "+*":
        perms = itertools.permutations(s.args)
    elif s.op == "-":
        perms = ((s.args[0],) + rest for rest in itertools.permutations(s.args[1:]))
    else:
        perms = iter([s.args])
    seen, out = set(), []
    for p in perms:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def equations(solution: str) -> list[str]:
    """The `<<...>>` annotations of a solution, spaces removed (the RFT path signature)."""
    from scalemath.answers.calculator import ANNOTATION_RE

    return [e.replace(" ", "") for e in ANNOTATION_RE.findall(solution)]


def solutions(problem: Problem, max_paths: int | None = 32, commute: bool = True) -> list[str]:
    """Distinct valid solution texts of a procedural problem, the gold one first.

    Distinct means a distinct ordered list of equations. Paths come from every program (the gold
    and its equivalent rewrites) and every dependency-respecting order of its steps; with
    `commute`, also from the operand orders of + and * (and of the subtrahends of -). Orders
    without operand swaps are listed before those with them. `max_paths=None` lists all.
    """
    programs = programs_of(problem)
    out: list[str] = []
    seen: set[tuple[str, ...]] = set()

    def add(text: str) -> bool:
        sig = tuple(equations(text))
        if sig not in seen:
            seen.add(sig)
            out.append(text)
        return max_paths is not None and len(out) >= max_paths

    for prog in programs:
        for order in _topo_orders(prog):
            if add(render(prog, order)):
                return out
    if commute:
        for prog in programs:
            choices = [_arg_orders(s) for s in prog]
            for order in _topo_orders(prog):
                for combo in itertools.product(*choices):
                    arg_orders = {s.name: c for s, c in zip(prog, combo)}
                    if add(render(prog, order, arg_orders)):
                        return out
    return out


__all__ = [
    "FAMILIES",
    "FAMILY_NAMES",
    "MAX_STEPS",
    "SOLUTION_VARIETIES",
    "SPLITS",
    "ProceduralConfig",
    "Program",
    "Step",
    "build_one",
    "check_disjoint",
    "equations",
    "evaluate",
    "generate",
    "iter_generate",
    "normalize_question",
    "programs_of",
    "random_solution",
    "render",
    "solutions",
    "split_of_key",
    "structure_key",
]
