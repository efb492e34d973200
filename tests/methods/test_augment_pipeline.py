"""finalize (decontaminate -> dedupe), nested subsets, and the augment/decontaminate CLI."""

import json

import pytest
from typer.testing import CliRunner

from scalemath.cli import app
from scalemath.methods.augment import FinalizeConfig, FinalizeReport, finalize, nested_fraction, nested_questions
from scalemath.methods.augment.scripted import ScriptedEngine
from scalemath.methods.decontaminate import Decontaminator
from scalemath.records import Problem, iter_jsonl, write_jsonl

TESTQ = "A robe takes 2 bolts of blue fiber and half that much white fiber. How many bolts in total does it take?"


def sample(pid, q, completion, i=0):
    return {"problem_id": pid, "question": q, "completion": completion, "sample_index": i}


def test_finalize_stages_and_report():
    decon = Decontaminator()
    decon.add("t1", TESTQ, "gsm8k_test")
    q1 = "Ann has 4 red pens and 3 blue pens in her bag at school. How many pens does she have?"
    q1_dup = "Ann has 4 red pens and 3 blue pens in her bag at school. How many pens does she have??"
    q2 = "A shop sells 12 cakes each day for 5 days in a row. How many cakes does it sell in all?"
    recs = [
        sample("a", q1, "4 + 3 = 7. The answer is 7.", 0),
        sample("a", q1, "3 + 4 = 7. The answer is 7.", 1),  # same path under "expressions"
        sample("a", q1, "4 + 2 + 1 = 7. The answer is 7.", 2),
        sample("b", q1_dup, "4 + 3 = 7.", 0),  # near-duplicate question
        sample("c", TESTQ.replace("2 bolts", "6 bolts"), "6 / 2 = 3. 6 + 3 = 9."),  # contaminated
        sample("d", q2, "12 * 5 = 60. The answer is 60."),
    ]
    rep = FinalizeReport()
    out = list(finalize(recs, FinalizeConfig(signature="expressions"), decon, rep))
    assert [(r["problem_id"], r["sample_index"]) for r in out] == [("a", 0), ("a", 2), ("d", 0)]
    assert rep.seen == 6 and rep.kept == 3
    assert rep.dropped == {"duplicate_path": 1, "question_near_duplicate": 1, "contaminated": 1}
    assert rep.questions_seen == 3 and rep.questions_kept == 2
    assert rep.decontamination.removed_items[0]["test_id"] == "t1"
    capped = list(finalize(recs[:3], FinalizeConfig(decontaminate=False, signature="expressions", max_per_question=1)))
    assert len(capped) == 1


def test_finalize_requires_test_sets_unless_told():
    with pytest.raises(ValueError, match="no Decontaminator"):
        list(finalize([sample("a", "q?", "c")]))
    assert len(list(finalize([sample("a", "q?", "c")], FinalizeConfig(decontaminate=False)))) == 1


def test_nested_fraction_is_nested_and_keeps_questions_whole():
    recs = [sample(f"p{k // 3}", "q", "c", k % 3) for k in range(300)]
    small = list(nested_fraction(recs, 0.2, seed=1))
    big = list(nested_fraction(recs, 0.6, seed=1))
    ids_small = {(r["problem_id"], r["sample_index"]) for r in small}
    ids_big = {(r["problem_id"], r["sample_index"]) for r in big}
    assert ids_small < ids_big and 0 < len(small) < len(big) < 300
    assert all(sum(1 for r in small if r["problem_id"] == p) == 3 for p in {r["problem_id"] for r in small})
    assert list(nested_fraction(recs, 1.0)) == recs and list(nested_fraction(recs, 0.0)) == []
    five, ten = nested_questions(recs, 5, seed=1), nested_questions(recs, 10, seed=1)
    assert len(five) == 15 and len(ten) == 30 and all(r in ten for r in five)


def test_cli_subset(tmp_path):
    f = tmp_path / "s.jsonl"
    write_jsonl(f, [sample(f"p{k // 2}", "q", "c", k % 2) for k in range(40)])
    run = CliRunner().invoke
    assert (
        run(
            app, ["augment", "subset", "--input", str(f), "--out", str(tmp_path / "a.jsonl"), "--questions", "4"]
        ).exit_code
        == 0
    )
    assert len(list(iter_jsonl(tmp_path / "a.jsonl"))) == 8
    r = run(app, ["augment", "subset", "--input", str(f), "--out", str(tmp_path / "b.jsonl"), "--fraction", "0.5"])
    assert r.exit_code == 0 and 0 < len(list(iter_jsonl(tmp_path / "b.jsonl"))) < 40
    assert run(app, ["augment", "subset", "--input", str(f), "--out", str(tmp_path / "c.jsonl")]).exit_code != 0


def _teacher(prompt, i, seed):
    if "New question:" in prompt:  # MuggleMath query
        return (
            ""
            if i == 1
            else f" Lee has {seed % 40 + 3} cards and buys {i + 2} packs of 5 cards. How many cards does Lee have?"
        )
    if "Verdict" in prompt:  # Xwin verify
        return " 3 + 4 = 7. The answer is 7.\n### Verdict: VALID"
    if "### Reference Problem" in prompt:  # Xwin create
        return f" Bo has {seed % 30 + 2} marbles and finds {i + 3} more in the park. How many marbles does Bo have?"
    return f" {seed % 2 + 3} + 4 = {seed % 2 + 7}.\nThe answer is {seed % 2 + 7}."


@pytest.fixture()
def scripted_cli(monkeypatch):
    engines = []

    def make(url, model, api_key=None, **kw):
        eng = ScriptedEngine(_teacher, model_id=model)
        engines.append(eng)
        return eng

    monkeypatch.setattr("scalemath.cli.augment.make_teacher", make)
    return engines


def test_cli_query_respond_synth(tmp_path, scripted_cli):
    seeds = tmp_path / "seeds.jsonl"
    write_jsonl(
        seeds,
        [
            {"question": f"Tom has {k} apples and buys {k + 1} more. How many apples?", "answer": f"x #### {2 * k + 1}"}
            for k in range(1, 7)
        ],
    )
    test = tmp_path / "test.jsonl"
    write_jsonl(test, [{"question": TESTQ, "answer": "#### 3"}])
    run = CliRunner().invoke
    q_out = tmp_path / "q.jsonl"
    r = run(
        app,
        [
            "augment",
            "query",
            "--seeds",
            str(seeds),
            "--out",
            str(q_out),
            "--teacher-url",
            "http://x",
            "--teacher-model",
            "T",
            "--strategies",
            "change_numbers,conditional",
            "--per-strategy",
            "2",
            "--against",
            str(test),
            "--question-threshold",
            "0",
        ],
    )
    assert r.exit_code == 0, r.output
    qs = list(iter_jsonl(q_out))
    rep = json.loads(q_out.with_suffix(".report.json").read_text())
    assert len(qs) == 12 and rep["generation"]["rejected"] == {"empty": 12}
    assert rep["usage"]["misses"] == 24 and rep["finalize"]["decontamination"]["references"] == {str(test): 1}
    # re-run: everything from the cache, nothing asked of the teacher
    r = run(
        app,
        [
            "augment",
            "query",
            "--seeds",
            str(seeds),
            "--out",
            str(q_out),
            "--teacher-url",
            "http://x",
            "--teacher-model",
            "T",
            "--strategies",
            "change_numbers,conditional",
            "--per-strategy",
            "2",
            "--against",
            str(test),
            "--question-threshold",
            "0",
        ],
    )
    assert r.exit_code == 0 and scripted_cli[-1].completions == 0
    assert json.loads(q_out.with_suffix(".report.json").read_text())["usage"]["hits"] == 24

    s_out = tmp_path / "s.jsonl"
    r = run(
        app,
        [
            "augment",
            "respond",
            "--input",
            str(q_out),
            "--out",
            str(s_out),
            "--teacher-url",
            "http://x",
            "--teacher-model",
            "T",
            "--n",
            "4",
            "--min-share",
            "0.5",
            "--against",
            str(test),
        ],
    )
    assert r.exit_code == 0, r.output
    samples = list(iter_jsonl(s_out))
    assert samples and all(s["meta"]["filter"]["name"] == "majority" for s in samples)
    assert all(s["meta"]["augment"]["question_provenance"]["method"] == "mugglemath_query" for s in samples)
    # two agreeing answers per question have the same path: dedupe keeps one per question
    assert len({s["problem_id"] for s in samples}) == len(samples)

    x_out = tmp_path / "x.jsonl"
    r = run(
        app,
        [
            "augment",
            "synth",
            "--references",
            str(seeds),
            "--out",
            str(x_out),
            "--teacher-url",
            "http://x",
            "--teacher-model",
            "T",
            "--no-decontaminate",
            "--question-threshold",
            "0",
        ],
    )
    assert r.exit_code == 0, r.output
    xs = list(iter_jsonl(x_out))
    assert len(xs) == 6 and all(x["meta"]["augment"]["question_provenance"]["verified"] for x in xs)


def test_cli_decontamination_on_by_default_needs_a_test_set(tmp_path, scripted_cli):
    seeds = tmp_path / "seeds.jsonl"
    write_jsonl(seeds, [{"question": "Tom has 3 apples and buys 4 more. How many apples?", "answer": "#### 7"}])
    r = CliRunner().invoke(
        app,
        [
            "augment",
            "query",
            "--seeds",
            str(seeds),
            "--out",
            str(tmp_path / "q.jsonl"),
            "--teacher-url",
            "http://x",
            "--teacher-model",
            "T",
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert r.exit_code != 0 and "no-decontaminate" in r.output


def test_cli_decontaminate(tmp_path):
    test = tmp_path / "test.jsonl"
    write_jsonl(test, [{"question": TESTQ, "answer": "#### 3"}])
    train = tmp_path / "train.jsonl"
    write_jsonl(
        train,
        [
            Problem(id="a", question=TESTQ.replace("2 bolts", "8 bolts")),
            Problem(id="b", question="Sam reads 5 pages a day for a week. How many pages?"),
        ],
    )
    out, rep = tmp_path / "clean.jsonl", tmp_path / "rep.json"
    r = CliRunner().invoke(
        app, ["decontaminate", "--input", str(train), "--against", str(test), "--out", str(out), "--report", str(rep)]
    )
    assert r.exit_code == 0, r.output
    assert [x["id"] for x in iter_jsonl(out)] == ["b"]
    d = json.loads(rep.read_text())
    assert d["removed"] == 1 and d["removed_items"][0]["id"] == "a"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "question": "q"}\n{oops\n')
    r = CliRunner().invoke(app, ["decontaminate", "--input", str(bad), "--against", str(test), "--out", str(out)])
    assert r.exit_code == 2 and "bad.jsonl:2" in r.output.replace("\n", "")
