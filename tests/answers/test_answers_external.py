"""Other graders' public test cases (tests/regression/external/*.jsonl, see its README), as regression tests.

Each row carries the source's verdict (`expected`); where we hold the source's label to be wrong,
`verdict` is ours and `dispute` says why; where we knowingly differ from a label we keep,
`known_failure` says why (the test then expects our differing verdict). The source test's options
that change the verdict map to our policy switches (`policy_options`).
"""

import json
from pathlib import Path

import pytest

from scalemath.answers import grade

HERE = Path(__file__).resolve().parents[1] / "regression" / "external"
SUITES = sorted(p for p in HERE.glob("*.jsonl") if p.name != "labels.jsonl")
ROWS = [json.loads(line) for p in SUITES for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


def policy_options(options: dict) -> dict:
    """Our policy switches for a source test's options (extraction configs have no counterpart)."""
    pol = {}
    if "precision" in options:
        pol["decimal_places"] = options["precision"]
    if "allow_set_relation_comp" in options:
        pol["relation_as_set"] = options["allow_set_relation_comp"]
    if "strict" in options:
        pol["rename_variables"] = not options["strict"]
    if options.get("compare_sets"):
        pol["lists"] = "sets"
    return pol


def label(row) -> bool:
    return row.get("verdict", row["expected"])


def test_suites_are_well_formed():
    assert len(SUITES) >= 6 and len(ROWS) >= 500
    ids = [r["id"] for r in ROWS]
    assert len(ids) == len(set(ids))
    for r in ROWS:
        assert r["source"].count(" @ ") == 1 and r["license"] in ("MIT", "Apache-2.0"), r["id"]
        assert isinstance(label(r), bool), f"{r['id']}: no verdict (the source gives none: labels.jsonl must)"
        assert ("verdict" in r) == ("dispute" in r), r["id"]
        assert not ("verdict" in r and "known_failure" in r), r["id"]
    labels = [json.loads(x) for x in (HERE / "labels.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    by_id = {r["id"]: r for r in ROWS}
    for lab in labels:  # every written reason still names the case it was written for
        row = by_id[lab["id"]]
        assert (row["prediction"], row["reference"]) == (lab["prediction"], lab["reference"]), lab["id"]


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_external_case(row):
    v = grade(row["prediction"], row["reference"], **policy_options(row["options"]))
    want = label(row) if "known_failure" not in row else not label(row)
    assert v.correct is want, f"{row['source']}: {v}"
