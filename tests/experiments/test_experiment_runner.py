"""The runner's orchestration with light actions (no model): skipping finished cells, rerunning
exactly the cells a change reaches, results rows, and RFT's reuse of one sampling run (k-prefix).

The data, training-data and results code paths are the real ones; only model building, training,
sampling and evaluation are replaced by fast stand-ins that write the same files."""

import csv
import dataclasses
import json

import pytest

from scalemath.experiments import actions as A
from scalemath.experiments.config import StudyConfig
from scalemath.experiments.runner import CellError, Runner
from scalemath.records import append_jsonl, iter_jsonl, read_problems, write_jsonl


def fake_base(cell, ctx):
    d = ctx.cell_dir(cell.id) / "model"
    d.mkdir(parents=True, exist_ok=True)
    return {"model": str(d), "pretrain_loss": 2.0 + cell.config["corpus_lines"] / 1e5}


def fake_train(cell, ctx):
    from scalemath.experiments.analyses import path_stats

    records, extra = A.training_records(cell, ctx)
    out = ctx.cell_dir(cell.id)
    write_jsonl(out / "train.jsonl", records)
    (out / "model").mkdir(parents=True, exist_ok=True)
    return {**path_stats(records), **extra, "seed": cell.config["seed"]}


def fake_completion(problem, i):
    """Sample i of a problem: correct with one of two paths when i % 3 != 2, else wrong."""
    a = problem.answer
    if i % 3 == 2:
        return f"I think 0+0=<<0+0=0>>0\n#### {int(a) + 1}"
    return f"{a}+0=<<{a}+0={a}>>{a}\n#### {a}" if i % 3 == 0 else f"0+{a}=<<0+{a}={a}>>{a}\n#### {a}"


CALLS = {"sampled": 0}


def fake_sample(cell, ctx):
    """Like sample_problems: appends only the (problem, index) pairs missing from the file."""
    out = ctx.cell_dir(cell.id) / "samples.jsonl"
    done = {(d["problem_id"], d["sample_index"]) for d in iter_jsonl(out)} if out.exists() else set()
    new = []
    for p in read_problems(ctx.data_dir / "train.jsonl"):
        for i in range(cell.config["k"]):
            if (p.id, i) not in done:
                new.append(
                    {
                        "problem_id": p.id,
                        "question": p.question,
                        "answer": p.answer,
                        "sample_index": i,
                        "completion": fake_completion(p, i),
                        "model": cell.config["model"],
                    }
                )
    CALLS["sampled"] += len(new)
    append_jsonl(out, new)
    return {"samples": len(new), "skipped": len(done), "k": cell.config["k"]}


def fake_eval(cell, ctx):
    model = ctx.summaries.get(cell.deps[-1], {})
    acc = min(1.0, 0.1 + (model.get("data_size") or 0) / 100)
    return {
        "row": A.results_row(
            cell, ctx, {"accuracy": acc, "accuracy_lo": acc - 0.05, "accuracy_hi": acc + 0.05}, cell.config["fewshot"]
        )
    }


FAKE = {"data": A.act_data, "base": fake_base, "train": fake_train, "sample": fake_sample, "eval": fake_eval}


def make_study(**over):
    d = {
        "name": "t",
        "data": {"train_n": 12, "test_n": 4, "steps": [1, 2]},
        "base_models": [{"name": "tiny", "corpus_lines": 1000}],
        "sft": {"fractions": ["1/4", "1/2", 1]},
        "rft": {"k": [1, 2, 3], "pooled": [{"fractions": ["1/2", 1], "k": [2]}]},
    }
    for k, v in over.items():
        d[k] = {**d[k], **v} if isinstance(v, dict) and isinstance(d.get(k), dict) else v
    return StudyConfig.from_dict(d)


def run(study, out, **kw):
    return Runner(study, out, log=lambda s: None, actions=FAKE).run(**kw)


def test_second_run_does_nothing(tmp_path):
    s = make_study()
    first = run(s, tmp_path)
    assert first.ran and not first.skipped
    again = run(s, tmp_path)
    assert again.ran == [] and set(again.skipped) == set(first.ran)
    assert all(st.status == "done" for st in Runner(s, tmp_path, actions=FAKE).states())


def test_changed_fields_rerun_only_affected_cells(tmp_path):
    s = make_study()
    run(s, tmp_path)
    # a new fraction: its SFT cell and evaluation only
    out = run(make_study(sft={"fractions": ["1/8", "1/4", "1/2", 1]}), tmp_path)
    assert out.ran == ["sft/tiny/f0.125/s0", "eval/sft/tiny/f0.125/s0"]
    # a larger k: the sampling run is topped up, one new RFT cell; the others keep their data
    CALLS["sampled"] = 0
    s2 = make_study(sft={"fractions": ["1/8", "1/4", "1/2", 1]}, rft={"k": [1, 2, 3, 6]})
    out = run(s2, tmp_path)
    assert out.ran == ["sample/tiny/f1/s0/t0.7", "rft/tiny/k6", "eval/rft/tiny/k6"]
    assert CALLS["sampled"] == 12 * 3  # only sample indices 3..5 were drawn
    # an evaluation setting: every evaluation, nothing else
    out = run(dataclasses.replace(s2, eval=dataclasses.replace(s2.eval, max_tokens=77)), tmp_path)
    assert out.ran and all(c.startswith("eval/") for c in out.ran)
    assert len(out.ran) == len([c for c in Runner(s2, tmp_path).cells if c.kind == "eval"])


def test_a_new_grader_version_redoes_the_cells_that_hold_verdicts(tmp_path, monkeypatch):
    """Sampling and evaluation cells and RFT training sets hold the grader's verdicts: after the
    grader changes they are redone (sampled afresh: samples graded by another version are never
    resumed), not reported with the old grader's verdicts; data, bases and SFT cells are kept."""
    import scalemath.answers

    s = make_study()
    first = run(s, tmp_path)
    monkeypatch.setattr(scalemath.answers, "GRADER_VERSION", "new-grader")
    cells = {c.id: c for c in Runner(s, tmp_path).cells}
    out = run(s, tmp_path)
    grading = {cid for cid, c in cells.items() if c.kind in ("sample", "eval") or c.config.get("recipe") == "rft"}
    assert grading and grading <= set(out.ran)
    assert not any(cells[c].kind in ("data", "base") or cells[c].config.get("recipe") == "fraction" for c in out.ran)
    assert set(out.skipped) == set(first.ran) - set(out.ran)
    assert run(s, tmp_path).ran == []


def test_changed_cell_starts_from_a_clean_directory(tmp_path):
    s = make_study()
    run(s, tmp_path)
    stray = tmp_path / "cells" / "sft" / "tiny" / "f1" / "s0" / "stray.txt"
    stray.write_text("from an older run")
    run(make_study(sft={"train": {"epochs": 2.0}}), tmp_path)
    assert not stray.exists()
    info = json.loads((tmp_path / "cells" / "sft" / "tiny" / "f1" / "s0" / "cell.json").read_text())
    assert info["config"]["train"] == {"epochs": 2.0}
    assert info["seeds"] == {"seed": 0} and "versions" in info and "git" in info and info["seconds"] >= 0


def test_results_rows(tmp_path):
    s = make_study()
    out = run(s, tmp_path)
    with open(tmp_path / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    evals = [c for c in Runner(s, tmp_path).cells if c.kind == "eval"]
    assert len(rows) == len(evals) == len(out.rows)
    assert {
        "method",
        "data_size",
        "accuracy",
        "accuracy_lo",
        "accuracy_hi",
        "k",
        "distinct_paths",
        "base_pretrain_loss",
    } <= set(rows[0])
    by = {r["cell"]: r for r in rows}
    assert by["sft/tiny/f0.25/s0"]["method"] == "sft" and by["sft/tiny/f0.25/s0"]["data_size"] == "3"
    assert by["sft/tiny/f1/s0"]["data_size"] == "12" and by["sft/tiny/f1/s0"]["k"] == ""
    assert by["sft/tiny/f1/s0"]["distinct_paths"] == "1"
    assert by["rft/tiny/k3"]["method"] == "rft" and by["rft/tiny/k3"]["k"] == "3"
    assert by["rft-pooled/tiny/k2"]["method"] == "rft-pooled"
    assert float(by["rft/tiny/k1"]["base_pretrain_loss"]) == pytest.approx(2.01)
    assert not (tmp_path / "pretrain_loss").exists()  # one base: nothing to fit
    # k=1: one sampled path; k=3: two distinct correct paths (+ the original) per question
    assert float(by["rft/tiny/k1"]["distinct_paths"]) < float(by["rft/tiny/k3"]["distinct_paths"])


def test_rft_cells_take_prefixes_of_one_sampling_run(tmp_path):
    s = make_study()
    run(s, tmp_path)
    assert len(list((tmp_path / "cells" / "sample").rglob("samples.jsonl"))) == 2  # f1 (k=3) and f0.5 (pooled)
    samples = list(iter_jsonl(tmp_path / "cells" / "sample" / "tiny" / "f1" / "s0" / "t0.7" / "samples.jsonl"))
    assert max(d["sample_index"] for d in samples) == 2
    data = {k: list(iter_jsonl(tmp_path / "cells" / "rft" / "tiny" / f"k{k}" / "train.jsonl")) for k in (1, 2, 3)}
    sols = {k: {(r["question"], r["solution"]) for r in v} for k, v in data.items()}
    assert sols[1] <= sols[2] <= sols[3]
    assert len(data[1]) == 12 * 2  # the original + the one (correct) sample per question
    assert len(data[3]) == 12 * 3  # the two distinct correct paths; the wrong third sample dropped
    # the same as collecting directly from the first k samples
    train = list(iter_jsonl(tmp_path / "data" / "train.jsonl"))
    rec, _ = A.rft_records(
        [tmp_path / "cells" / "sample" / "tiny" / "f1" / "s0" / "t0.7" / "samples.jsonl"],
        2,
        Runner(s, tmp_path).by_id["rft/tiny/k2"].config["collect"],
        train,
    )
    assert rec == data[2]
    pooled = list(iter_jsonl(tmp_path / "cells" / "rft-pooled" / "tiny" / "k2" / "train.jsonl"))
    models = {r["meta"]["model"] for r in pooled if r["meta"]["origin"] == "sampled"}
    assert models <= {"sft/tiny/f1/s0", "sft/tiny/f0.5/s0"}


def test_first_k_samples(tmp_path):
    p = tmp_path / "s.jsonl"
    write_jsonl(p, [{"question": "q", "completion": str(i), "sample_index": i % 4} for i in range(8)])
    assert [d["completion"] for d in A.first_k_samples(p, 2)] == ["0", "1", "4", "5"]
    write_jsonl(p, [{"question": "q", "completion": "x"}])
    with pytest.raises(Exception, match="s.jsonl:1: sample without sample_index"):
        list(A.first_k_samples(p, 2))


def test_only_and_dry_run(tmp_path):
    s = make_study()
    plan = run(s, tmp_path, only=["eval/rft/*/k2"], dry_run=True)
    assert plan.ran == [
        "data",
        "base/tiny",
        "sft/tiny/f1/s0",
        "sample/tiny/f1/s0/t0.7",
        "rft/tiny/k2",
        "eval/rft/tiny/k2",
    ]
    assert not (tmp_path / ".done").exists()
    out = run(s, tmp_path, only=["eval/rft/*/k2"])
    assert out.ran == plan.ran
    assert [r["cell"] for r in out.rows] == ["rft/tiny/k2"]
    left = run(s, tmp_path, dry_run=True)
    assert "rft/tiny/k2" in left.skipped and "sft/tiny/f0.25/s0" in left.ran


def test_long_cot_leaky_and_augment_data(tmp_path):
    aug = tmp_path / "aug.jsonl"
    write_jsonl(
        aug,
        [
            {
                "id": f"a{i}",
                "question": f"What is {i} plus 1?",
                "answer": str(i + 1),
                "solution": f"{i}+1=<<{i}+1={i + 1}>>{i + 1}\n#### {i + 1}",
            }
            for i in range(5)
        ],
    )
    s = make_study(
        rft={"k": [], "pooled": []},
        sft={"fractions": [1]},
        augment=[{"name": "aug", "path": str(aug), "amounts": [2, None]}],
        analyses={"long_cot": {"weights": [2.0]}, "leakage": {"control": True}},
    )
    run(s, tmp_path)
    rows = {r["cell"]: r for r in csv.DictReader(open(tmp_path / "results.csv"))}
    assert rows["aug/tiny/n2"]["data_size"] == "14" and rows["aug/tiny/nall"]["data_size"] == "17"
    assert rows["sft-leaky/tiny"]["data_size"] == "16"
    longcot = list(iter_jsonl(tmp_path / "cells" / "sft-longcot-w2" / "tiny" / "f1" / "s0" / "train.jsonl"))
    plain = list(iter_jsonl(tmp_path / "cells" / "sft" / "tiny" / "f1" / "s0" / "train.jsonl"))
    mean = lambda rs: sum(r["meta"]["steps"] for r in rs) / len(rs)
    assert len(longcot) == len(plain) and mean(longcot) >= mean(plain)


def test_failing_cell_is_named_and_earlier_cells_kept(tmp_path):
    def boom(cell, ctx):
        raise ValueError("no luck")

    s = make_study()
    with pytest.raises(CellError, match="cell sample/tiny/f1/s0/t0.7 failed: ValueError: no luck"):
        Runner(s, tmp_path, log=lambda m: None, actions={**FAKE, "sample": boom}).run()
    states = {st.cell.id: st.status for st in Runner(s, tmp_path).states()}
    assert states["sft/tiny/f1/s0"] == "done" and states["sample/tiny/f1/s0/t0.7"] == "pending"


def test_several_bases_write_pretrain_loss_results(tmp_path):
    s = make_study(
        base_models=[
            {"name": "a", "corpus_lines": 1000},
            {"name": "b", "corpus_lines": 5000},
            {"name": "c", "corpus_lines": 9000},
        ],
        rft={"k": [1], "pooled": []},
        sft={"fractions": [1]},
    )
    run(s, tmp_path)
    main = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert {r["method"] for r in main} == {"sft@a", "sft@b", "sft@c", "rft@a", "rft@b", "rft@c"}
    pl = list(csv.DictReader(open(tmp_path / "pretrain_loss" / "results.csv")))
    assert "data_size" not in pl[0] and {r["series"] for r in pl} == {"sft/f1/s0", "rft/k1"}
    assert sorted(float(r["pretrain_loss"]) for r in pl if r["series"] == "rft/k1") == [2.01, 2.05, 2.09]


@pytest.mark.parametrize(
    ("name", "threads", "expect"),
    [
        ("hf", 2, {"device": "auto", "batch_size": 8, "threads": 2, "dtype": "float32"}),
        ("hf", None, {"device": "auto", "batch_size": 8, "threads": 0, "dtype": "float32"}),
        # vLLM batches and places itself: `engine: vllm` failed with "EngineArgs.__init__() got an
        # unexpected keyword argument 'batch_size'" (regression)
        ("vllm", 2, {"dtype": "float32", "tensor_parallel_size": 1}),
        ("fake", 2, {"dtype": "float32"}),
    ],
)
def test_a_cells_engine_gets_only_the_settings_it_takes(monkeypatch, name, threads, expect):
    import scalemath.sampling

    seen = {}
    monkeypatch.setattr(scalemath.sampling, "load_engine", lambda n, m, **kw: seen.update(kw) or (n, m))
    assert A._engine(name, "m", 8, {"dtype": "float32"}, threads) == (name, "m")
    assert seen == expect


def test_cells_side_by_side_compute_what_they_compute_one_at_a_time(tmp_path, monkeypatch):
    """workers > 1: cells whose dependencies are finished run in worker processes, wave by wave;
    the rows, the cells that ran and their summaries are those of a run one cell at a time."""
    import os
    from pathlib import Path

    tests = str(Path(__file__).resolve().parent)  # the workers import this module's fake actions
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")]))
    s = make_study(threads=1, sft={"fractions": [1]}, rft={"k": [1], "pooled": []})
    one = run(s, tmp_path / "one")
    logs: list[str] = []
    two = Runner(s, tmp_path / "two", log=logs.append, actions=FAKE).run(workers=2)
    assert sorted(two.ran) == sorted(one.ran) and two.rows == one.rows
    assert "[par ] data ∥ base/tiny" in "\n".join(logs)

    def summaries(d):
        return {
            p.relative_to(d).as_posix(): json.loads(p.read_text().replace(str(d), "RUN"))["summary"]
            for p in sorted((d / ".done").rglob("*.json"))
        }

    assert summaries(tmp_path / "two") == summaries(tmp_path / "one")
    # a re-run skips every cell, side by side or not
    again = Runner(s, tmp_path / "two", log=logs.append, actions=FAKE).run(workers=2)
    assert again.ran == [] and again.rows == one.rows
    with pytest.raises(Exception, match="threads"):
        Runner(make_study(), tmp_path / "three", actions=FAKE).run(workers=2)
