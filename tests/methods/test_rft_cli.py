"""`scalemath rft`: files in, D ∪ D' out, formats, stats, errors."""

from __future__ import annotations

import json

import orjson
from typer.testing import CliRunner

from scalemath.cli import app

GOLD = "Half is 48/2 = <<48/2=24>>24.\nAll is 48+24 = <<48+24=72>>72.\n#### 72"
Q = "Natalia sold 48 clips in April and half as many in May. How many in all?"
P1 = "<<48/2=24>> then <<48+24=72>>\n#### 72"
P2 = "<<48+24=72>> and <<48/2=24>>\n#### 72"


def _write(path, rows):
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return str(path)


def _rows(model, completions):
    return [
        {"question": Q, "answer": GOLD, "completion": c, "model": model, "seed": i} for i, c in enumerate(completions)
    ]


def test_cli_pools_files_and_writes_stats(tmp_path):
    a = _write(tmp_path / "a.jsonl", _rows("small", [P1, P1 + " again", "#### 3"]))
    b = _write(tmp_path / "b.jsonl", _rows("big", [P2, P1.replace("=72>>", "=70>>")]))
    out, stats = tmp_path / "out.jsonl", tmp_path / "stats.json"
    res = CliRunner().invoke(
        app, ["rft", "--samples", a, b, "--out", str(out), "--stats", str(stats), "--explain", "--workers", "2"]
    )
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["meta"]["origin"] for r in lines] == ["original", "sampled", "sampled"]
    assert lines[0]["solution"] == GOLD
    st = json.loads(stats.read_text())
    assert st["per_source"]["small"]["only_here"] == 1 and st["per_source"]["big"]["only_here"] == 1
    assert st["per_source"]["big"]["annotation_rejected"] == 1
    assert st["drops"]["answer_mismatch"] == 1
    assert "small" in res.output and "bad_annotation" in res.output


def test_cli_legacy_format_and_problems(tmp_path):
    train = _write(
        tmp_path / "train.jsonl", [{"question": Q, "answer": GOLD}, {"question": "unsampled?", "answer": "x\n#### 1"}]
    )
    s = _write(tmp_path / "s.jsonl", [{"question": Q, "completion": P1}])
    out = tmp_path / "legacy.jsonl"
    res = CliRunner().invoke(
        app, ["rft", "--samples", s, "--problems", train, "--out", str(out), "--format", "rft_legacy"]
    )
    assert res.exit_code == 0, res.output
    assert [json.loads(x) for x in out.read_text().splitlines()] == [
        {"query": Q, "response": GOLD},
        {"query": Q, "response": P1},
        {"query": "unsampled?", "response": "x\n#### 1"},
    ]


def test_cli_bad_line_is_reported_with_file_and_line(tmp_path):
    s = tmp_path / "s.jsonl"
    s.write_text(orjson.dumps({"question": Q, "answer": GOLD, "completion": P1}).decode() + "\n{oops\n")
    res = CliRunner().invoke(app, ["rft", "--samples", str(s), "--out", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 2
    assert "s.jsonl:2" in res.output
    res = CliRunner().invoke(
        app, ["rft", "--samples", str(s), "--out", str(tmp_path / "o.jsonl"), "--tie-break", "nearest"]
    )
    assert res.exit_code != 0


def test_cli_grades_like_grade_by_default_and_keeps_paper_rule_as_an_option(tmp_path):
    """An instruct model writes neither `####` nor `<<...>>`: by default `rft` grades with the
    project grader and tells its paths apart by their inline steps; --paper-grading finds no answer."""
    texts = [
        "Half of 48 is 48 / 2 = 24, so 48 + 24 = 72 clips.\nThe answer is 72.",
        "In May she sold 48 / 2 = 24 clips; in all 24 + 48 = 72.\nThe answer is 72.",  # same steps
        "She sold 48 + 48 / 2 = 72 clips in all.\nThe answer is 72.",
    ]
    a = _write(tmp_path / "a.jsonl", _rows("chat", texts))
    for flags, sampled in (([], 2), (["--paper-grading"], 0)):
        out, stats = tmp_path / "out.jsonl", tmp_path / "stats.json"
        res = CliRunner().invoke(app, ["rft", "--samples", a, "--out", str(out), "--stats", str(stats), *flags])
        assert res.exit_code == 0, res.output
        lines = [json.loads(x) for x in out.read_text().splitlines()]
        assert sum(r["meta"]["origin"] == "sampled" for r in lines) == sampled, flags
