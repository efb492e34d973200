"""Bulk grading, `scalemath grade` and `scalemath audit`."""

import json

import pytest
from typer.testing import CliRunner

from scalemath.answers import grade
from scalemath.answers.audit import parse_label, score_items, wilson
from scalemath.answers.bulk import BulkConfig, grade_file, grade_pairs
from scalemath.cli import app
from scalemath.records import RecordError

ROWS = [
    {"id": 1, "completion": "So $\\boxed{\\frac{1}{2}}$.", "answer": "0.5"},
    {"id": 2, "completion": "48 + 24 = 72\n#### 72", "answer": "Natalia ...\n#### 72"},
    {"id": 3, "completion": "I give up.", "answer": "3"},
    {"id": 4, "completion": "The answer is $x = \\sqrt{2}$", "answer": "\\sqrt 2"},
    {"id": 5, "completion": "\\boxed{(1,2)}", "answer": "(2,1)"},
    {"id": 6, "completion": "7", "answer": 7},
]
EXPECTED = [
    (True, "match"),
    (True, "match"),
    (False, "no_answer"),
    (True, "match"),
    (False, "mismatch"),
    (True, "match"),
]


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize("workers", [1, 2])
def test_grade_pairs_in_order(workers):
    pairs = [(r["completion"], r["answer"]) for r in ROWS] * 30
    out = list(grade_pairs(pairs, BulkConfig(workers=workers, chunk_size=7)))
    assert [(v.correct, v.reason) for v in out] == EXPECTED * 30


@pytest.mark.parametrize("workers", [1, 2])
def test_deferred_symbolic_checks_keep_input_order(workers):
    # \prod is read only by the symbolic stage: those grades are deferred to it and must come back
    # in place, between grades the fast stage decided
    symbolic = [("\\boxed{6}", "\\prod_{k=1}^{3} k"), ("\\boxed{7}", "\\prod_{k=1}^{3} k")]
    fast = [(r["completion"], r["answer"]) for r in ROWS]
    pairs = [x for i in range(40) for x in (fast[i % len(fast)], symbolic[i % 2])]
    stats = {}
    out = list(grade_pairs(pairs, BulkConfig(workers=workers, chunk_size=8), stats))
    assert [(v.correct, v.reason) for v in out] == [
        (grade(str(p), str(r)).correct, grade(str(p), str(r)).reason) for p, r in pairs
    ]
    assert stats["symbolic"] == 40 and out[1].correct and not out[3].correct


def test_grade_file_and_missing_field(tmp_path):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(src, ROWS)
    summary = grade_file(str(src), str(dst), "completion", "answer", BulkConfig(workers=1))
    lines = [json.loads(x) for x in dst.read_text().splitlines()]
    assert [(r["correct"], r["reason"]) for r in lines] == EXPECTED
    assert lines[0]["id"] == 1 and lines[0]["extracted"] == "\\frac{1}{2}" and lines[0]["grader_version"]
    assert summary.total == 6 and summary.correct == 4 and summary.reasons["no_answer"] == 1
    _write(src, ROWS[:2] + [{"completion": "1"}])
    with pytest.raises(RecordError, match=r"in.jsonl:3:.*'answer'"):
        grade_file(str(src), str(tmp_path / "bad.jsonl"), "completion", "answer", BulkConfig(workers=1))
    assert not (tmp_path / "bad.jsonl").exists()
    assert not list(tmp_path.glob(".bad.jsonl.tmp*"))


def test_cli_grade_and_audit(tmp_path):
    src, dst, audit = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "audit.jsonl"
    _write(src, ROWS)
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "grade",
            "--input",
            str(src),
            "--output",
            str(dst),
            "--prediction-field",
            "completion",
            "--reference-field",
            "answer",
            "--dataset",
            "auto",
            "--workers",
            "1",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "accuracy 4/6" in res.output
    res = runner.invoke(app, ["audit", "sample", "--input", str(dst), "--n", "4", "--out", str(audit)])
    assert res.exit_code == 0, res.output
    items = [json.loads(x) for x in audit.read_text().splitlines()]
    assert len(items) == 4 and all(it["label"] == "" for it in items)
    assert sum(it["grader_correct"] for it in items) == 2  # stratified: half and half
    # a person says every sampled item is correct: the two graded-incorrect ones are false negatives
    for it in items:
        it["label"] = "correct"
    audit.write_text("".join(json.dumps(it) + "\n" for it in items))
    res = runner.invoke(app, ["audit", "score", str(audit)])
    assert res.exit_code == 0, res.output
    assert "false-positive rate: 0/2" in res.output and "false-negative rate: 2/2" in res.output


def test_cli_grade_reports_bad_lines(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"completion": "1", "answer": "1"}\n{"completion": \n')
    res = CliRunner().invoke(
        app, ["grade", "--input", str(src), "--output", str(tmp_path / "o.jsonl"), "--workers", "1"]
    )
    assert res.exit_code == 2 and "in.jsonl:2" in res.output


def test_audit_score_counts(tmp_path):
    items = [
        {"grader_correct": True, "label": "correct", "stratum": "graded_correct", "stratum_size": 100},
        {"grader_correct": True, "label": "incorrect", "stratum": "graded_correct", "stratum_size": 100},
        {"grader_correct": False, "label": "wrong", "stratum": "graded_incorrect", "stratum_size": 50},
        {"grader_correct": False, "label": "", "stratum": "graded_incorrect", "stratum_size": 50},
    ]
    p = tmp_path / "a.jsonl"
    _write(p, items)
    r = score_items(str(p))
    assert (r.labelled, r.unlabelled, r.false_positives, r.false_negatives) == (3, 1, 1, 0)
    assert r.fp_rate == 0.5 and r.expected_fp_in_file == 50.0
    _write(p, [{"grader_correct": True, "label": "maybe"}])
    with pytest.raises(RecordError, match=":1:"):
        score_items(str(p))


def test_labels_and_wilson():
    assert parse_label("Correct") is True and parse_label("no") is False and parse_label("") is None
    lo, hi = wilson(5, 10)
    assert 0.2 < lo < 0.5 < hi < 0.8


@pytest.fixture
def pool_first(monkeypatch):
    """`grade_file` waits for its pool: every chunk goes to a worker, none is graded here."""
    from scalemath.answers import bulk

    class Started(bulk._PoolStarter):
        def __init__(self, *args):
            super().__init__(*args)
            self.ready.wait()

    monkeypatch.setattr(bulk, "_PoolStarter", Started)


def test_grade_file_in_a_pool_writes_what_one_process_writes(tmp_path, pool_first):
    """The pool's workers parse, grade and serialise the lines themselves: the output is the same
    bytes as graded in this process, symbolic (deferred) cases included, in input order."""
    src = tmp_path / "in.jsonl"
    rows = [dict(r, id=f"{i}-{r['id']}") for i in range(40) for r in ROWS]
    # \prod is read only by the symbolic stage: deferred, and written back in place
    rows[3::9] = [
        {"id": f"sym{i}", "completion": f"\\boxed{{{6 + i % 2}}}", "answer": "\\prod_{k=1}^{3} k"}
        for i in range(len(rows[3::9]))
    ]
    rows += [{"id": "q", "completion": "x = 1, 2", "answer": "2, 1", "question": "Find x, in order."}]
    _write(src, rows)
    one, pool = tmp_path / "one.jsonl", tmp_path / "pool.jsonl"
    grade_file(str(src), str(one), "completion", "answer", BulkConfig(workers=1))
    summary = grade_file(
        str(src), str(pool), "completion", "answer", BulkConfig(workers=2, chunk_size=7, inline_below_bytes=0)
    )
    assert pool.read_bytes() == one.read_bytes() and summary.total == len(rows)
    assert summary.symbolic == len(rows[3::9]) > 20 and summary.processes == 2


def test_grade_file_in_a_pool_reports_the_first_bad_line_in_file_order(tmp_path, pool_first):
    """A malformed line read by a worker and a too-long line met by this process's reader: the one
    earlier in the file is reported (the reader runs ahead of the workers), and no output is left."""
    from scalemath.records import set_read_limits

    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    lines = [json.dumps({"completion": f"#### {i}", "answer": str(i)}) for i in range(300)]
    lines[99] = '{"completion": "#### 1", "answer": '
    lines[150] = json.dumps({"completion": "x" * 5000, "answer": "1"})
    src.write_text("\n".join(lines) + "\n")
    set_read_limits(max_line_bytes=4096)
    try:
        cfg = BulkConfig(workers=2, chunk_size=16, inline_below_bytes=0)
        with pytest.raises(RecordError, match=r"in.jsonl:100: malformed JSON"):
            grade_file(str(src), str(dst), "completion", "answer", cfg)
        lines[99] = json.dumps({"completion": "#### 1", "answer": "1"})
        src.write_text("\n".join(lines) + "\n")
        with pytest.raises(RecordError, match=r"in.jsonl:151:"):
            grade_file(str(src), str(dst), "completion", "answer", cfg)
    finally:
        set_read_limits()
    assert not dst.exists()
