"""The study features the demo's study needs, as general study features: a base built by a recorded
recipe (or the shipped one), D in file order, an ablation matched to its RFT cell's compute, controls
planned from their reference's data before it trains, sampled evaluation on the first n test
questions; each typed and checked with FILE:LINE errors."""

import json
from pathlib import Path

import pytest

from scalemath.experiments.config import StudyConfig, StudyError, load_study
from scalemath.experiments.grid import Cell, expand


def study(**over):
    d = {"name": "t", "data": {"train_n": 8, "test_n": 4}}
    d.update(over)
    return StudyConfig.from_dict(d)


NODEDUP = {"name": "rft-nodedup", "collect": {"signature": "none"}, "match": "steps"}


def test_new_fields_leave_other_studies_cells_as_they_were():
    """Fields added for the demo enter a cell's config only when set: existing runs stay done."""
    for c in expand(study(rft={"k": [2], "control": "steps"}, eval={"k": 2})):
        assert not {"sampled_n", "shuffle", "planned"} & set(c.config), c.id
        if c.kind == "base":
            assert c.config["kind"] == "tiny"


def test_a_base_built_by_its_recipe_or_the_shipped_one():
    from scalemath.experiments.actions import RunContext
    from scalemath.training.tiny import SHIPPED_BASE, BaseRecipe

    s = study(base_models=[{"name": "tiny", "recipe": {"pretrain_steps": 20}}])
    base = {c.id: c for c in expand(s)}["base/tiny"]
    assert base.config == {
        "kind": "recipe",
        "recipe": {**json.loads(json.dumps(BaseRecipe().__dict__)), "pretrain_steps": 20},
        "shipped": False,
    }
    shipped = study(base_models=[{"name": "tiny", "recipe": {}, "shipped": True}])
    cells = {c.id: c for c in expand(shipped)}
    ctx = RunContext(Path("/nonexistent"), cells)
    assert ctx.model_path("base/tiny") == str(SHIPPED_BASE)  # nothing to build: the package's files
    for base, message in (
        ({"name": "b", "shipped": True}, r"base_models\[0\].shipped: the shipped base is named by its recipe"),
        ({"name": "b", "recipe": {}, "path": "x"}, r"base_models\[0\].recipe: a base is built by a recipe or read"),
        ({"name": "b", "recipe": {"pretrain_stepz": 3}}, r"base_models\[0\].recipe: unknown key 'pretrain_stepz'"),
        ({"name": "b", "recipe": {"pretrain_steps": 0}}, r"base_models\[0\].recipe.pretrain_steps: expected a count"),
        ({"name": "b", "recipe": {"corpus_lines": 5}, "shipped": True}, r"corpus_lines 5 \(shipped: 60000\)"),
    ):
        with pytest.raises(StudyError, match=message):
            study(base_models=[base])


def test_sft_shuffle_false_trains_on_d_in_file_order(tmp_path):
    from scalemath.experiments.actions import RunContext, training_records
    from scalemath.records import write_jsonl

    s = study(sft={"fractions": [1, 0.5], "shuffle": False}, rft={"k": [2], "control": "steps"})
    cells = {c.id: c for c in expand(s)}
    assert cells["sft/tiny/f1/s0"].config["shuffle"] is False
    assert cells["rft-control/tiny/k2"].config["shuffle"] is False  # the control's D too
    ctx = RunContext(tmp_path, cells)
    problems = [{"id": f"p{i}", "question": f"q{i}", "solution": "#### 1", "answer": "1"} for i in range(8)]
    write_jsonl(tmp_path / "data" / "train.jsonl", problems)
    assert [r["id"] for r in training_records(cells["sft/tiny/f1/s0"], ctx)[0]] == [p["id"] for p in problems]
    assert [r["id"] for r in training_records(cells["sft/tiny/f0.5/s0"], ctx)[0]] == ["p0", "p1", "p2", "p3"]
    shuffled = {c.id: c for c in expand(study(sft={"fractions": [1]}))}
    ids = [r["id"] for r in training_records(shuffled["sft/tiny/f1/s0"], RunContext(tmp_path, shuffled))[0]]
    assert sorted(ids) == sorted(p["id"] for p in problems) and ids != [p["id"] for p in problems]


def test_an_ablation_matched_to_its_rft_cell_and_planned_controls():
    s = study(rft={"k": [2, 4], "control": "steps", "ablations": [NODEDUP]})
    cells = {c.id: c for c in expand(s)}
    nd = cells["rft-nodedup/tiny/k4"]
    assert (nd.config["match"], nd.config["match_of"]) == ("steps", "rft/tiny/k4")
    assert "rft/tiny/k4" in nd.deps and "planned" not in nd.config  # trains after RFT, from its train_meta
    assert (
        nd.config["collect"]["signature"] == "none" and nd.config["samples"] == cells["rft/tiny/k4"].config["samples"]
    )
    planned = {
        c.id: c for c in expand(study(plan_controls=True, rft={"k": [4], "control": "steps", "ablations": [NODEDUP]}))
    }
    for cid in ("rft-control/tiny/k4", "rft-nodedup/tiny/k4"):
        c = planned[cid]
        assert c.config["planned"] is True
        # no dependency on the RFT cell itself: its compute comes from its plan, so they train beside it
        assert "rft/tiny/k4" not in c.deps and set(c.deps) >= set(planned["rft/tiny/k4"].deps)


def test_matched_ablations_and_epochs_are_checked():
    with pytest.raises(StudyError, match=r"rft.ablations\[0\].match: no rft cell to match for k \[3\]"):
        study(rft={"k": [2], "ablations": [{**NODEDUP, "k": [3]}]})
    with pytest.raises(StudyError, match=r"rft.ablations\[0\].match: rft.match already matches"):
        study(rft={"k": [2], "match": "steps", "ablations": [NODEDUP]})
    with pytest.raises(StudyError, match=r"rft.ablations\[0\].match: must be one of"):
        study(rft={"k": [2], "ablations": [{**NODEDUP, "match": "flops"}]})
    with pytest.raises(StudyError, match=r"rft.train.epochs: 2 < sft.train.epochs 6: RFT would train fewer steps"):
        study(sft={"train": {"epochs": 6}}, rft={"k": [2], "train": {"epochs": 2}})


def test_eval_sampled_n(tmp_path):
    cells = {c.id: c for c in expand(study(eval={"k": 2, "sampled_n": 3}))}
    assert cells["eval/sft/tiny/f1/s0"].config["sampled_n"] == 3
    with pytest.raises(StudyError, match=r"eval.sampled_n: must be > 0"):
        study(eval={"k": 2, "sampled_n": 0})
    p = tmp_path / "s.yaml"
    p.write_text("name: s\neval:\n  k: 2\n  sampled_n: many\n")
    with pytest.raises(StudyError, match=r"s\.yaml:4: eval.sampled_n: expected an integer"):  # FILE:LINE
        load_study(p)
    p.write_text("name: s\nplan_controlz: true\n")
    with pytest.raises(StudyError, match=r"s\.yaml:2: unknown key 'plan_controlz'"):  # a top-level key has its line
        load_study(p)


def test_evaluate_sampled_n_draws_k_samples_for_the_first_n_questions_only(tmp_path):
    """Greedy answers every question; the k samples go to the first n; metrics.json says so."""
    from scalemath.experiments.actions import evaluate_sampled_n
    from scalemath.records import Problem
    from scalemath.testing.fake_engine import FakeEngine

    problems = [Problem(id=f"p{i}", question=f"What is {i} + 1?", answer=str(i + 1)) for i in range(5)]
    m = evaluate_sampled_n(FakeEngine(), problems, 2, 3, out_dir=tmp_path, temperature=0.7, progress=False)
    assert m["questions"] == 5 and m["sampled_questions"] == 3
    greedy = [json.loads(x) for x in (tmp_path / "greedy.jsonl").read_text().splitlines()]
    sampled = [json.loads(x) for x in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert len(greedy) == 5 and len({s["problem_id"] for s in sampled}) == 3 and len(sampled) == 6
    assert json.loads((tmp_path / "metrics.json").read_text())["sampled_questions"] == 3


def test_the_runner_checks_a_planned_reference_trained_its_plan(tmp_path):
    from scalemath.experiments.actions import RunContext, check_planned

    s = study(plan_controls=True, rft={"k": [2], "control": "steps"})
    cells: dict[str, Cell] = {c.id: c for c in expand(s)}
    ctx = RunContext(tmp_path, cells)
    ctl, ref = ctx.cell_dir("rft-control/tiny/k2"), ctx.cell_dir("rft/tiny/k2") / "model"
    ctl.mkdir(parents=True)
    ref.mkdir(parents=True)
    (ctl / "plan.json").write_text(json.dumps({"steps": 7}))
    (ref / "train_meta.json").write_text(json.dumps({"steps": 7}))
    check_planned(cells["rft-control/tiny/k2"], ctx)
    (ref / "train_meta.json").write_text(json.dumps({"steps": 8}))
    with pytest.raises(RuntimeError, match="rft/tiny/k2 trained 8 steps, the plan rft-control/tiny/k2 matched said 7"):
        check_planned(cells["rft-control/tiny/k2"], ctx)
