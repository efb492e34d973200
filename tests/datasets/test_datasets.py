"""Readers on small fixtures written here (GSM8K, RFT-repo, MATH, MATH-500, HF local), and the CLI."""

import json

import pytest
from typer.testing import CliRunner

from scalemath.datasets import detect_format, load_problems
from scalemath.datasets.gsm8k import gsm8k_final_answer, read_gsm8k
from scalemath.datasets.math import last_boxed, read_math, read_math500
from scalemath.datasets.rft_legacy import read_rft_legacy
from scalemath.records import RecordError, read_problems, write_jsonl

GSM = [
    {
        "question": "Natalia sold 48 clips in April and half as many in May. How many in all?",
        "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips.\n#### 72",
    },
    {
        "question": "A shop earns $1,200 a day for 2 days. How much?",
        "answer": "It earns 1200*2 = $<<1200*2=2400>>2,400.\n#### 2,400",
    },
]
MATH = [
    {
        "problem": "Simplify $\\frac{2}{4}$.",
        "level": "Level 2",
        "type": "Algebra",
        "solution": "We get $\\boxed{1}$ at first, but really $\\boxed{\\frac{1}{2}}$.",
        "idx": 0,
    },
    {
        "problem": "Find the set.",
        "level": "Level ?",
        "type": "Counting & Probability",
        "solution": "The set is $\\boxed{\\{1, \\{2\\}\\}}$.",
    },
    {
        "problem": "What is x?",
        "level": "Level 5",
        "type": "Prealgebra",
        "solution": "So $x=\\fbox{$\\sqrt{2}$}$ and done.",
    },
]
MATH500 = [
    {
        "problem": "Convert $(0,3)$ to polar.",
        "solution": "So $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}.$",
        "answer": "\\left( 3, \\frac{\\pi}{2} \\right)",
        "subject": "Precalculus",
        "level": 2,
        "unique_id": "test/precalculus/807.json",
    },
]
RFT = [
    {"query": "Q1?", "response": "A 2*3=<<2*3=6>>6.\n#### 6"},
    {"query": "Q1?", "response": "B 3*2=<<3*2=6>>6.\n#### 6"},
    {"query": "Q2?", "response": "no final line here"},
]


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_gsm8k_reader(tmp_path):
    probs = list(read_gsm8k(write(tmp_path / "train.jsonl", GSM)))
    assert [p.id for p in probs] == ["gsm8k-train-0", "gsm8k-train-1"]
    assert probs[0].answer == "72" and probs[0].solution == GSM[0]["answer"]
    assert probs[1].answer == "2400"  # commas removed
    assert [p.meta["steps"] for p in probs] == [2, 1]
    assert probs[0].source == "gsm8k" and probs[0].split == "train"


def test_gsm8k_final_answer():
    assert gsm8k_final_answer("x\n#### -3.5") == "-3.5"
    assert gsm8k_final_answer("#### 1,000,000") == "1000000"
    assert gsm8k_final_answer("The answer is 5") is None


def test_missing_field_names_field_file_and_line(tmp_path):
    path = write(tmp_path / "g.jsonl", [GSM[0], {"question": "q"}])
    with pytest.raises(RecordError) as e:
        list(load_problems(path, format="gsm8k"))
    assert "'answer'" in str(e.value) and f"{path}:2:" in str(e.value)
    path = write(
        tmp_path / "m.jsonl",
        [
            {"problem": "p", "answer": "1", "solution": 3.5, "unique_id": "u"},
            {"problem": "p", "unique_id": "v", "solution": "s"},
        ],
    )
    with pytest.raises(RecordError, match=r"m\.jsonl:2: missing field 'answer'"):
        list(read_math500(path))


def test_malformed_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(GSM[0]) + "\n\n" + '{"question": "x", "answer": \n')
    with pytest.raises(RecordError) as e:
        list(load_problems(path))
    assert f"{path}:3:" in str(e.value)


def test_gsm8k_without_final_line_is_an_error(tmp_path):
    path = write(tmp_path / "g.jsonl", [{"question": "q", "answer": "no marker"}])
    with pytest.raises(RecordError, match="####"):
        list(read_gsm8k(path))


def test_rft_legacy_reader(tmp_path):
    path = write(tmp_path / "train_use.jsonl", RFT)
    probs = list(load_problems(path))  # auto-detected
    assert [p.source for p in probs] == ["rft_legacy"] * 3
    assert [p.answer for p in probs] == ["6", "6", ""]
    assert probs[0].meta["query_id"] == probs[1].meta["query_id"] != probs[2].meta["query_id"]
    assert probs[0].id == "rft_legacy-train-0" and probs[1].solution.startswith("B")
    assert list(read_rft_legacy(path))[2].question == "Q2?"


def test_last_boxed():
    assert last_boxed("a \\boxed{1} b \\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"
    assert last_boxed("\\boxed{\\{1, \\{2\\}\\}}") == "\\{1, \\{2\\}\\}"
    assert last_boxed("so \\boxed 5$.") == "5"
    assert last_boxed("\\fbox{7} then \\boxed{ 8 }") == "8"
    assert last_boxed("\\boxed{outer \\boxed{inner}}") == "outer \\boxed{inner}"
    assert last_boxed("\\boxed{unclosed") is None and last_boxed("none") is None
    assert last_boxed("\\boxedx{1}") is None


def test_math_reader(tmp_path):
    probs = list(read_math(write(tmp_path / "test.jsonl", MATH)))
    assert [p.answer for p in probs] == ["\\frac{1}{2}", "\\{1, \\{2\\}\\}", "$\\sqrt{2}$"]
    assert probs[0].meta == {"level": 2, "type": "Algebra"}
    assert probs[1].meta["level"] == "Level ?"
    assert [p.id for p in probs] == ["math-test-0", "math-test-1", "math-test-2"]
    assert {p.source for p in probs} == {"math"}


def test_math500_reader(tmp_path):
    path = write(tmp_path / "math500_test.jsonl", MATH500)
    (p,) = list(load_problems(path))
    assert p.source == "math500" and p.id == "test/precalculus/807.json" and p.split == "test"
    assert p.answer == MATH500[0]["answer"] == last_boxed(p.solution)
    assert p.meta == {"level": 2, "subject": "Precalculus"}


def test_detect_format_and_unknown_keys(tmp_path):
    assert detect_format(GSM[0]) == "gsm8k"
    assert detect_format(MATH[0]) == "math"
    assert detect_format(MATH500[0]) == "math500"
    assert detect_format(RFT[0]) == "rft_legacy"
    assert detect_format({"id": "a", "question": "q"}) == "scalemath"
    path = write(tmp_path / "x.jsonl", [{"foo": 1}])
    with pytest.raises(RecordError, match=r"x\.jsonl:1: cannot tell the format"):
        list(load_problems(path))
    with pytest.raises(ValueError, match="unknown format"):
        list(load_problems(path, format="csv"))


def test_scalemath_roundtrip_and_limit(tmp_path):
    src = write(tmp_path / "test.jsonl", GSM)
    out = tmp_path / "problems.jsonl"
    write_jsonl(out, load_problems(src))
    back = list(load_problems(out))
    assert [p.id for p in back] == ["gsm8k-test-0", "gsm8k-test-1"] and back[1].answer == "2400"
    assert [p.id for p in load_problems(out, limit=1)] == ["gsm8k-test-0"]
    assert list(load_problems(src, split="dev"))[0].id == "gsm8k-dev-0"


def test_streaming_reads_lazily(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps(GSM[0]) + "\n" for _ in range(50)) + "not json\n")
    it = load_problems(path)
    assert next(it).answer == "72"  # the bad line is not read yet
    with pytest.raises(RecordError, match=":51:"):
        list(it)


# ---------------------------------------------------------------- Hugging Face, local paths


def test_hf_parquet_file_auto(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "test-00000.parquet"
    pq.write_table(pa.Table.from_pylist(GSM), path)
    probs = list(load_problems(path))
    assert [p.answer for p in probs] == ["72", "2400"]
    assert probs[0].id == "gsm8k-test-0" and probs[0].split == "test"


def test_hf_jsonl_folder_with_field_map(tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    rows = [
        {"q": "What is 2+2?", "sol": "2+2=<<2+2=4>>4\n#### 4", "uid": "r1", "tag": "easy"},
        {"q": "What is 3*3?", "sol": "$\\boxed{9}$", "uid": "r2", "tag": "easy"},
    ]
    write(folder / "train.jsonl", rows)
    write(folder / "test.jsonl", rows[:1])
    probs = list(
        load_problems(folder, split="train", fields={"question": "q", "solution": "sol", "id": "uid"}, source="toy")
    )
    assert [p.id for p in probs] == ["r1", "r2"] and [p.answer for p in probs] == ["4", "9"]
    assert probs[0].meta == {"tag": "easy"} and probs[0].source == "toy" and probs[0].split == "train"
    assert len(list(load_problems(folder, split="test", format="hf", fields={"question": "q"}))) == 1
    with pytest.raises(RecordError, match="field mapping"):
        list(load_problems(folder, split="test"))
    other = write(tmp_path / "o.jsonl", [{"x": 1}])
    with pytest.raises(RecordError, match=r"o\.jsonl:1: missing field 'q'"):
        list(load_problems(other, fields={"question": "q"}))


def test_hf_save_to_disk_dataset_dict(tmp_path):
    import datasets

    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list(GSM), "test": datasets.Dataset.from_list(MATH500)})
    dd.save_to_disk(str(tmp_path / "saved"))
    train = list(load_problems(tmp_path / "saved", split="train", limit=1))
    assert len(train) == 1 and train[0].source == "gsm8k" and train[0].split == "train"
    (test,) = list(load_problems(tmp_path / "saved", split="test"))
    assert test.id == "test/precalculus/807.json"
    with pytest.raises(ValueError, match="pass split"):
        list(load_problems(tmp_path / "saved"))


def test_hf_offline_hub_id_is_a_clear_error(monkeypatch):
    from scalemath.datasets.hf import HubUnavailableError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubUnavailableError, match="local"):
        list(load_problems("openai/gsm8k", name="main", split="test"))
    with pytest.raises(FileNotFoundError):
        list(load_problems("./missing/file.parquet"))


def test_hf_hub_errors_without_network(monkeypatch):
    import datasets

    from scalemath.datasets import hf

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(hf, "_hub_unreachable", lambda: "no route to host")
    with pytest.raises(hf.HubUnavailableError, match="no route to host"):
        list(load_problems("openai/gsm8k", split="test"))

    def refuse(*args, **kwargs):
        raise ConnectionError("Couldn't reach the Hub")

    monkeypatch.setattr(hf, "_hub_unreachable", lambda: "")
    monkeypatch.setattr(datasets, "load_dataset", refuse)
    with pytest.raises(hf.HubUnavailableError, match="Couldn't reach"):
        list(load_problems("openai/gsm8k", name="main", split="test"))


def test_hf_hub_id_rows_are_converted(monkeypatch):
    import datasets

    from scalemath.datasets import hf

    calls = []

    def fake_load(path, name=None, split=None, streaming=False):
        calls.append((path, name, split, streaming))
        return iter(GSM)

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(hf, "_hub_unreachable", lambda: "")
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    probs = list(load_problems("openai/gsm8k", name="main", split="test", limit=1))
    assert calls == [("openai/gsm8k", "main", "test", True)]
    assert [(p.id, p.answer) for p in probs] == [("gsm8k-test-0", "72")]


# ---------------------------------------------------------------- CLI


def test_cli_procedural_convert_show(tmp_path):
    from scalemath.cli import app

    run = CliRunner().invoke
    out = tmp_path / "p.jsonl"
    r = run(
        app, ["data", "procedural", "--n", "20", "--steps", "2-3", "--seed", "1", "--split", "test", "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    probs = list(read_problems(out))
    assert len(probs) == 20 and {p.split for p in probs} == {"test"}
    assert {p.meta["steps"] for p in probs} <= {2, 3}
    r = run(app, ["data", "show", str(out), "--n", "2", "--paths", "2"])
    assert r.exit_code == 0 and "alternative 1" in r.output and probs[0].question in r.output
    gsm = write(tmp_path / "train.jsonl", GSM)
    conv = tmp_path / "c.jsonl"
    r = run(app, ["data", "convert", "--input", str(gsm), "--out", str(conv), "--limit", "1"])
    assert r.exit_code == 0, r.output
    assert [p.answer for p in read_problems(conv)] == ["72"]
    r = run(app, ["data", "convert", "--input", str(gsm), "--format", "math", "--out", str(conv)])
    assert r.exit_code == 2 and "missing field 'problem'" in r.output
    corpus = tmp_path / "corpus.txt"
    r = run(app, ["data", "pretrain-corpus", "--n", "30", "--out", str(corpus)])
    assert r.exit_code == 0 and len(corpus.read_text().splitlines()) == 30
    r = run(app, ["data", "procedural", "--steps", "0-9", "--out", str(out)])
    assert r.exit_code != 0
