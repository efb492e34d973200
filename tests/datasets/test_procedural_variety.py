"""Reference solutions in varied orders and forms (ProceduralConfig.solution_variety): the same
problems, every solution a valid path of the problem, and variety where the problem allows it."""

import pytest

from scalemath.answers.paths import equations_signature as equation_signature
from scalemath.datasets.procedural import ProceduralConfig, equations, generate, solutions

KW = dict(steps=(2, 4), seed=3, number_range=(2, 10), families=["ages", "inventory", "shopping", "sharing"])


def test_variety_changes_only_the_solution():
    base = generate(120, **KW)
    for variety in ("orders", "forms"):
        other = generate(120, solution_variety=variety, **KW)
        assert [p.id for p in other] == [p.id for p in base]
        assert [(p.question, p.answer) for p in other] == [(p.question, p.answer) for p in base]
        assert [p.meta["programs"] for p in other] == [p.meta["programs"] for p in base]
        assert all("solution_path" in p.meta for p in other)
    assert all("solution_path" not in p.meta for p in base)


@pytest.mark.parametrize("variety", ["orders", "forms"])
def test_every_varied_solution_is_a_valid_path(variety):
    for p in generate(150, solution_variety=variety, **KW):
        valid = {tuple(equations(s)) for s in solutions(p, max_paths=None, commute=variety == "forms")}
        assert tuple(equations(p.solution)) in valid, p.solution
        assert p.solution.rstrip().endswith(f"#### {p.answer}")


def test_variety_is_seeded_and_varies():
    a = generate(200, solution_variety="forms", **KW)
    b = generate(200, solution_variety="forms", **KW)
    assert [p.solution for p in a] == [p.solution for p in b]
    canon = generate(200, **KW)
    differ = sum(equation_signature(x.solution) != equation_signature(y.solution) for x, y in zip(a, canon))
    assert differ > 100  # most 2-4 step problems get another path
    orders = generate(200, solution_variety="orders", **KW)
    assert (
        0
        < sum(equation_signature(x.solution) != equation_signature(y.solution) for x, y in zip(orders, canon))
        < differ
    )


def test_unknown_variety_is_an_error():
    with pytest.raises(ValueError, match="solution_variety"):
        ProceduralConfig(solution_variety="random")
