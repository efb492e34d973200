"""Input is checked before work starts: typed records, bounded decoding and YAML, options checked at
parse time. Regression tests, each named for the behaviour it pins; its docstring gives the
reported defect."""

import dataclasses
import json
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from scalemath.cli import app
from scalemath.inputs import check_fields, load_yaml, template_fields
from scalemath.records import (
    MAX_JSON_DEPTH,
    InputError,
    ReadLimits,
    RecordError,
    parse_line,
    read_samples,
    write_jsonl,
)

BOMB = (
    b"a: &a ["
    + b",".join([b'"lol"'] * 9)
    + b"]\n"
    + b"".join(f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n".encode() for p, c in zip("abcdefgh", "bcdefghi"))
)


class Run:
    def __init__(self, result):
        self.exit_code, self.output = result.exit_code, result.output
        self.text = " ".join(result.output.split())  # the console wraps long messages


def run(*args, env=None):
    return Run(CliRunner().invoke(app, [str(a) for a in args], env=env))


def sample(i, **kw):
    d = {"problem_id": f"p{i}", "question": f"q{i}", "answer": "1", "completion": "#### 1", "correct": True}
    d.update(kw)
    return d


# ------------------------------------------------------------------------- typed records


def test_correct_as_string_false_is_refused_with_file_and_line(tmp_path):
    """Issue 25: `"correct": "false"` counted as correct in eval --samples (pass@2 2.5% -> 100%)."""
    p = tmp_path / "s.jsonl"
    write_jsonl(p, [sample(0), sample(1, correct="false")])
    with pytest.raises(RecordError, match=r"s\.jsonl:2: field 'correct' must be a boolean or null, got string"):
        list(read_samples(p))
    r = run("eval", "--samples", p, "--out", tmp_path / "ev")
    assert r.exit_code == 2 and "s.jsonl:2: field 'correct'" in r.text
    assert not (tmp_path / "ev" / "metrics.json").exists()


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [("question", 7, "number"), ("completion", None, "null"), ("completion", ["x"], "list"), ("meta", "m", "string")],
)
def test_wrong_typed_fields_are_refused_at_read_time(field, value, kind):
    """Issue 25: a question as a number, a completion as null or a list passed grade/metrics/..."""
    raw = json.dumps(sample(0, **{field: value})).encode()
    with pytest.raises(RecordError, match=rf"f\.jsonl:4: field '{field}' must be .*, got {kind}"):
        parse_line(raw, "f.jsonl", 4)


def test_numbers_written_for_ids_and_answers_still_read_as_text(tmp_path):
    p = tmp_path / "s.jsonl"
    write_jsonl(p, [sample(0, problem_id=12, answer=42, correct=1)])
    (s,) = read_samples(p)
    assert (s.problem_id, s.answer, s.correct) == ("12", "42", 1)


def test_grade_refuses_a_question_that_is_a_number(tmp_path):
    p = tmp_path / "s.jsonl"
    write_jsonl(p, [sample(0), sample(1, question=5)])
    r = run("grade", "--input", p, "--output", tmp_path / "g.jsonl", "--workers", "1")
    assert r.exit_code == 2 and "s.jsonl:2: field 'question' must be a string, got number" in r.text


# ------------------------------------------------------------------------- bounded decoding


def test_a_line_of_a_million_empty_objects_is_refused_cheaply():
    """Issue 25: a 3.9 MB line of 1.3 M `{}` cost grade 116 MB (40 such lines 3.5 GB)."""
    raw = b'{"question": "q", "completion": "c", "meta": {"x": [' + b"{}," * 1_300_000 + b"{}]}}"
    t0 = time.perf_counter()
    with pytest.raises(RecordError, match=r"f:1: more than [\d,]+ JSON values on one line"):
        parse_line(raw, "f", 1)
    assert time.perf_counter() - t0 < 5


def test_nesting_past_the_depth_bound_is_refused_and_latex_braces_are_not_counted():
    deep = b'{"meta": ' + b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1) + b"}"
    with pytest.raises(RecordError, match="nested deeper than"):
        parse_line(deep, "f", 1)
    latex = json.dumps(sample(0, completion="\\frac{1}{2}" * 50_000)).encode()  # braces inside a string
    assert parse_line(latex, "f", 1)["correct"] is True


def test_a_repeated_deciding_key_is_an_error_whatever_the_workers(tmp_path):
    """Issue 25: rft gave 80/124/142/138 records for 1-4 workers when a line repeated a key."""
    p = tmp_path / "s.jsonl"
    p.write_bytes(
        b"".join(
            b'{"question": "q%d", "answer": "1", "completion": "#### 1", "question": "z%d"}\n' % (i, i % 7)
            for i in range(60)
        )
    )
    for workers in ("1", "3"):
        r = run("rft", "--samples", p, "--out", tmp_path / f"r{workers}.jsonl", "--workers", workers)
        assert r.exit_code == 2 and "field 'question' appears twice" in r.text
        assert not (tmp_path / f"r{workers}.jsonl").exists()


def test_bad_max_line_bytes_in_the_environment_is_not_an_import_traceback():
    """Issue 25: SCALEMATH_MAX_LINE_BYTES=abc printed a traceback from import."""
    import os

    old = os.environ.get("SCALEMATH_MAX_LINE_BYTES")
    os.environ["SCALEMATH_MAX_LINE_BYTES"] = "abc"
    try:
        assert ReadLimits.from_env(strict=False).max_line_bytes == ReadLimits().max_line_bytes
        with pytest.raises(InputError, match="SCALEMATH_MAX_LINE_BYTES"):
            ReadLimits.from_env()
    finally:
        if old is None:
            del os.environ["SCALEMATH_MAX_LINE_BYTES"]
        else:
            os.environ["SCALEMATH_MAX_LINE_BYTES"] = old


# ------------------------------------------------------------------------- YAML and configs


def test_yaml_alias_bomb_is_refused_fast(tmp_path):
    """Issue 25: a 471-byte alias bomb in train --config / a study / demo --config passed 2.5 GB."""
    p = tmp_path / "c.yaml"
    p.write_bytes(BOMB)
    t0 = time.perf_counter()
    with pytest.raises(InputError, match=r"c\.yaml:\d+: YAML expands to more than"):
        load_yaml(p)
    assert time.perf_counter() - t0 < 5
    for args in (["train", "--config", p], ["demo", "--config", p, "--out", tmp_path / "d"]):
        r = run(*args)
        assert r.exit_code == 2 and "YAML expands to more than" in r.text


def test_demo_config_from_dev_zero_fails_fast(tmp_path):
    """Issue 25: `demo --config /dev/zero` read forever."""
    r = run("demo", "--config", "/dev/zero", "--out", tmp_path / "d")
    assert r.exit_code == 2 and "/dev/zero: larger than" in r.text


def test_config_types_are_checked_with_file_and_line_before_any_model(tmp_path):
    """Issue 25: `epochs: three` failed after 12 s of loading."""
    from scalemath.training.sft_config import SFTRunConfig

    p = tmp_path / "c.yaml"
    p.write_text("learning_rate: 1e-4\nepochs: three\n")
    with pytest.raises(InputError, match=r"c\.yaml:2: field 'epochs' must be a number or null, got string 'three'"):
        SFTRunConfig.from_yaml(p)
    p.write_text("learning_rate: 1e-4\nepochs: 2\n")
    cfg = SFTRunConfig.from_yaml(p)
    assert cfg.learning_rate == 1e-4 and cfg.epochs == 2  # 1e-4 is a number (YAML 1.1 read it as a string)


def test_check_fields_names_unknown_and_mistyped_keys(tmp_path):
    from scalemath.experiments.config import StudyError
    from scalemath.experiments.demo import demo_study

    p = tmp_path / "d.yaml"  # demo --config: a study file, checked as any study
    p.write_text("name: d\nthreads: [1]\n")
    with pytest.raises(StudyError, match=r"d\.yaml:2: threads: expected an integer"):
        demo_study(p)
    p.write_text("name: d\nbogus: 1\n")
    with pytest.raises(StudyError, match=r"d\.yaml:2: unknown"):
        demo_study(p)
    for args in (["demo", "--config", p, "--out", tmp_path / "o"],):
        r = run(*args)
        assert r.exit_code == 2 and "d.yaml:2: unknown key 'bogus'" in r.text
    p.write_text("seed: 3\nthreads: [1]\n")  # check_fields, which other commands' --config use
    data, lines = load_yaml(p)

    @dataclasses.dataclass
    class Settings:
        seed: int = 0
        threads: int = 1

    with pytest.raises(InputError, match=r"d\.yaml:2: field 'threads' must be"):
        check_fields(Settings, data, p, lines)
    p.write_text("seed: 3\nbogus: 1\n")
    data, lines = load_yaml(p)
    with pytest.raises(InputError, match=r"d\.yaml:2: unknown"):
        check_fields(Settings, data, p, lines)


# ------------------------------------------------------------------------- templates


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Q: {question}\n\\boxed{}", r"t:2: template has a positional placeholder"),
        ("Q: {question:>999999999}", r"t:1: .*format spec"),
        ("Q: {question.__class__}", r"t:1: template placeholder .* plain field name"),
        ("Q: {question", r"t:1: template is not a valid format string"),
    ],
)
def test_template_syntax_is_checked_with_line(text, message):
    with pytest.raises(InputError, match=message):
        template_fields(text, "t")


def test_sample_refuses_bad_templates_and_options_before_loading_a_model(tmp_path):
    """Issue 25: `{source}`, `\\boxed{}`, --top-p 0|nan|2, --seed 2**64, --dataset bogus were
    internal errors (the last after 8 s of loading); the model named here does not exist."""
    data = tmp_path / "p.jsonl"
    write_jsonl(data, [{"id": "p0", "question": "What is 1 + 2?", "answer": "3"}])
    t = tmp_path / "t.txt"
    t.write_text("Q: {question}\nSource: {source}\nA:")
    t2 = tmp_path / "t2.txt"
    t2.write_bytes(b"Q: {question}\nR\xe9ponse:")
    base = ["sample", "--model", tmp_path / "nomodel", "--data", data, "--out", tmp_path / "s.jsonl"]
    for extra, want in [
        (["--template", t], "t.txt:2: template placeholder {source} is not filled"),
        (["--template", t2], "t2.txt:2: byte 0xe9"),
        (["--top-p", "0"], "top_p must be in (0, 1]"),
        (["--top-p", "nan"], "top_p must be a finite number"),
        (["--top-p", "2"], "top_p must be in (0, 1]"),
        (["--seed", str(2**64)], "seed must be in"),
        (["--dataset", "bogus"], "unknown dataset 'bogus'"),
    ]:
        r = run(*base, *extra)
        assert r.exit_code == 2, (extra, r.output)
        assert want in r.text, (extra, r.output)
        assert "internal error" not in r.text


# ------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("args", "want"),
    [
        (["grade", "--input", "{s}", "--output", "{w}/g.jsonl", "--workers", "-3"], "--workers"),
        (["audit", "sample", "-i", "{s}", "-o", "{w}/a.jsonl", "--n", "-5"], "--n"),
        (["metrics", "{s}", "--bootstrap", "100000000"], "--bootstrap"),
        (["metrics", "{s}", "--ci", "nan"], "--ci"),
        (["tiny", "--corpus", "{c}", "--out", "{w}/t", "--vocab", "1"], "vocab_size must be in"),
        (["tiny", "--corpus", "{c}", "--out", "{w}/t", "--vocab", "1000000000"], "vocab_size must be in"),
        (["tiny", "--corpus", "{c}", "--out", "{w}/t", "--hidden", "0"], "hidden_size must be in"),
        (["tiny", "--corpus", "{c}", "--out", "{w}/t", "--lr", "nan"], "--lr"),
        (["tiny", "--corpus", "{e}", "--out", "{w}/t", "--steps", "1"], "corpus is empty"),
    ],
)
def test_option_mistakes_are_usage_errors_not_bugs(tmp_path, args, want):
    """Issue 25: each of these was `internal error ... a bug in scalemath` (exit 1)."""
    s = tmp_path / "s.jsonl"
    write_jsonl(s, [sample(0), sample(1, correct=False)])
    c = tmp_path / "c.txt"
    c.write_text("one plus one is two\n" * 5)
    e = tmp_path / "e.txt"
    e.write_text("\n")
    argv = [a.format(s=s, w=tmp_path, c=c, e=e) for a in args]
    r = run(*argv)
    assert r.exit_code == 2, r.output
    assert want in r.text and "internal error" not in r.text


# ------------------------------------------------------------------------- fit


def test_fit_refuses_a_duplicated_header_column(tmp_path):
    """Issue 25: a duplicated CSV header made `fit` fit the second column."""
    p = tmp_path / "r.csv"
    p.write_text("data_size,accuracy,accuracy\n100,0.2,0.9\n200,0.3,0.8\n400,0.4,0.7\n800,0.5,0.6\n")
    r = run("fit", p)
    assert r.exit_code == 2 and "r.csv:1: column(s) ['accuracy'] appear more than once" in r.text


def test_fit_bounds_points_and_magnitudes_and_names_the_file(tmp_path):
    """Issue 25: 20,000 rows needed 2.5 GB, x = 1e300 hung, "no model can be fitted" named no file."""
    from scalemath.scaling.fit import MAX_POINTS

    p = tmp_path / "r.csv"
    p.write_text("data_size,accuracy\n" + "".join(f"{100 + i},{(i % 7) / 10}\n" for i in range(MAX_POINTS + 1)))
    r = run("fit", p)
    assert r.exit_code == 2 and f"r.csv: {MAX_POINTS + 1:,} points" in r.text
    p.write_text("data_size,accuracy\n" + "".join(f"{1e300 * (i + 1)},{i / 10}\n" for i in range(6)))
    r = run("fit", p)
    assert r.exit_code == 2 and "r.csv: a value of" in r.text
    p.write_text("data_size,accuracy\n100,0.2\n")
    r = run("fit", p)
    assert r.exit_code == 2 and "r.csv: no model can be fitted to 1 points" in r.text


def test_fit_of_a_falling_series_ends_quickly():
    """A 4-point series no model describes (accuracy falling with data) took > 120 s: 1,000
    bootstrap refits that each ran 2,000 evaluations."""
    from scalemath.scaling.fit import fit_auto

    t0 = time.perf_counter()
    best, fits = fit_auto(np.array([100, 200, 400, 800.0]), np.array([0.9, 0.8, 0.7, 0.6]))
    assert time.perf_counter() - t0 < 60
    assert best.model in fits and np.isfinite(best.params["b"])


# ------------------------------------------------------------------------- report


def test_report_names_a_truncated_metrics_json(tmp_path):
    """Issue 25: a truncated metrics.json under `report` gave no file or line."""
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "metrics.json").write_text('{"summary": {"accuracy": 0.')
    r = run("report", tmp_path)
    assert r.exit_code == 2 and "metrics.json:1: malformed or truncated JSON" in r.text
