"""Bad input gets a clear error and nothing is lost, in every command.

The bad-input matrix in small (each command x six malformed inputs, the long line scaled down
with --max-line-bytes), the CLI's one error path, the readers' rules (empty input, line bound,
non-UTF-8 bytes named by line, YAML and CSV cases) and temp files. The 50 MB-line memory figures
are in benchmarks/bench_reliability.py; a smaller line's peak memory is checked here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scalemath.cli import app
from scalemath.records import (
    DEFAULT_MAX_LINE_BYTES,
    LIMITS,
    RecordError,
    iter_jsonl_numbered,
    read_text,
    set_read_limits,
    write_jsonl,
)

SRC = str(Path(__file__).resolve().parents[2] / "src")
KINDS = ("truncated", "non_utf8", "empty", "json_list", "missing_fields", "huge_line")
HUGE = 5000  # bytes of the "huge" line in these tests; the bound is set to 1000 below


@pytest.fixture(autouse=True)
def _default_limits():
    set_read_limits()
    yield
    set_read_limits()


def _dump(obj) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def malformed(kind: str, good, missing: dict, big: str) -> bytes:
    ok = _dump(good(0)) + _dump(good(1))
    if kind == "truncated":
        return ok + _dump(good(2))[:25]
    if kind == "non_utf8":
        line = _dump(good(2))
        i = line.index(b'": "') + 4
        return ok + line[:i] + b"caf\xe9 " + line[i:]
    if kind == "empty":
        return b""
    if kind == "json_list":
        return _dump(list(good(0).values())) + ok
    if kind == "missing_fields":
        return ok + _dump(missing)
    rec = good(2)
    rec[big] = "x" * HUGE
    return ok + _dump(rec)


def sample(i):
    return {
        "problem_id": f"p{i}",
        "question": f"What is {i} + 2?",
        "answer": str(i + 2),
        "completion": f"{i} + 2 = <<{i}+2={i + 2}>>{i + 2}\n#### {i + 2}",
        "correct": True,
        "sample_index": 0,
        "temperature": 0.0,
    }


def gsm8k(i):
    return {
        "question": f"Tom has {i} apples and buys 2 more. How many apples does he have?",
        "answer": f"Tom has {i} + 2 = <<{i}+2={i + 2}>>{i + 2} apples.\n#### {i + 2}",
    }


def problem(i):
    g = gsm8k(i)
    return {"id": f"p{i}", "question": g["question"], "solution": g["answer"], "answer": str(i + 2)}


# (name, argv(input, work), good record, record missing a field, the field made long)
COMMANDS = [
    (
        "eval --samples",
        lambda f, w: ["eval", "--samples", str(f), "--out", str(w / "ev")],
        sample,
        {"problem_id": "p9", "question": "q", "answer": "1"},
        "completion",
    ),
    (
        "sample --data",
        lambda f, w: ["sample", "--model", str(w / "no-model"), "--data", str(f), "--out", str(w / "s.jsonl")],
        gsm8k,
        {"question": "q"},
        "question",
    ),
    (
        "train --data",
        lambda f, w: ["train", "--model", str(w / "no-model"), "--data", str(f), "--out", str(w / "m")],
        problem,
        {"id": "p9", "question": "q"},
        "solution",
    ),
    (
        "rft --samples",
        lambda f, w: ["rft", "--samples", str(f), "--out", str(w / "r.jsonl")],
        sample,
        {"question": "q", "answer": "1"},
        "completion",
    ),
    (
        "grade",
        lambda f, w: ["grade", "--input", str(f), "--output", str(w / "g.jsonl"), "--workers", "1"],
        sample,
        {"completion": "#### 1"},
        "completion",
    ),
    (
        "data convert",
        lambda f, w: ["data", "convert", "--input", str(f), "--out", str(w / "c.jsonl")],
        gsm8k,
        {"question": "q"},
        "question",
    ),
    (
        "decontaminate",
        lambda f, w: [
            "decontaminate",
            "--input",
            str(f),
            "--against",
            str(w / "test.jsonl"),
            "--out",
            str(w / "d.jsonl"),
        ],
        problem,
        {"id": "p9", "solution": "s"},
        "solution",
    ),
    (
        "metrics",
        lambda f, w: ["metrics", str(f), "--bootstrap", "0"],
        sample,
        {"question": "What is 0 + 2?", "completion": "#### 2", "correct": True},
        "completion",
    ),
    (
        "eval --data",
        lambda f, w: ["eval", "--model", str(w / "no-model"), "--data", str(f), "--out", str(w / "ev")],
        gsm8k,
        {"question": "q"},
        "question",
    ),
]


def run(args: list[str]):
    return CliRunner().invoke(app, args)


def assert_clean_error(r, path: Path, work: Path, line: int | None = None) -> None:
    text = r.output
    assert r.exit_code == 2, text
    assert isinstance(r.exception, SystemExit), repr(r.exception)  # no escaped exception
    assert "Traceback" not in text
    where = f"{path}:{line}:" if line else str(path)
    assert f"error: {where}" in text, text
    assert not [p for p in work.rglob("*") if ".tmp" in p.name], "temp files left behind"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name,argv,good,missing,big", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_bad_input_matrix(tmp_path, name, argv, good, missing, big, kind):
    write_jsonl(
        tmp_path / "test.jsonl",
        [{"id": "t1", "question": "A train leaves at noon and travels three hours. When does it arrive?"}],
    )
    f = tmp_path / f"in_{kind}.jsonl"
    f.write_bytes(malformed(kind, good, missing, big))
    r = run(["--max-line-bytes", "1000", *argv(f, tmp_path)])
    line = {"truncated": 3, "non_utf8": 3, "json_list": 1, "missing_fields": 3, "huge_line": 3}.get(kind)
    assert_clean_error(r, f, tmp_path, line)
    expect = {
        "non_utf8": "not valid UTF-8",
        "empty": "no ",
        "json_list": "expected a JSON object",
        "huge_line": "line longer than 1,000 bytes",
        "truncated": "malformed JSON",
    }
    if kind in expect:
        assert expect[kind] in r.output


@pytest.mark.parametrize("kind", KINDS)
def test_fit_csv_cases(tmp_path, kind):
    good = b"data_size,accuracy\n100,0.2\n200,0.3\n400,0.4\n800,0.5\n"
    data = {
        "truncated": good + b"1600\n",
        "non_utf8": good + b"1600,0.6\xe9\n",
        "empty": b"",
        "json_list": b'[{"data_size": 100, "accuracy": 0.2}]\n',
        "missing_fields": good.replace(b"accuracy", b"acc"),
        "huge_line": good + b"1600," + b"7" * HUGE + b"\n",
    }[kind]
    f = tmp_path / "r.csv"
    f.write_bytes(data)
    r = run(["--max-line-bytes", "1000", "fit", str(f), "--x", "data_size", "--y", "accuracy"])
    assert_clean_error(r, f, tmp_path, {"truncated": 6, "non_utf8": 6, "huge_line": 6}.get(kind))
    if kind == "truncated":  # regression: a row cut short was silently fitted on what was left
        assert "truncated row" in r.output


def test_fit_huge_csv_field_within_the_line_bound(tmp_path):
    """Regression: a field over csv's 128 KB default limit gave a traceback."""
    f = tmp_path / "r.csv"
    f.write_bytes(b"data_size,accuracy\n100,0.2\n200," + b"7" * 200_000 + b"\n")
    r = run(["fit", str(f), "--x", "data_size", "--y", "accuracy"])
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output


@pytest.mark.parametrize("kind", KINDS)
def test_experiment_run_yaml_cases(tmp_path, kind):
    good = b"name: tiny\ndata:\n  source: procedural\n  train_n: 8\n  test_n: 4\n"
    data = {
        "truncated": good + b"sft:\n  fractions: [1, 0.5\n",
        "non_utf8": good + b"description: caf\xe9\n",
        "empty": b"",
        "json_list": b"- name: tiny\n- data: procedural\n",
        "missing_fields": good.replace(b"source: procedural", b"source: files"),
        "huge_line": good + b"description: " + b"seven " * 1000 + b"\n",
    }[kind]
    f = tmp_path / "study.yaml"
    f.write_bytes(data)
    r = run(["--max-line-bytes", "1000", "experiment", "run", str(f), "--out", str(tmp_path / "run"), "--dry-run"])
    assert_clean_error(r, f, tmp_path, {"non_utf8": 6, "huge_line": 6}.get(kind))
    if kind == "non_utf8":  # regression: "UnicodeDecodeError ... position 405", no file name
        assert "byte 0xe9 at column 17 is not valid UTF-8" in r.output


def test_empty_study_is_an_error_not_the_default_study(tmp_path):
    f = tmp_path / "study.yaml"
    f.write_text("# nothing here yet\n\n")
    r = run(["experiment", "run", str(f), "--dry-run", "--out", str(tmp_path / "run")])
    assert r.exit_code == 2 and "no study in it" in r.output and not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------------ the error path


def test_error_path_exit_codes_and_debug(tmp_path, monkeypatch):
    f = tmp_path / "in.jsonl"
    f.write_text('{"question": "q", "answer": "#### 1"}\n{"quest\n')
    r = run(["data", "convert", "--input", str(f), "--out", str(tmp_path / "o.jsonl")])
    assert r.exit_code == 2 and f"error: {f}:2: malformed JSON" in r.output
    # --debug: the exception itself comes out (a traceback on a terminal)
    r = run(["--debug", "data", "convert", "--input", str(f), "--out", str(tmp_path / "o.jsonl")])
    assert isinstance(r.exception, RecordError)
    monkeypatch.setenv("SCALEMATH_DEBUG", "1")
    r = run(["data", "convert", "--input", str(f), "--out", str(tmp_path / "o.jsonl")])
    assert isinstance(r.exception, RecordError)
    monkeypatch.delenv("SCALEMATH_DEBUG")
    # a missing input file: exit 2 naming it
    r = run(["data", "convert", "--input", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o.jsonl")])
    assert r.exit_code == 2 and "nope.jsonl" in r.output and "Traceback" not in r.output


def test_an_unexpected_exception_is_one_line_with_a_hint(tmp_path, monkeypatch):
    import scalemath.datasets as ds

    def broken(*a, **k):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(ds, "load_problems", broken)
    f = tmp_path / "in.jsonl"
    f.write_text('{"question": "q", "answer": "#### 1"}\n')
    r = run(["data", "convert", "--input", str(f), "--out", str(tmp_path / "o.jsonl")])
    assert r.exit_code == 1 and "internal error: ZeroDivisionError: boom" in r.output
    assert "--debug" in r.output and "Traceback" not in r.output


def test_cli_process_prints_no_traceback_and_exits_2(tmp_path):
    """The real process (not CliRunner): what a user sees on stderr."""
    f = tmp_path / "in.jsonl"
    f.write_bytes(b'{"question": "caf\xe9", "answer": "#### 1"}\n')
    env = {**os.environ, "PYTHONPATH": SRC}
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "scalemath.cli",
            "data",
            "convert",
            "--input",
            str(f),
            "--out",
            str(tmp_path / "o.jsonl"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert p.returncode == 2
    assert p.stderr.strip() == f"error: {f}:1: byte 0xe9 at column 18 is not valid UTF-8 (invalid continuation byte)"


# ------------------------------------------------------------------------------------ readers


def test_allow_empty_flag_and_env(tmp_path, monkeypatch):
    f = tmp_path / "e.jsonl"
    f.write_text("\n  \n")
    with pytest.raises(RecordError, match="no records: the input is empty"):
        list(iter_jsonl_numbered(f))
    assert list(iter_jsonl_numbered(f, allow_empty=True)) == []
    r = run(["--allow-empty", "data", "convert", "--input", str(f), "--out", str(tmp_path / "o.jsonl")])
    assert r.exit_code == 0 and "wrote 0 problems" in r.output
    r = run(["grade", "--input", str(f), "--output", str(tmp_path / "g.jsonl")])
    assert r.exit_code == 2 and "empty" in r.output  # regression: "accuracy 0/0", exit 0
    monkeypatch.setenv("SCALEMATH_ALLOW_EMPTY", "1")
    r = run(["data", "convert", "--input", str(f), "--out", str(tmp_path / "o.jsonl")])
    assert r.exit_code == 0


def test_line_bound_reads_no_more_than_the_bound(tmp_path):
    f = tmp_path / "big.jsonl"
    f.write_bytes(b'{"question": "' + b"a" * 3000 + b'"}\n')
    set_read_limits(max_line_bytes=1000)
    assert LIMITS.max_line_bytes == 1000
    with pytest.raises(RecordError, match=r"big\.jsonl:1: line longer than 1,000 bytes"):
        list(iter_jsonl_numbered(f))
    set_read_limits()
    assert LIMITS.max_line_bytes == DEFAULT_MAX_LINE_BYTES
    assert len(list(iter_jsonl_numbered(f))) == 1
    # exactly at the bound is fine, one byte over is not
    g = tmp_path / "edge.jsonl"
    g.write_bytes(b'{"a": "' + b"b" * 93 + b'"}\n')  # 102 bytes + newline
    set_read_limits(max_line_bytes=102)
    assert len(list(iter_jsonl_numbered(g))) == 1
    set_read_limits(max_line_bytes=101)
    with pytest.raises(RecordError):
        list(iter_jsonl_numbered(g))
    r = run(["--max-line-bytes", "lots", "data", "show", str(f)])
    assert r.exit_code == 2 and "--max-line-bytes" in r.output


def test_long_line_peak_memory_stays_small(tmp_path):
    """A 32 MB line (8x the 4 MiB default bound) is refused after reading at most the bound; the
    process's own high-water mark stays near its start-up size (the 50 MB figures: the benchmark)."""
    f = tmp_path / "big.jsonl"
    with open(f, "wb") as fh:
        fh.write(b'{"question": "')
        for _ in range(32):
            fh.write(b"seven " * ((1 << 20) // 6 + 1))
        fh.write(b'", "answer": "#### 1"}\n')
    hwm = tmp_path / "hwm"
    code = (
        "import atexit, sys\n"
        "out = sys.argv[1]\n"
        "def hwm():\n"
        "    for l in open('/proc/self/status'):\n"
        "        if l.startswith('VmHWM:'): open(out, 'w').write(l.split()[1])\n"
        "atexit.register(hwm)\n"
        "sys.argv = ['scalemath'] + sys.argv[2:]\n"
        "from scalemath.cli import main; main()\n"
    )
    p = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(hwm),
            "data",
            "convert",
            "--input",
            str(f),
            "--out",
            str(tmp_path / "o.jsonl"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert p.returncode == 2 and "line longer than 4,194,304 bytes" in p.stderr, p.stderr
    peak_mb = int(hwm.read_text()) / 1024
    assert peak_mb < 250, peak_mb


def test_read_text_names_the_line_of_a_bad_byte(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_bytes(b"a: 1\nb: 2\nc: \xff\n")
    with pytest.raises(RecordError, match=r"c\.yaml:3: byte 0xff at column 4"):
        read_text(f)


def test_write_jsonl_leaves_no_temp_file_on_error(tmp_path):
    def records():
        yield {"a": 1}
        raise RecordError("x.jsonl", 7, "bad")

    with pytest.raises(RecordError):
        write_jsonl(tmp_path / "o.jsonl", records())
    assert list(tmp_path.iterdir()) == []


def test_json_array_file_still_reads_through_datasets(tmp_path):
    """A `.json` array is a supported format (Hugging Face json); a `.jsonl` line that is a list
    is an error."""
    from scalemath.datasets import load_problems

    arr = tmp_path / "a.json"
    arr.write_text(json.dumps([gsm8k(1), gsm8k(2)]))
    assert [p.answer for p in load_problems(arr)] == ["3", "4"]
    bad = tmp_path / "a.jsonl"
    bad.write_text(json.dumps([gsm8k(1), gsm8k(2)]) + "\n")
    with pytest.raises(RecordError, match=r"a\.jsonl:1: expected a JSON object, got a JSON list"):
        list(load_problems(bad))


def test_train_reads_every_format_load_problems_knows(tmp_path):
    """Regression: `train` rejected a GSM8K-format file with a traceback."""
    from scalemath.training.data import read_training_records

    g = tmp_path / "gsm8k_train.jsonl"
    write_jsonl(g, [gsm8k(i) for i in range(3)])
    recs = read_training_records(g)
    assert [r["solution"] for r in recs] == [gsm8k(i)["answer"] for i in range(3)]
    m = tmp_path / "math.jsonl"
    write_jsonl(m, [{"problem": "Compute 1+1.", "solution": "It is $\\boxed{2}$.", "level": "Level 1"}])
    assert read_training_records(m)[0]["solution"] == "It is $\\boxed{2}$."
    legacy = tmp_path / "rft.jsonl"
    write_jsonl(legacy, [{"query": "What is 1+1?", "response": "1+1=2\n#### 2"}])
    assert read_training_records(legacy)[0]["question"] == "What is 1+1?"
    s = tmp_path / "samples.jsonl"
    write_jsonl(s, [sample(1)])
    assert read_training_records(s)[0]["solution"] == sample(1)["completion"]


def test_decontaminate_refuses_a_record_without_question(tmp_path):
    """Regression: `decontaminate` passed a record without `question` through unchecked."""
    write_jsonl(tmp_path / "test.jsonl", [{"id": "t", "question": "What is the capital of France today?"}])
    f = tmp_path / "train.jsonl"
    write_jsonl(f, [problem(1), {"id": "x", "solution": "no question here"}])
    r = run(
        [
            "decontaminate",
            "--input",
            str(f),
            "--against",
            str(tmp_path / "test.jsonl"),
            "--out",
            str(tmp_path / "d.jsonl"),
        ]
    )
    assert_clean_error(r, f, tmp_path, 2)
    assert not (tmp_path / "d.jsonl").exists()


def test_train_with_every_prompt_over_max_length_is_a_clear_error(tmp_path):
    """TRL drops an example whose prompt alone fills max_length; with all of them dropped the
    run crashed with `IndexError: Invalid key: 0 is out of bounds for size 0`."""
    pytest.importorskip("torch")
    from scalemath.testing.tiny_random import save_tiny_llama

    model = save_tiny_llama(tmp_path / "tiny")
    f = tmp_path / "long.jsonl"
    write_jsonl(f, [{"question": "How many? " + "apples and pears " * 200, "answer": "x\n#### 1"}])
    r = run(
        [
            "train",
            "--model",
            str(model),
            "--data",
            str(f),
            "--out",
            str(tmp_path / "m"),
            "--max-steps",
            "1",
            "--threads",
            "1",
            "--quiet",
            "--allow-contamination",
        ]
    )
    assert r.exit_code == 2 and "have a prompt of max_length=512 tokens or more" in " ".join(r.output.split())


def test_read_samples_refuses_an_id_less_sample_among_ids(tmp_path):
    from scalemath.records import read_samples

    f = tmp_path / "s.jsonl"
    write_jsonl(f, [sample(0), {"question": "What is 0 + 2?", "completion": "#### 2"}])
    with pytest.raises(RecordError, match=r"s\.jsonl:2: sample without problem_id"):
        list(read_samples(f))
    write_jsonl(f, [{"question": "q", "completion": "c"}, {"question": "q", "completion": "d"}])
    assert len({s.problem_id for s in read_samples(f)}) == 1
