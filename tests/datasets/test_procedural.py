"""Invariants of the procedural GSM8K-format generator and the pre-training corpus."""

import ast
import collections
import re
from fractions import Fraction

import pytest

from scalemath.datasets.pretrain_corpus import PretrainConfig, pretrain_corpus
from scalemath.datasets.procedural import (
    FAMILIES,
    ProceduralConfig,
    check_disjoint,
    equations,
    generate,
    normalize_question,
    programs_of,
    solutions,
    split_of_key,
    structure_key,
)

ANNOT = re.compile(r"([0-9+\-*/]+)=<<([^=<>]+)=([^<>]+)>>(\S+?)(?=[\s.,]|$)")


def calc(expr: str) -> Fraction:
    """Tiny local checker: numbers and + - * / only (the project's evaluator is written elsewhere)."""

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return Fraction(node.value)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            a, b = ev(node.left), ev(node.right)
            return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b, ast.Div: a / b if b else None}[type(node.op)]
        raise ValueError(f"not plain arithmetic: {ast.dump(node)}")

    return ev(ast.parse(expr, mode="eval"))


def check_solution(text: str) -> list[int]:
    """Assert every step is `expr=<<expr=v>>v` with v correct; return the results."""
    lines = text.split("\n")
    assert lines[-1].startswith("#### ")
    results = []
    for line in lines[:-1]:
        found = ANNOT.findall(line)
        assert len(found) == 1, line
        shown, expr, value, after = found[0]
        assert shown == expr and value == after, line
        exact = calc(expr)
        assert exact is not None and exact.denominator == 1 and exact >= 0, line
        assert int(value) == exact, line
        for a, b in re.findall(r"(\d+)/(\d+)", expr):  # each division exact
            assert int(a) % int(b) == 0, line
        results.append(int(value))
    assert lines[-1] == f"#### {results[-1]}"
    return results


@pytest.fixture(scope="module")
def train():
    return generate(600, steps=(1, 6), seed=0, split="train")


@pytest.fixture(scope="module")
def test_split():
    return generate(300, steps=(1, 6), seed=0, split="test")


def test_annotations_correct_and_answer_is_last_result(train):
    for p in train:
        results = check_solution(p.solution)
        assert p.answer == str(results[-1]) and int(p.answer) > 0
        assert p.source == "procedural" and p.split == "train"


def test_steps_in_range_and_counted(train):
    short = generate(200, steps=(2, 3), seed=5)
    assert {p.meta["steps"] for p in short} == {2, 3}
    for p in short + train:
        assert len(equations(p.solution)) == p.meta["steps"]
    assert {p.meta["steps"] for p in train} == set(range(1, 7))


def test_deterministic_by_seed():
    a = generate(50, steps=(1, 4), seed=7)
    b = generate(50, steps=(1, 4), seed=7)
    c = generate(50, steps=(1, 4), seed=8)
    assert [p.__dict__ for p in a] == [p.__dict__ for p in b]
    assert [p.question for p in a] != [p.question for p in c]
    assert len({p.id for p in a}) == 50


def test_splits_disjoint(train, test_split):
    assert check_disjoint(train, test_split) == {"a": 600, "b": 300}
    assert not {normalize_question(p.question) for p in train} & {normalize_question(p.question) for p in test_split}
    assert not {p.meta["key"] for p in train} & {p.meta["key"] for p in test_split}
    for p in test_split:
        assert split_of_key(p.meta["key"]) == "test" and p.split == "test"
    # a different seed of train still never meets test
    check_disjoint(generate(300, steps=(1, 6), seed=1), test_split)
    with pytest.raises(ValueError, match="overlap"):
        check_disjoint(train[:5], train[3:8])


def test_unique_within_split(train):
    assert len({normalize_question(p.question) for p in train}) == len(train)
    assert len({p.meta["key"] for p in train}) == len(train)


def test_every_family_appears(train):
    counts = collections.Counter(p.meta["family"] for p in train)
    assert set(counts) == set(FAMILIES)
    assert min(counts.values()) >= 30


def test_each_family_covers_all_step_counts():
    for fam in FAMILIES:
        probs = generate(60, steps=(1, 6), seed=2, families=[fam])
        assert {p.meta["family"] for p in probs} == {fam}
        assert {p.meta["steps"] for p in probs} == set(range(1, 7)), fam


def test_families_and_number_range_respected():
    probs = generate(80, steps=(1, 2), seed=3, number_range=(30, 40), families=["shopping", "ages"])
    assert {p.meta["family"] for p in probs} == {"shopping", "ages"}
    for p in probs:
        check_solution(p.solution)
        first = int(re.search(r"\d+", p.question).group())
        assert 30 <= first <= 40 or p.meta["family"] == "shopping"


def test_compact_text(train):
    qlen = [len(p.question) for p in train]
    assert 100 <= sum(qlen) / len(qlen) <= 250 and max(qlen) <= 300
    for p in train:
        assert all(len(line) <= 120 for line in p.solution.split("\n"))


def test_alternative_paths_are_valid_and_distinct(train):
    for p in train[:150]:
        paths = solutions(p, max_paths=24)
        assert paths[0] == p.solution
        sigs = [tuple(equations(s)) for s in paths]
        assert len(set(sigs)) == len(sigs)
        for s in paths:
            assert check_solution(s)[-1] == int(p.answer)


def test_many_problems_have_several_step_orders(train):
    multi = [p for p in train if p.meta["steps"] >= 3]
    reordered = sum(len(solutions(p, max_paths=2, commute=False)) > 1 for p in multi)
    assert reordered / len(multi) >= 0.6
    two_plus = [p for p in train if p.meta["steps"] >= 2]
    any_alt = sum(len(solutions(p, max_paths=2)) > 1 for p in two_plus)
    assert any_alt / len(two_plus) >= 0.95


def test_equivalent_programs_share_the_structure_key(train):
    with_alts = [p for p in train if len(p.meta["programs"]) > 1]
    assert {p.meta["family"] for p in with_alts} >= {"savings", "recipes", "inventory"}
    for p in with_alts:
        progs = programs_of(p)
        assert structure_key(progs) == structure_key(progs[::-1]) == p.meta["key"]


def test_config_validation_and_exhaustion():
    with pytest.raises(ValueError, match="steps"):
        ProceduralConfig(steps=(0, 3))
    with pytest.raises(ValueError, match="families"):
        ProceduralConfig(families=("nope",))
    with pytest.raises(ValueError, match="split"):
        ProceduralConfig(split="dev")
    with pytest.raises(ValueError, match="only"):
        generate(100, steps=(1, 1), number_range=(2, 3))


# ---------------------------------------------------------------- pre-training corpus


def test_pretrain_corpus_limits_and_determinism():
    lines = list(pretrain_corpus(n_lines=300, seed=1))
    assert len(lines) == 300 and lines == list(pretrain_corpus(n_lines=300, seed=1))
    assert lines != list(pretrain_corpus(n_lines=300, seed=2))
    by_chars = list(pretrain_corpus(n_chars=5000, seed=1))
    total = sum(len(x) + 1 for x in by_chars)
    assert total >= 5000 and total - len(by_chars[-1]) - 1 < 5000
    cfg = PretrainConfig(seed=1, weights={"facts": 1.0})
    assert all("<<" in x for x in pretrain_corpus(n_lines=20, config=cfg))


def test_pretrain_corpus_is_not_the_task():
    lines = list(pretrain_corpus(n_chars=300_000, seed=0))
    kinds = collections.Counter()
    for line in lines:
        assert "?" not in line and "####" not in line
        if "<<" in line:
            kinds["facts"] += 1
            # annotated facts only: no sentence around an annotation (the task's solution form)
            assert re.fullmatch(r"(\S+=<<[^>]+>>\S+ ?)+", line), line
            for shown, expr, value, after in ANNOT.findall(line):
                assert calc(expr) == int(value) and shown == expr and value == after
        else:
            kinds["text"] += 1
    assert kinds["facts"] > 0.2 * len(lines) and kinds["text"] > 0.4 * len(lines)
    task = generate(200, steps=(1, 6), seed=4)
    corpus_text = "\n".join(lines)
    assert not any(p.question in corpus_text for p in task)
    for p in task:
        for step_line in p.solution.split("\n")[:-1]:
            assert step_line not in corpus_text


def test_pretrain_corpus_covers_task_vocabulary():
    words = lambda t: {w.lower() for w in re.findall(r"[A-Za-z]+", t)}
    task = set().union(*(words(p.question + " " + p.solution) for p in generate(800, steps=(1, 6), seed=9)))
    corpus = set().union(*(words(x) for x in pretrain_corpus(n_chars=400_000, seed=0)))
    missing = task - corpus
    assert len(missing) <= 0.03 * len(task), sorted(missing)
