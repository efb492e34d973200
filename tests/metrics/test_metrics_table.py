import numpy as np
import pytest

from scalemath.metrics.table import (
    MISSING,
    SampleTable,
    attach_problem_fields,
    get_path,
    load_samples,
    normalize_answer,
)
from scalemath.records import RecordError, text_hash, write_jsonl
from scalemath.testing.synthetic import SyntheticConfig, synthetic_problems, synthetic_samples


@pytest.mark.parametrize(
    "raw,norm",
    [
        ("18", "18"),
        ("18.00", "18"),
        ("$1,234", "1234"),
        ("0.50", "0.5"),
        (" 7. ", "7"),
        ("\\frac{1}{2}", "0.5"),
        ("", None),
        (None, None),
        ("-3", "-3"),
    ],
)
def test_normalize_answer(raw, norm):
    assert normalize_answer(raw) == norm


def test_get_path():
    d = {"meta": {"level": 3, "x": None}, "model": "m"}
    assert get_path(d, "meta.level") == 3 and get_path(d, "model") == "m"
    assert get_path(d, "meta.nope") is None and get_path(d, "model.deep", "z") == "z"


def same(a: SampleTable, b: SampleTable):
    assert [a.problem_ids[i] for i in a.qid] == [b.problem_ids[i] for i in b.qid]
    assert np.array_equal(a.correct, b.correct) and np.array_equal(a.order, b.order)
    assert np.array_equal(a.greedy, b.greedy)
    assert [a.answers[i] if i >= 0 else None for i in a.answer] == [b.answers[i] if i >= 0 else None for i in b.answer]
    assert set(a.fields) == set(b.fields)
    for f in a.fields:
        assert list(a.fields[f]) == list(b.fields[f]), f


def test_fast_and_slow_readers_agree(tmp_path):
    recs = list(synthetic_samples(SyntheticConfig(n_questions=30, n_samples=5, models=("a", "b"))))
    recs[3]["correct"] = None
    recs[4]["extracted"] = "1,000"
    p = tmp_path / "run_samples.jsonl"
    write_jsonl(p, recs)
    fields = ["meta.level", "meta.steps", "model", "meta.nope"]
    fast = load_samples(p, fields=fields, completions=True)
    slow = load_samples(p, fields=fields, completions=True, fast=False)
    same(fast, slow)
    assert list(fast.completion) == list(slow.completion)
    assert set(fast.fields["meta.nope"]) == {MISSING}
    mem = SampleTable.from_records(recs, fields=fields)
    same(fast, mem)


def test_irregular_files_fall_back(tmp_path):
    p = tmp_path / "s.jsonl"
    # mixed types for meta.level, int 'correct', no problem_id (ids derived from the questions)
    write_jsonl(
        p,
        [
            {"question": "qa", "completion": "", "correct": 1, "meta": {"level": 3}},
            {"question": "qa", "completion": "", "correct": False, "meta": {"level": "Level 3"}},
            {"question": "qb", "completion": "", "correct": True, "temperature": 0},
        ],
    )
    t = load_samples(p, fields=["meta.level"])
    assert list(t.correct) == [1, 0, 1]
    assert t.problem_ids == [text_hash("qa"), text_hash("qb")]
    assert list(t.fields["meta.level"]) == ["3", "Level 3", MISSING]
    assert list(t.greedy) == [False, False, True]


def test_a_sample_without_problem_id_among_ids_is_an_error_not_a_question(tmp_path):
    """Regression (issue 13): `metrics` counted a line with no problem_id as one more question."""
    p = tmp_path / "s.jsonl"
    write_jsonl(
        p,
        [
            {"problem_id": "a", "question": "qa", "completion": "", "correct": True},
            {"problem_id": "a", "question": "qa", "completion": "", "correct": False},
            {"question": "qa", "completion": "", "correct": True},
        ],
    )
    with pytest.raises(RecordError, match=r"s\.jsonl:3: sample without problem_id"):
        load_samples(p)


def test_malformed_line_is_named(tmp_path):
    p = tmp_path / "bad_samples.jsonl"
    p.write_text('{"problem_id": "a", "correct": true}\n{"problem_id": \n')
    with pytest.raises(RecordError, match=":2:"):
        load_samples(p)
    p.write_text('{"problem_id": "a", "correct": "yes"}\n')
    with pytest.raises(RecordError, match=":1:.*correct"):
        load_samples(p)


def test_directory_and_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    recs = list(synthetic_samples(SyntheticConfig(n_questions=5, n_samples=3)))
    write_jsonl(tmp_path / "a_samples.jsonl", recs[:8])
    pq.write_table(
        pa.Table.from_pylist(
            [
                {k: r[k] for k in ("problem_id", "correct", "extracted", "sample_index", "temperature", "model")}
                for r in recs[8:]
            ]
        ),
        tmp_path / "b_samples.parquet",
    )
    (tmp_path / "other.jsonl").write_text("not json\n")
    t = load_samples(tmp_path, fields=["model"])
    assert len(t) == len(recs)
    with pytest.raises(FileNotFoundError):
        load_samples(tmp_path / "nothing_here")


def test_attach_problem_fields(tmp_path):
    cfg = SyntheticConfig(n_questions=10, n_samples=2)
    recs = list(synthetic_samples(cfg))
    for r in recs:
        r["meta"] = {}
    write_jsonl(tmp_path / "p.jsonl", synthetic_problems(cfg))
    t = SampleTable.from_records(recs, fields=["meta.steps"])
    attach_problem_fields(t, tmp_path / "p.jsonl", ["meta.steps"])
    steps = {p["id"]: str(p["meta"]["steps"]) for p in synthetic_problems(cfg)}
    assert [steps[t.problem_ids[q]] for q in t.qid] == list(t.fields["meta.steps"])


def test_breakdowns_agree_between_readers(tmp_path):
    from scalemath.metrics.aggregate import summarize

    recs = list(synthetic_samples(SyntheticConfig(n_questions=40, n_samples=6, models=("a", "b", "c"))))
    for r in recs[:30]:
        r["meta"] = {k: v for k, v in r["meta"].items() if k != "subject"}  # "(missing)" group
    p = tmp_path / "x_samples.jsonl"
    write_jsonl(p, recs)
    by = ("meta.level", "meta.subject", "model")
    fast = summarize(load_samples(p, fields=list(by)), ks=(1, 2), bootstrap=50, by=by)
    slow = summarize(SampleTable.from_records(recs, fields=list(by)), ks=(1, 2), bootstrap=50, by=by)
    assert fast["by"] == slow["by"] and fast["overall"] == slow["overall"]
    assert MISSING in fast["by"]["meta.subject"]
    assert all(not k.startswith("curve.") for g in fast["by"]["meta.level"].values() for k in g)
