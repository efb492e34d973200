"""RFT collection: paper semantics, farthest tie-break, pooling stats, formats, workers, errors."""

from __future__ import annotations

import random
import re

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalemath.answers.calculator import check_annotation
from scalemath.answers.paths import equations_signature as equation_signature
from scalemath.methods.rft import (
    RFTCollector,
    RFTConfig,
    collect,
    collect_files,
    paper_answer,
    to_legacy,
)
from scalemath.records import Problem, RecordError, Sample

GOLD = "Half is 48/2 = <<48/2=24>>24.\nAll is 48+24 = <<48+24=72>>72.\n#### 72"
Q = "Natalia sold 48 clips in April and half as many in May. How many in all?"


def lev(a: str, b: str) -> int:
    """Plain dynamic-programming edit distance (independent of rapidfuzz)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def paper_reference(samples: list[dict]) -> dict[str, list[str]]:
    """The paper's collection loop written out naively (per question, input order)."""
    ans_re = re.compile(r"#### (\-?[0-9\.\,]+)")

    def extract(t):
        t = t.split("\x00", 1)[0]
        m = ans_re.search(t)
        if not m:
            return None
        try:
            return float(m.group(1).strip().replace(",", ""))
        except ValueError:
            return None

    kept: dict[str, list[str]] = {}
    sigs: dict[str, list[str]] = {}
    for s in samples:
        q = s["question"]
        kept.setdefault(q, [])
        sigs.setdefault(q, [])
        v, g = extract(s["completion"]), extract(s["answer"])
        if v is None or v != g:
            continue
        matches = re.findall(r"<<([^>]*)>>", s["completion"])
        if not all(check_annotation(m) for m in matches):
            continue
        sig = "|".join(matches).replace(" ", "")
        if sig not in sigs[q]:
            kept[q].append(s["completion"])
            sigs[q].append(sig)
            continue
        i = sigs[q].index(sig)
        now = kept[q][i]
        refs = [r for r in kept[q] if r != now]
        if sum(lev(s["completion"], r) for r in refs) > sum(lev(now, r) for r in refs):
            kept[q][i] = s["completion"]
    return kept


def sample(completion: str, question: str = Q, answer: str = GOLD, **kw) -> dict:
    return {"question": question, "answer": answer, "completion": completion, **kw}


def sampled_texts(records: list[dict]) -> list[str]:
    return [r["solution"] for r in records if r["meta"]["origin"] == "sampled"]


# -- grading and filtering as the paper does


def test_paper_answer():
    assert paper_answer("so #### 72") == 72.0
    assert paper_answer("#### 1,000.5") == 1000.5
    assert paper_answer("#### -3") == -3.0
    assert paper_answer("#### 1.2.3") is None
    assert paper_answer("#### x 5 #### 5") == 5.0  # the first *matching* '#### number'
    assert paper_answer("#### 5\x00#### 6") == 5.0
    assert paper_answer("junk\x00#### 6") is None  # text cut at the first NUL
    assert paper_answer("no answer") is None


def test_correct_consistent_distinct_kept_in_order():
    samples = [
        sample("48/2 = <<48/2=24>>24. 48+24 = <<48+24=72>>72.\n#### 72"),  # new
        sample("48/2 = <<48/2=24>>24. 48+24 = <<48+24=70>>72.\n#### 72"),  # bad annotation
        sample("48/2 = <<48/2=24>>24. 48+24 = <<48+24=72>>72.\n#### 73"),  # wrong answer
        sample("48/2 = <<48/2=24>>24. nothing more"),  # no answer
        sample("<<24 + 48 = 72>> and <<48 / 2=24>>\n#### 72"),  # new signature
        sample("48 /2=<<48/2=24>>24 then <<48+24=72>>\n#### 72.0"),  # same sig, 72.0 == 72
    ]
    records, stats = collect(samples, RFTConfig.paper())
    assert [r["meta"]["origin"] for r in records] == ["original", "sampled", "sampled"]
    assert records[0]["solution"] == GOLD and records[0]["answer"] == "72"
    assert stats.drops["bad_annotation"] == 1 and stats.drops["answer_mismatch"] == 1
    assert stats.drops["no_answer"] == 1
    assert stats.correct == 4 and stats.kept_candidates == 3 and stats.distinct_paths == 2
    assert records[2]["meta"]["signature"] == "24+48=72|48/2=24"
    assert sampled_texts(records) == paper_reference(samples)[Q]


def test_signature_removes_spaces_keeps_order():
    assert equation_signature("a <<48 / 2 = 24>> b <<1+1=2>>") == "48/2=24|1+1=2"
    assert equation_signature("<<1+1=2>> <<48/2=24>>") != equation_signature("<<48/2=24>> <<1+1=2>>")
    assert equation_signature("no annotations") == ""


def test_path_without_annotations_is_kept_once():
    records, stats = collect([sample("It is 72.\n#### 72"), sample("Answer: 72\n#### 72")], RFTConfig.paper())
    assert stats.distinct_paths == 1


def test_paths_without_annotations_fall_back_to_their_equations():
    """An instruct model writes no <<...>>: by default its distinct inline computations are
    distinct paths (the paper's key gives every such path "", so at most one survived)."""
    texts = [
        "Half of 48 is 48 / 2 = 24, so 48 + 24 = 72 in all.\nThe answer is 72.",
        "She sold 48 + 48 / 2 = 72 clips.\nThe answer is 72.",
        "Half of 48 is 48/2 = 24, so 48+24 = 72 in all. The answer is 72.",  # same steps as the first
    ]
    records, stats = collect([sample(t) for t in texts])
    assert stats.correct == 3 and stats.distinct_paths == 2
    assert records[1]["meta"]["signature"] == "48/2=24|24+48=72"
    _, paper = collect([sample(t) for t in texts], RFTConfig.paper())
    assert paper.correct == 0 and paper.drops["no_answer"] == 3


# -- farthest tie-break

B = "<<48+24=72>> and <<48/2=24>>\n#### 72"  # the other kept path (signature B)
A1 = "<<48/2=24>> then <<48+24=72>>\n#### 72"  # signature A, first seen
A_FAR = A1 + " " + "z" * 30  # signature A, much farther from B


def test_farthest_replacement_happens_and_not_otherwise():
    assert lev(A_FAR, B) > lev(A1, B)
    records, stats = collect([sample(A1), sample(B), sample(A_FAR)])
    assert sampled_texts(records) == [A_FAR, B]  # replaced in place: A keeps its position
    assert stats.replacements == 1
    # a later path nearer to B than the kept one does not replace it
    assert lev(A1, B) < lev(A_FAR, B)
    records, stats = collect([sample(A1), sample(B), sample(A_FAR), sample(A1)])
    assert sampled_texts(records) == [A_FAR, B] and stats.replacements == 1
    # first-seen tie-break never replaces
    records, stats = collect([sample(A1), sample(B), sample(A_FAR)], tie_break="first")
    assert sampled_texts(records) == [A1, B] and stats.replacements == 0


def test_equal_score_does_not_replace():
    a_q = "<<48/2=24>> then <<48+24=72>>\n#### 72 q"
    a_w = "<<48/2=24>> then <<48+24=72>>\n#### 72 w"  # neither 'q' nor 'w' occurs in B
    assert lev(a_q, B) == lev(a_w, B)
    records, stats = collect([sample(a_q), sample(B), sample(a_w)])
    assert sampled_texts(records) == [a_q, B] and stats.replacements == 0
    assert stats.drops["duplicate"] == 1


def test_lone_path_is_never_replaced():
    records, stats = collect([sample(A1), sample(A_FAR), sample(A1 + " more words")])
    assert sampled_texts(records) == [A1] and stats.replacements == 0


def test_scores_use_only_the_other_kept_paths():
    # three signatures; the A-candidate is far from B but near C: sums decide, not one distance
    c = "<<2*24=48>> <<48/2=24>> <<48+24=72>>\n#### 72"
    cand = A1 + " " + "y" * 12
    samples = [sample(A1), sample(B), sample(c), sample(cand)]
    assert sampled_texts(collect(samples)[0]) == paper_reference(samples)[Q]


_words = ["<<48/2=24>>", "<<48+24=72>>", "<<24+48=72>>", "<<48/2=25>>", "so", "then", "x", "zz", " ", "\n"]


@st.composite
def _samples(draw):
    out = []
    for _ in range(draw(st.integers(1, 40))):
        q = draw(st.sampled_from(["q1", "q2", "q3"]))
        body = "".join(draw(st.lists(st.sampled_from(_words), max_size=8)))
        tail = draw(st.sampled_from(["\n#### 72", "\n#### 72", "\n#### 71", "", "\n#### 7,2"]))
        out.append(
            {
                "question": q,
                "answer": "#### 72",
                "completion": body + tail,
                "model": draw(st.sampled_from(["m1", "m2"])),
                "seed": len(out),
            }
        )
    return out


@settings(max_examples=150, deadline=None)
@given(_samples())
def test_matches_naive_paper_loop(samples):
    records, stats = collect(samples, RFTConfig.paper())
    ref = paper_reference(samples)
    got: dict[str, list[str]] = {}
    for r in records:
        if r["meta"]["origin"] == "sampled":
            got.setdefault(r["question"], []).append(r["solution"])
    assert {q: v for q, v in ref.items() if v} == got
    assert stats.distinct_paths == sum(len(v) for v in ref.values())


# -- output shapes


def test_records_are_problem_shaped_and_legacy():
    records, _ = collect([sample(A1, model="m", seed=3), sample(B, model="m", seed=4)])
    r = records[1]
    assert set(r) == {"id", "question", "solution", "answer", "source", "split", "meta"}
    assert r["source"] == "rft" and r["split"] == "train" and r["id"].startswith(records[0]["id"])
    assert r["meta"] == {"origin": "sampled", "model": "m", "seed": 3, "signature": equation_signature(A1)}
    assert [to_legacy(x) for x in records] == [
        {"query": Q, "response": GOLD},
        {"query": Q, "response": A1},
        {"query": Q, "response": B},
    ]


def test_bare_reference_answer_gives_no_original():
    records, stats = collect([sample(A1, answer="72"), sample(A1, answer="72")])
    assert [r["meta"]["origin"] for r in records] == ["sampled"] and stats.originals == 0
    records, _ = collect([sample(A1)], RFTConfig(include_original=False))
    assert [r["meta"]["origin"] for r in records] == ["sampled"]


def test_samples_as_dataclasses():
    s = Sample(problem_id="p1", question=Q, answer=GOLD, completion=A1, model="m", seed=0)
    records, _ = collect([s])
    assert records[0]["id"] == "p1" and records[1]["id"] == "p1/rft1"


def test_problems_fix_reference_and_order():
    problems = [
        Problem(id="a", question="qa", solution="x <<1+1=2>>\n#### 2"),
        {"id": "b", "question": "qb", "answer": "y <<2+2=4>>\n#### 4"},
        {"id": "c", "question": "qc", "solution": "#### 9"},
    ]
    samples = [
        {"question": "qb", "completion": "<<2*2=4>>\n#### 4"},
        {"question": "qa", "completion": "<<2*1=2>>\n#### 2"},
    ]
    records, stats = collect(samples, problems=problems)
    assert [r["id"] for r in records] == ["a", "a/rft1", "b", "b/rft1", "c"]
    assert stats.questions == 3 and stats.originals == 3
    with pytest.raises(ValueError, match="not in problems"):
        collect([{"question": "qz", "completion": "#### 1"}], problems=problems)


# -- pooling several sources


def test_pooling_stats_per_source():
    p1 = "<<48/2=24>> <<48+24=72>>\n#### 72"
    p2 = "<<48+24=72>> <<48/2=24>>\n#### 72"
    p3 = "<<2*24=48>> <<48/2=24>> <<48+24=72>>\n#### 72"
    samples = [
        sample(p1, model="small"),
        sample(p2, model="small"),
        sample("#### 5", model="small"),
        sample(p1 + " again", model="big"),
        sample(p3, model="big"),
        sample(p3.replace("=72>>", "=71>>"), model="big"),
    ]
    _, stats = collect(samples)
    small, big = stats.per_source["small"], stats.per_source["big"]
    assert (small.samples, small.correct, small.annotation_rejected) == (3, 2, 0)
    assert (big.samples, big.correct, big.annotation_rejected) == (3, 3, 1)
    # p1's signature was found by both sources; p2 only by small, p3 only by big
    assert small.only_here == 1 and big.only_here == 1
    assert stats.distinct_paths == 3 and small.kept + big.kept == 3
    d = stats.to_dict()
    assert list(d["per_source"]) == ["small", "big"]
    assert d["distinct_per_question"]["mean"] == 3


# -- files: errors, pooling order, workers


def _write(path, rows):
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return str(path)


def test_malformed_line_names_file_and_line(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text(orjson.dumps(sample(A1)).decode() + "\n\n" + '{"question": "q", "answer": "#### 1",\n')
    with pytest.raises(RecordError, match=r"s\.jsonl:3"):
        collect_files([str(p)], RFTConfig())
    p.write_text(orjson.dumps(sample(A1)).decode() + "\n" + '{"question": "q", "answer": "#### 1"}\n')
    with pytest.raises(RecordError, match=r"s\.jsonl:2: missing field\(s\) \['completion'\]"):
        collect_files([str(p)], RFTConfig())
    p.write_text('{"question": "q", "answer": 5, "completion": "x"}\n')
    with pytest.raises(RecordError, match=r"s\.jsonl:1: .*must be strings"):
        collect_files([str(p)], RFTConfig())
    p.write_text("[1, 2]\n")
    for w in (1, 2):
        with pytest.raises(RecordError, match=r"s\.jsonl:1"):
            collect_files([str(p)], RFTConfig(workers=w))


def test_unknown_question_with_problems_file(tmp_path):
    probs = _write(tmp_path / "train.jsonl", [{"question": Q, "answer": GOLD}])
    s = _write(tmp_path / "s.jsonl", [sample(A1), sample(A1, question="other")])
    with pytest.raises(RecordError, match=r"s\.jsonl:2: question not in the problems file"):
        collect_files([s], RFTConfig(), probs)
    ok = _write(tmp_path / "ok.jsonl", [{"question": Q, "completion": A1}])
    records, _ = collect_files([ok], RFTConfig(), probs)
    assert [r["solution"] for r in records] == [GOLD, A1]


def _pool(rng: random.Random, n_questions: int, k: int, model: str) -> list[dict]:
    rows = []
    for qi in range(n_questions):
        a, b = rng.randint(2, 40), rng.randint(2, 40)
        gold = f"{a}+{b} = <<{a}+{b}={a + b}>>{a + b}. Twice: <<2*{a + b}={2 * (a + b)}>>\n#### {2 * (a + b)}"
        for seed in range(k):
            ops = [f"<<{a}+{b}={a + b}>>", f"<<{b}+{a}={a + b}>>"]
            first = rng.choice(ops)
            wrong = rng.random() < 0.2
            last = f"<<2*{a + b}={2 * (a + b) + (1 if wrong else 0)}>>"
            text = (
                rng.choice(["", "So ", "Thus "])
                + f"{a} and {b}: {first}"
                + rng.choice([" ok", "", "!"])
                + f" {last}\n#### {2 * (a + b) + rng.choice([0, 0, 0, 3])}"
            )
            rows.append(
                {
                    "question": f'Q{qi}: {a} plus {b}, doubled? \u00e9\\"',
                    "answer": gold,
                    "completion": text,
                    "model": model,
                    "seed": seed,
                }
            )
    return rows


def test_same_output_with_one_or_two_workers(tmp_path):
    rng = random.Random(0)
    grouped = _pool(rng, 40, 12, "m1")
    shuffled = _pool(rng, 40, 12, "m2")
    rng.shuffle(shuffled)  # questions interleaved
    f1 = _write(tmp_path / "a.jsonl", grouped)
    # other key order and escapes: routed by a full decode
    f2 = tmp_path / "b.jsonl"
    f2.write_bytes(
        b"".join(
            orjson.dumps(
                {"completion": r["completion"], "question": r["question"], "answer": r["answer"], "model": r["model"]}
            )
            + b"\n"
            for r in shuffled
        )
    )
    f3 = tmp_path / "c.jsonl"  # ASCII-escaped copy of the first file
    f3.write_text("".join(__import__("json").dumps({**r, "model": "m3"}) + "\n" for r in grouped[:200]))
    outs = []
    for w in (1, 2, 3):
        records, stats = collect_files([f1, str(f2), str(f3)], RFTConfig(workers=w))
        d = stats.to_dict()
        for k in ("seconds", "workers", "examples", "sharding"):
            d.pop(k)
        outs.append((records, d))
    assert outs[0] == outs[1] == outs[2]
    records, stats = outs[0]
    assert stats["distinct_paths"] > 40 and set(stats["per_source"]) == {"m1", "m2", "m3"}
    # and the file run equals the in-memory run over the same samples in the same order
    no_seed = [{k: v for k, v in r.items() if k != "seed"} for r in shuffled]
    mem, _ = collect(grouped + no_seed + [{**r, "model": "m3"} for r in grouped[:200]])
    assert mem == records


def _same(a, b):
    (ra, sa), (rb, sb) = a, b
    assert ra == rb
    da, db = sa.to_dict(), sb.to_dict()
    for d in (da, db):
        for k in ("seconds", "workers", "examples", "sharding"):
            d.pop(k)
    assert da == db


def test_byte_ranges_for_one_grouped_file_and_fallbacks(tmp_path):
    rng = random.Random(1)
    grouped = _pool(rng, 30, 10, "m")
    f = _write(tmp_path / "g.jsonl", grouped)
    one = collect_files([f], RFTConfig(workers=1))
    for w in (2, 3):
        got = collect_files([f], RFTConfig(workers=w))
        assert got[1].sharding == "byte-ranges"
        _same(one, got)
    # not grouped: a question comes back after others -> hash sharding, same result
    shuffled = list(grouped)
    rng.shuffle(shuffled)
    f2 = _write(tmp_path / "s.jsonl", shuffled)
    one, two = collect_files([f2], RFTConfig(workers=1)), collect_files([f2], RFTConfig(workers=2))
    assert two[1].sharding == "hash"
    _same(one, two)
    # grouped inside each half, but the first question also opens the second half
    half = len(grouped) // 2
    split = grouped[:half] + grouped[:10] + grouped[half:]
    f3 = _write(tmp_path / "h.jsonl", split)
    one, two = collect_files([f3], RFTConfig(workers=1)), collect_files([f3], RFTConfig(workers=2))
    assert two[1].sharding == "hash"
    _same(one, two)


def test_byte_ranges_report_absolute_line_and_keep_unsampled_problems(tmp_path):
    rows = _pool(random.Random(2), 20, 10, "m")
    lines = [orjson.dumps(r) for r in rows]
    lines[150] = b'{"question": "broken'
    f = tmp_path / "bad.jsonl"
    f.write_bytes(b"\n".join(lines) + b"\n")
    for w in (1, 2):
        with pytest.raises(RecordError, match=r"bad\.jsonl:151:"):
            collect_files([str(f)], RFTConfig(workers=w))
    probs = _write(
        tmp_path / "p.jsonl",
        [{"question": "never sampled", "answer": "x\n#### 1"}]
        + [{"question": r["question"], "answer": r["answer"]} for r in rows[::10]],
    )
    good = _write(tmp_path / "good.jsonl", rows)
    one = collect_files([good], RFTConfig(workers=1), probs)
    two = collect_files([good], RFTConfig(workers=2), probs)
    assert two[1].sharding == "byte-ranges"
    _same(one, two)
    assert one[0][0]["question"] == "never sampled" and one[1].questions == 21


def test_source_falls_back_to_file_name(tmp_path):
    f = _write(tmp_path / "run7.jsonl", [sample(A1), sample(B)])
    _, stats = collect_files([f], RFTConfig())
    assert list(stats.per_source) == ["run7.jsonl"]


# -- gold solutions as samples: every consistent one is kept


def test_gold_solutions_as_samples():
    golds = [
        ("q1", "a <<2*3=6>>6 b <<6+1=7>>7\n#### 7"),
        ("q2", "costs <<1,000*2=2000>>2000\n#### 2,000"),  # comma: the calculator says no
        ("q3", "no calculator here\n#### 3"),
        ("q4", "<<5/2=2.5>>2.5\n#### 2.5"),
    ]
    samples = [{"question": q, "answer": s, "completion": s} for q, s in golds]
    records, stats = collect(samples)
    kept = sampled_texts(records)
    assert kept == [golds[0][1], golds[2][1], golds[3][1]]
    assert stats.drops["bad_annotation"] == 1
    assert stats.examples["bad_annotation"][0]["failing_annotations"] == ["1,000*2=2000"]


# -- grader mode


def test_grader_mode_uses_project_grader():
    samples = [
        sample("<<48/2=24>> <<48+24=72>>\nThe answer is 72.", answer="72"),
        sample("<<48/2=24>> <<48+24=72>>\n#### 72", answer="72"),
        sample("<<48/2=24>> <<48+24=72>>\n#### 73", answer="72"),
    ]
    records, stats = collect(samples, RFTConfig(grading="grader"))
    assert stats.correct == 2 and stats.distinct_paths == 1
    # the paper's rule only reads '#### number'
    _, paper = collect(samples, RFTConfig.paper())
    assert paper.correct == 1 and paper.drops["no_answer"] == 1
    # by default RFT grades as `scalemath grade` does
    _, default = collect(samples)
    assert default.correct == stats.correct and RFTConfig().grading == "grader"


def test_grader_mode_reads_the_finish_reason_and_question_as_grade_does(tmp_path):
    """A completion cut off by the token limit (meta.finish_reason "length") whose last number
    happens to be the answer is not a correct path: RFT grades it as `scalemath sample`/`grade` do,
    where only an answer given by a marker counts, in memory and from files alike."""
    from scalemath.answers import grade

    cut = "She has 48 clips. Then 48 / 2 = 24 in May, and 48 + 24 = 72"  # stopped mid-chain
    marked = "48 / 2 = 24 and 48 + 24 = 72.\n#### 72"
    rows = [
        sample(cut, answer="72", meta={"finish_reason": "length"}),
        sample(marked, answer="72", meta={"finish_reason": "length"}),
        sample(cut, answer="72", meta={"finish_reason": "stop"}),  # the same text, finished
    ]
    for row in rows:
        want = grade(row["completion"], "72", dataset="gsm8k", finish_reason=row["meta"]["finish_reason"])
        assert want.correct == (row is not rows[0])
    cfg = RFTConfig(grading="grader", dataset="gsm8k", signature="text", include_original=False)
    _, mem = collect(rows, cfg)
    _, files = collect_files([_write(tmp_path / "s.jsonl", rows)], cfg)
    for stats in (mem, files):
        assert stats.correct == 2 and stats.drops["no_answer"] == 1
    # a Sample carries the same field in its meta
    as_samples = [Sample(problem_id="p1", **r) for r in rows]
    assert collect(as_samples, cfg)[1].correct == 2


def test_collector_feed_reports_outcomes():
    col = RFTCollector()
    src = col.source_index("m", (0, 0))
    assert col.feed(Q, GOLD, A1, source=src) == "new"
    assert col.feed(Q, GOLD, B, source=src) == "new"
    assert col.feed(Q, GOLD, A_FAR, source=src) == "kept"
    assert col.feed(Q, GOLD, A1, source=src) == "duplicate"
    assert col.feed(Q, GOLD, "#### 1", source=src) == "answer_mismatch"
    questions, stats = col.finish()
    assert questions[0].texts == [A_FAR, B]


def test_config_validation():
    with pytest.raises(ValueError):
        RFTConfig(tie_break="nearest")
    with pytest.raises(ValueError):
        RFTConfig(workers=0)


@settings(max_examples=10, deadline=None)
@given(_samples(), st.booleans())
def test_property_workers_do_not_change_output(tmp_path_factory, samples, shuffle):
    if shuffle:
        random.Random(len(samples)).shuffle(samples)
    f = _write(tmp_path_factory.mktemp("w") / "s.jsonl", samples)
    one = collect_files([f], RFTConfig(workers=1))
    two = collect_files([f], RFTConfig(workers=2))
    assert one[0] == two[0]
    assert one[1].distinct_paths == two[1].distinct_paths and one[1].drops == two[1].drops


# --- pluggable path signatures (MATH-style data without calculator annotations) -------------


def _math_sample(completion: str) -> dict:
    return {"question": "Solve 2x+3=7.", "answer": "2", "completion": completion}


def test_latex_signature_dedupes_math_paths_that_equations_cannot_tell_apart():
    from scalemath.methods.rft import RFTConfig, collect

    paths = [
        "We have $2x+3=7$, so $2x=4$ and $x=2$. The answer is $\\boxed{2}$.",
        "From $2x + 3 = 7$ we get $2x = 4$, hence $x = 2$. So $\\boxed{2}$.",  # same equations
        "Subtract: $2x=7-3=4$, divide: $x=4/2=2$. $\\boxed{2}$.",  # other equations
    ]
    samples = [_math_sample(p) for p in paths]
    cfg = dict(grading="grader", dataset="math", include_original=False)
    _, eq_stats = collect(samples, RFTConfig(signature="equations", **cfg))
    _, tex_stats = collect(samples, RFTConfig(signature="latex_equations", **cfg))
    assert eq_stats.correct == tex_stats.correct == 3
    assert eq_stats.distinct_paths == 1  # no <<...>>: every path has the empty signature
    assert tex_stats.distinct_paths == 2  # the first two share their equations


def test_minhash_signature_merges_near_duplicate_paths():
    from scalemath.methods.rft import RFTConfig, collect

    base = (
        "Start from the equation two x plus three equals seven. Subtract three from both sides "
        "to get two x equals four. Divide both sides by two to isolate x, which leaves x equal "
        "to two. We check it: two times two is four and four plus three is seven, as required. "
    )
    samples = [
        _math_sample(base + "The answer is $\\boxed{2}$."),
        _math_sample(base + "The answer is $\\boxed{2}$. Done."),  # one word more
        _math_sample("A completely different argument: x equals two because 2*2+3 is 7. The answer is $\\boxed{2}$."),
    ]
    _, stats = collect(
        samples, RFTConfig(signature="minhash", grading="grader", dataset="math", include_original=False)
    )
    assert stats.correct == 3 and stats.distinct_paths == 2


def test_unknown_signature_is_refused():
    import pytest as _pytest

    from scalemath.methods.rft import RFTConfig

    with _pytest.raises(ValueError, match="signature"):
        RFTConfig(signature="nope")
