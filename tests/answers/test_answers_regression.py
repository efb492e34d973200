"""The labelled regression corpus: every tricky case found so far, with its expected verdict.

Rows (tests/regression/answers_corpus.jsonl): id, prediction, reference, dataset, expected (bool),
reason (expected Verdict.reason), note (why the case is tricky), and optionally options (keyword
arguments of `grade`: the row holds under that policy switch, see docs/grading.md) and known_failure (a
written reason when our verdict is knowingly wrong; the test then expects the wrong verdict).
"""

import json
from pathlib import Path

import pytest

from scalemath.answers import REASONS, grade

CORPUS = Path(__file__).resolve().parents[1] / "regression" / "answers_corpus.jsonl"
ROWS = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_corpus_is_well_formed():
    ids = [r["id"] for r in ROWS]
    assert len(ids) == len(set(ids)) and len(ROWS) >= 200
    for r in ROWS:
        assert r["dataset"] in ("auto", "gsm8k", "math") and r["reason"] in REASONS and r["note"]
        assert isinstance(r["expected"], bool) and r["expected"] == (r["reason"] == "match")


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_corpus_row(row):
    v = grade(row["prediction"], row["reference"], row["dataset"], **row.get("options", {}))
    expected = row["expected"] if "known_failure" not in row else not row["expected"]
    assert v.correct is expected, f"{row['note']}: {v}"
    if "known_failure" not in row:
        assert v.reason == row["reason"], f"{row['note']}: {v}"
