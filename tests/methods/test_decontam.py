"""Decontamination: n-gram overlap and numbers-masked MinHash near-duplicates, with a report."""

import json

import pytest

from scalemath.methods.contamination import load_test_set
from scalemath.methods.decontam_config import DecontamConfig, DecontamReport
from scalemath.methods.decontaminate import Decontaminator, decontaminate
from scalemath.records import Problem, write_jsonl

TEST = [
    Problem(
        id="t1",
        question="Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning "
        "and bakes muffins for her friends every day with four. She sells the remainder "
        "at the farmers' market daily for $2 per fresh duck egg. How much in dollars "
        "does she make every day at the farmers' market?",
    ),
    Problem(
        id="t2",
        question="A robe takes 2 bolts of blue fiber and half that much white fiber. "
        "How many bolts in total does it take?",
    ),
    Problem(id="t3", question="Compute $\\dbinom{8}{4}$."),
]
UNRELATED = [
    "Mark has a garden with flowers of different colors. There are ten of them yellow, and "
    "there are 80% more of those in purple. How many flowers does Mark have?",
    "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?",
    "Compute $\\dbinom{9}{3}$.",
]


@pytest.fixture(scope="module")
def decon():
    d = Decontaminator()
    d.add_problems(TEST, "gsm8k_test")
    return d


def test_number_swapped_paraphrase_is_caught(decon):
    para = TEST[0].question.replace("16", "23").replace("three", "five").replace("four", "six").replace("$2", "$3")
    hit = decon.check({"question": para})
    assert hit is not None and hit.test_id == "t1" and hit.test_source == "gsm8k_test"
    short = (
        "A robe takes 7 bolts of blue fiber and a third of that much white fiber. How many bolts in total does it take?"
    )
    hit = decon.check({"question": short})
    assert hit is not None and hit.test_id == "t2" and hit.reason == "minhash"


def test_clause_reordered_paraphrase_is_caught(decon):
    s = TEST[0].question.split(". ")
    reordered = ". ".join([s[2], s[0], s[1]]) + ". " + s[3]
    hit = decon.check({"question": reordered})
    assert hit is not None and hit.test_id == "t1"
    moved = "How many bolts in total does it take? A robe takes 5 bolts of blue fiber and half that much white fiber."
    hit = decon.check({"question": moved})
    assert hit is not None and hit.test_id == "t2"
    # a real rewording (not reordering) of a short question is beyond both detectors
    reworded = (
        "Half as much white fiber as blue fiber is needed for a robe, which takes 2 bolts of blue "
        "fiber. How many bolts in total does it take?"
    )
    assert decon.check({"question": reworded}) is None


def test_ngram_overlap_in_a_completion(decon):
    rec = {
        "question": "What is 2+2?",
        "completion": "Restating: she eats three for breakfast every morning "
        "and bakes muffins for her friends every day with four eggs.",
    }
    hit = decon.check(rec)
    assert hit.reason == "ngram" and hit.field == "completion" and hit.test_id == "t1"
    assert hit.evidence.startswith("she eats three for breakfast")


def test_unrelated_and_short_texts(decon):
    for q in UNRELATED:
        assert decon.check({"question": q}) is None, q
    # short texts are compared exactly (numbers kept), never masked
    hit = decon.check({"question": "Compute  $\\dbinom{8}{4}$ ."})
    assert hit.reason == "exact" and hit.test_id == "t3"


def test_boilerplate_ngrams_are_ignored():
    common = "how many apples does she have left at the end of the day after all of that"
    d = Decontaminator(DecontamConfig(max_ngram_docs=2, minhash=False))
    for k, name in enumerate(["Ann", "Bob", "Cid"]):
        d.add(f"t{k}", f"{name} picks {k + 3} apples on {['Monday', 'Friday', 'Sunday'][k]}. {common}?")
    assert d.check({"question": f"Zed eats pears daily. {common}?"}) is None
    d2 = Decontaminator(DecontamConfig(max_ngram_docs=10, minhash=False))
    d2.add("t0", f"Ann picks 3 apples. {common}?")
    assert d2.check({"question": f"Zed eats pears daily. {common}?"}).reason == "ngram"


def test_stream_and_report(decon, tmp_path):
    para = TEST[1].question.replace("2 bolts", "9 bolts")
    recs = [
        {"id": "a", "question": UNRELATED[0]},
        {"id": "b", "question": para},
        {"problem_id": "p", "sample_index": 2, "question": TEST[0].question},
    ]
    report = DecontamReport()
    kept = list(decontaminate(recs, decon, report))
    assert [r["id"] for r in kept] == ["a"]
    assert report.checked == 3 and report.removed == 2 and report.kept == 1
    assert report.by_test_source == {"gsm8k_test": 2}
    ids = [(x["id"], x["test_id"]) for x in report.removed_items]
    assert ids == [("b", "t2"), ("p#2", "t1")]
    report.write(tmp_path / "r.json")
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["removed"] == 2 and d["references"] == {"gsm8k_test": 3} and d["config"]["ngram"] == 13
    assert {x["reason"] for x in d["removed_items"]} <= {"ngram", "minhash", "exact"}


def test_load_test_set(tmp_path):
    f = tmp_path / "mytest.jsonl"
    write_jsonl(f, [{"question": "Q one?", "answer": "x #### 1"}])
    name, probs = load_test_set(str(f))
    assert name == str(f) and probs[0].question == "Q one?"
    with pytest.raises(FileNotFoundError, match="gsm8k"):
        load_test_set("gsm8k", data_dir=tmp_path)


def test_config_validation():
    with pytest.raises(ValueError):
        DecontamConfig(threshold=0)
    with pytest.raises(ValueError):
        DecontamConfig(shingle=0)


def test_a_removed_record_is_counted_once_with_its_reason_and_source():
    from scalemath.methods.decontam_config import Contamination, DecontamReport

    found = Contamination(reason="exact", field="question", test_id="t7", test_source="gsm8k", score=1.0, evidence="q")
    report = DecontamReport(checked=1)
    report.add_removed({"id": "a1", "question": "q" * 400}, found)
    assert (report.removed, report.kept) == (1, 0)
    assert report.by_reason["exact"] == report.by_test_source["gsm8k"] == 1
    (item,) = report.removed_items
    assert item["id"] == "a1" and len(item["question"]) == 300 and item["reason"] == "exact"
