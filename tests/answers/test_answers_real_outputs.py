"""Our grader against hand-adjudicated labels of real model outputs made here.

Rows of tests/regression/real_outputs.jsonl: id, source (gsm8k | math | math500), model (smollm2 |
tiny-base | tiny-sft | tiny-rft), prompt_style (chat | chat_boxed | fewshot for SmolLM2; qa for the
tiny models), sample (0 = greedy), question_id, completion, reference, finish
(stop | length), label (is the completion's final answer right, decided by hand), reason (why), and
optionally known_failure (a written reason when our verdict, graded with the row's finish reason,
knowingly differs from the label; the test then expects the differing verdict) and text_only_failure
(the same for our verdict on the text alone, without the finish reason, where the finish reason
makes it right). How the rows were made: tests/regression/real_outputs/README.md.
"""

import json
from pathlib import Path

import pytest

from scalemath.answers import grade

CORPUS = Path(__file__).resolve().parents[1] / "regression" / "real_outputs.jsonl"
ROWS = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_real_corpus_is_well_formed():
    ids = [r["id"] for r in ROWS]
    assert len(ids) == len(set(ids)) and len(ROWS) >= 300
    for r in ROWS:
        assert r["source"] in ("gsm8k", "math", "math500")
        assert r["prompt_style"] in (("qa",) if r["model"].startswith("tiny-") else ("chat", "chat_boxed", "fewshot"))
        assert isinstance(r["label"], bool) and r["reason"].strip() and r["reference"]
        assert isinstance(r["completion"], str)  # "" is a real output too (a few-shot model that stopped at once)
        assert "question" not in r  # the corpus keeps no dataset text but the reference answer
    assert {r["prompt_style"] for r in ROWS} == {"chat", "chat_boxed", "fewshot", "qa"}
    # right and wrong answers (a 135M model is rarely right: see README.md), from every source
    assert sum(r["label"] for r in ROWS) >= 5 and sum(not r["label"] for r in ROWS) >= 30
    assert {r["source"] for r in ROWS} == {"gsm8k", "math", "math500"}


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_real_output(row):
    ds = "gsm8k" if row["source"] == "gsm8k" else "math"
    v = grade(row["completion"], row["reference"], ds, finish_reason=row["finish"])
    expected = row["label"] if "known_failure" not in row else not row["label"]
    assert v.correct is expected, f"{row['reason']}: {v}"


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_real_output_text_alone(row):
    # the same without the finish reason: rows with known_failure or text_only_failure are ones our
    # grader gets wrong from the text alone (the reason says why)
    v = grade(row["completion"], row["reference"], "gsm8k" if row["source"] == "gsm8k" else "math")
    wrong = "known_failure" in row or "text_only_failure" in row
    expected = row["label"] if not wrong else not row["label"]
    assert v.correct is expected, f"{row['reason']}: {v}"
