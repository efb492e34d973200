"""Our grader against hand-adjudicated labels of real model outputs made here (issue 26).

Rows of tests/regression/real_outputs.jsonl: id, source (gsm8k | math500), model, prompt_style
(chat | chat_boxed | fewshot), sample (0 = greedy), question_id, completion, reference, finish
(stop | length), label (is the completion's final answer right, decided by hand), reason (why), and
optionally known_failure (a written reason when our verdict knowingly differs from the label; the test
then expects the differing verdict). How the rows were made: tests/regression/real_outputs/README.md.
"""

import json
from pathlib import Path

import pytest

from scalemath.answers import grade

CORPUS = Path(__file__).parent / "regression" / "real_outputs.jsonl"
ROWS = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_real_corpus_is_well_formed():
    ids = [r["id"] for r in ROWS]
    assert len(ids) == len(set(ids)) and len(ROWS) >= 40
    for r in ROWS:
        assert r["source"] in ("gsm8k", "math500") and r["prompt_style"] in ("chat", "chat_boxed", "fewshot")
        assert isinstance(r["label"], bool) and r["reason"].strip() and r["reference"]
        assert isinstance(r["completion"], str)  # "" is a real output too (a few-shot model that stopped at once)
    assert {r["prompt_style"] for r in ROWS} == {"chat", "chat_boxed", "fewshot"}


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_real_output(row):
    v = grade(row["completion"], row["reference"], "gsm8k" if row["source"] == "gsm8k" else "math")
    expected = row["label"] if "known_failure" not in row else not row["label"]
    assert v.correct is expected, f"{row['reason']}: {v}"
