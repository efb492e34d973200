"""Test questions in training data are found and dropped, and RFT keeps its length bound.

`scalemath train` and `scalemath rft` check their data against the known test sets by default
(packaged fingerprints of GSM8K test, MATH test and MATH-500; the run's own test split): overlaps
are reported and dropped unless contamination is allowed. The public test sets are not in the
tests (they may not be copied here): the mechanism is tested on fixture test sets turned into
fingerprints the same way; benchmarks/bench_reliability.py measures it on the real ones.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from scalemath.cli import app
from scalemath.datasets.procedural import generate
from scalemath.methods.contamination import TrainingDataCheck, check_training_records, packaged_fingerprints
from scalemath.methods.decontaminate import Decontaminator
from scalemath.methods.fingerprints import FINGERPRINTS, Fingerprints
from scalemath.methods.rft import DEFAULT_MAX_CHARS, RFTConfig, collect, collect_files
from scalemath.records import Problem, RecordError, write_jsonl
from scalemath.training.data import prepare_data

# a fixture "test set" (written for these tests)
TEST = [
    Problem(id=f"fx-test-{i}", question=q, source="fixture", split="test")
    for i, q in enumerate(
        [
            "A baker makes 24 muffins every morning and sells them at the market for 3 dollars each. "
            "How much money does the baker make in a week?",
            "Lena reads 15 pages of her book on Monday and twice as many pages on Tuesday. The book has "
            "120 pages. How many pages does she still have to read?",
            "A farmer has 7 cows and 12 chickens. Every cow eats 4 kilograms of hay a day. How much hay "
            "do the cows eat in 10 days?",
        ]
    )
]
TRAIN = [
    "Sam has 5 red balloons and buys 8 blue balloons at the fair. How many balloons does Sam have now?",
    "A bus carries 40 passengers on each trip and makes 6 trips a day. How many passengers does it carry?",
    "Maria plants 3 rows of tulips with 9 tulips in each row. How many tulips does she plant in all?",
]


@pytest.fixture()
def test_file(tmp_path):
    path = tmp_path / "fixture_test.jsonl"
    write_jsonl(path, TEST)
    return path


def records(questions):
    return [{"id": f"r{i}", "question": q, "solution": f"step\n#### {i}"} for i, q in enumerate(questions)]


# ------------------------------------------------------------------------------------ fingerprints


def test_packaged_fingerprints_are_small_complete_and_current():
    assert FINGERPRINTS.stat().st_size < 4 << 20
    fp = packaged_fingerprints()
    assert fp.counts() == {"gsm8k": 1319, "math": 5000, "math500": 500}
    assert fp.provenance.count("license MIT") == 3 and fp.provenance.count("sha256") == 3
    assert fp.ids[0] == "gsm8k-test-0" and len(set(fp.ids)) == len(fp.ids)
    assert (FINGERPRINTS.parent / "README.md").exists()
    d = Decontaminator()
    assert d.add_fingerprints(fp) == 6819  # the probe matches this code's tokenizer and hashes


def test_fingerprints_catch_what_the_texts_catch(tmp_path):
    fp = Fingerprints.build([("fixture", TEST)])
    fp.save(tmp_path / "fp.npz")
    fp = Fingerprints.load(tmp_path / "fp.npz")
    by_text, by_hash = Decontaminator(), Decontaminator()
    by_text.add_problems(TEST, "fixture")
    by_hash.add_fingerprints(fp)
    probes = [
        TEST[0].question,  # exact copy
        # numbers swapped and words changed: no 13-gram left, a near-duplicate still
        "Lena reads 21 pages of her novel on Monday and twice as many pages on Tuesday. "
        "The novel has 150 pages. How many pages does she still need to read?",
        "Write a story. " + " ".join(TEST[2].question.split()[:14]),  # shares a 13-gram
        *TRAIN,
        "Compute 2+2.",
    ]
    want = [by_text.check_text(p) for p in probes]
    got = [by_hash.check_text(p) for p in probes]
    batch = by_hash.check_texts(probes)
    assert (
        [w and w.reason for w in want]
        == [g and g.reason for g in got]
        == [b and b.reason for b in batch]
        == ["ngram", "minhash", "ngram", None, None, None, None]
    )
    assert [g.test_id for g in got[:3]] == ["fx-test-0", "fx-test-1", "fx-test-2"]
    assert "fingerprint" in got[1].evidence  # no text in a fingerprint


def test_fingerprints_from_other_tokenizer_code_are_refused(tmp_path):
    fp = Fingerprints.build([("fixture", TEST)])
    fp.params["probe"] = "0" * 16
    with pytest.raises(ValueError, match="rebuild them"):
        Decontaminator().add_fingerprints(fp)


def test_batch_check_equals_the_one_by_one_check():
    d = Decontaminator()
    d.add_problems(TEST, "fixture")
    d.add_problems(generate(40, split="test", steps=(1, 2)), "proc-test")
    texts = (
        [p.question for p in generate(60, split="train", steps=(1, 2))]
        + [t.question for t in TEST]
        + [TEST[0].question.replace("24", "30")]
        + TRAIN
        + ["", "too short"]
    )
    one = [d.check_text(t) for t in texts]
    many = d.check_texts(texts)
    assert [(o.reason, o.test_id) if o else None for o in one] == [(m.reason, m.test_id) if m else None for m in many]
    assert sum(m is not None for m in many) > 3


def test_procedural_questions_are_not_flagged():
    """The demo's and the studies' questions pass the default check (numbers unchanged)."""
    train = [dataclasses.asdict(p) for p in generate(2000, split="train", steps=(1, 2), number_range=(2, 10))]
    result = check_training_records(train, TrainingDataCheck())
    assert result.flagged == 0 and all(result.keep)


def test_own_test_split_is_matched_exactly_because_templates_are_shared(tmp_path):
    train = [dataclasses.asdict(p) for p in generate(300, split="train", steps=(1, 2), number_range=(2, 10))]
    test = generate(100, split="test", steps=(1, 2), number_range=(2, 10))
    write_jsonl(tmp_path / "test.jsonl", test)
    own = check_training_records(train, TrainingDataCheck(known=False, own_test_sets=(str(tmp_path / "test.jsonl"),)))
    assert own.flagged == 0
    full = check_training_records(train, TrainingDataCheck(known=False, test_sets=(str(tmp_path / "test.jsonl"),)))
    assert full.flagged > 50  # the near-duplicate tests would drop template-mates
    leak = check_training_records(
        train + [dataclasses.asdict(test[0])],
        TrainingDataCheck(known=False, own_test_sets=(str(tmp_path / "test.jsonl"),)),
    )
    assert leak.flagged == 1 and leak.keep[-1] is False and leak.report.by_reason == {"exact": 1}


# ------------------------------------------------------------------------------------ train


def test_prepare_data_drops_and_reports_test_questions(tmp_path, test_file):
    data = tmp_path / "train.jsonl"
    write_jsonl(data, records(TRAIN + [TEST[0].question, TEST[2].question]))
    check = TrainingDataCheck(test_sets=(str(test_file),))
    got = prepare_data(data, check)
    assert got.n_records == 5 and [r["question"] for r in got.records] == TRAIN
    s = got.summary()
    assert s["flagged"] == s["dropped"] == 2 and s["by_test_source"] == {str(test_file): 2}
    assert s["references"]["gsm8k"] == 1319  # the known sets were checked too
    allowed = prepare_data(data, dataclasses.replace(check, allow_contamination=True))
    assert len(allowed.records) == 5 and allowed.summary()["flagged"] == 2 and allowed.summary()["dropped"] == 0
    only_test = tmp_path / "leak.jsonl"
    write_jsonl(only_test, records([TEST[1].question]))
    with pytest.raises(RecordError, match="no records left to train on"):
        prepare_data(only_test, check)


def test_cli_train_reports_and_drops_test_questions(tmp_path, test_file):
    pytest.importorskip("torch")
    from scalemath.testing.tiny_random import save_tiny_llama

    model = save_tiny_llama(tmp_path / "tiny")
    data = tmp_path / "train.jsonl"
    # GSM8K format, labelled as test data: read (not a traceback), checked, the overlap dropped
    write_jsonl(
        data, [{"question": q, "answer": f"{q[:10]} = 3\n#### 3", "split": "test"} for q in TRAIN + [TEST[1].question]]
    )
    r = CliRunner().invoke(
        app,
        [
            "train",
            "--model",
            str(model),
            "--data",
            str(data),
            "--out",
            str(tmp_path / "m"),
            "--max-steps",
            "1",
            "--threads",
            "1",
            "--quiet",
            "--test-set",
            str(test_file),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "1 of 4 records match test questions" in " ".join(r.output.split())
    meta = json.loads((tmp_path / "m" / "train_meta.json").read_text())
    chk = meta["data"]["test_set_check"]
    assert meta["data"]["records"] == 4 and meta["data"]["examples"] == 3
    assert chk["dropped"] == 1 and chk["items"][0]["test_id"] == "fx-test-1"
    assert meta["config"]["allow_contamination"] is False


# ------------------------------------------------------------------------------------ rft


def rft_samples(questions, k=2):
    out = []
    for q in questions:
        for seed in range(k):
            out.append(
                {"question": q, "answer": "#### 6", "completion": "<<2*3=6>> so 6\n#### 6", "seed": seed, "model": "m"}
            )
    return out


def test_rft_drops_questions_that_match_a_test_set(tmp_path, test_file):
    cfg = RFTConfig(test_sets=(str(test_file),))
    recs, stats = collect(rft_samples(TRAIN + [TEST[0].question]), cfg)
    assert {r["question"] for r in recs} == set(TRAIN)
    chk = stats.test_set_check
    assert chk["questions_dropped"] == 1 and chk["paths_dropped"] == 1 and chk["by_test_source"] == {str(test_file): 1}
    assert stats.distinct_paths == 3 == sum(r["meta"]["origin"] == "sampled" for r in recs)
    recs, stats = collect(rft_samples(TRAIN + [TEST[0].question]), dataclasses.replace(cfg, allow_contamination=True))
    assert len({r["question"] for r in recs}) == 4 and stats.test_set_check["flagged"] == 1
    recs, stats = collect(rft_samples(TRAIN + [TEST[0].question]), dataclasses.replace(cfg, check_test_sets=False))
    assert len({r["question"] for r in recs}) == 4 and stats.test_set_check is None


def test_cli_rft_checks_by_default(tmp_path, test_file):
    s = tmp_path / "s.jsonl"
    write_jsonl(s, rft_samples(TRAIN + [TEST[2].question]))
    r = CliRunner().invoke(
        app,
        [
            "rft",
            "--samples",
            str(s),
            "--out",
            str(tmp_path / "o.jsonl"),
            "--test-set",
            str(test_file),
            "--stats",
            str(tmp_path / "st.json"),
        ],
    )
    assert r.exit_code == 0, r.output
    st = json.loads((tmp_path / "st.json").read_text())
    assert st["test_set_check"]["questions_dropped"] == 1
    assert "1 of 4 questions match test questions" in " ".join(r.output.split())


def test_rft_length_bound_drops_pathological_paths_only(tmp_path):
    """Regression: the paper's rule kept a 1 MB completion and one of 10,000 unclosed \\boxed{."""
    q = TRAIN[0]
    normal = "5 + 8 = <<5+8=13>>13 balloons.\n#### 13"
    samples = [
        {"question": q, "answer": "#### 13", "completion": c, "seed": i}
        for i, c in enumerate(
            [
                normal,
                "x" * 1_000_000 + " <<5+8=13>>13\n#### 13",
                "\\boxed{" * 10_000 + " <<5+8=13>>13\n#### 13",
                normal.replace("balloons", "balloons in all"),
            ]
        )
    ]
    recs, stats = collect(samples, check_test_sets=False)
    kept = [r["solution"] for r in recs if r["meta"]["origin"] == "sampled"]
    assert kept == [normal]  # the 4th is a duplicate path of the 1st
    assert stats.drops["too_long"] == 2 and stats.limits == {"max_chars": DEFAULT_MAX_CHARS, "max_tokens": None}
    ex = stats.examples["too_long"][0]
    assert ex["length"]["chars"] > DEFAULT_MAX_CHARS and len(ex["completion"]) < 500
    recs, stats = collect(samples, check_test_sets=False, max_chars=None, signature="text")
    assert stats.drops["too_long"] == 0 and len([r for r in recs if r["meta"]["origin"] == "sampled"]) == 4
    # max_tokens reads the samples' meta.n_tokens (collect_files)
    f = tmp_path / "s.jsonl"
    write_jsonl(f, [{**samples[0], "meta": {"n_tokens": 900}}, {**samples[3], "seed": 7, "meta": {"n_tokens": 20}}])
    _, st = collect_files([str(f)], RFTConfig(max_tokens=512, check_test_sets=False, signature="text"))
    assert st.drops["too_long"] == 1 and st.distinct_paths == 1
    with pytest.raises(ValueError, match="max_chars"):
        RFTConfig(max_chars=0)


def test_study_cells_keep_their_keys_with_the_new_defaults():
    """Old study runs stay "done": the new RFT fields enter a cell key only when changed."""
    from scalemath.experiments.config import StudyConfig
    from scalemath.experiments.grid import _rft_collect

    study = StudyConfig.from_dict({"name": "s"}, "s")
    key = _rft_collect(study, {})
    assert not {"max_chars", "max_tokens", "check_test_sets", "test_sets", "allow_contamination"} & set(key)
    assert _rft_collect(study, {"max_chars": 1000})["max_chars"] == 1000


def test_known_fingerprints_flag_nothing_of_a_random_word_salad():
    rng = np.random.default_rng(0)
    words = ["apple", "river", "stone", "seven", "blue", "market", "runs", "quickly", "under", "bridge"]
    texts = [" ".join(rng.choice(words, 30)) for _ in range(200)]
    d = TrainingDataCheck().decontaminator()
    assert all(x is None for x in d.check_texts(texts))
