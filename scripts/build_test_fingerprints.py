#!/usr/bin/env python3
"""Build src/scalemath/data/test_fingerprints.npz: hashes of the questions of the public test sets
that `scalemath train` and `scalemath rft` check their data against by default.

    .venv/bin/python scripts/build_test_fingerprints.py [--data /work/shared/data]

Reads GSM8K test, MATH test and MATH-500 (the files and licenses listed in the data folder's
README) and stores, per question, only hashes: its id, the test set, a 64-bit key of the
normalized question, its token count, its word 13-gram hashes and its numbers-masked word 3-gram
hashes (methods.decontaminate: the n-gram, exact and near-duplicate tests). No question text is
stored. The output is deterministic: running this again on the same files gives the same arrays.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from scalemath.datasets import load_problems  # noqa: E402
from scalemath.methods.fingerprints import FINGERPRINTS, Fingerprints  # noqa: E402

SETS = [  # (name, file under the data folder, origin, license)
    ("gsm8k", "gsm8k/test.jsonl", "openai/grade-school-math @ 3101c7d5 : grade_school_math/data/test.jsonl", "MIT"),
    (
        "math",
        "math/test.jsonl",
        "MATH (Hendrycks et al.) test via ZubinGou/math-evaluation-harness @ db77bc6b : data/math/test.jsonl",
        "MIT",
    ),
    ("math500", "math/math500_test.jsonl", "MATH-500 (Lightman et al., openai/prm800k math_splits/test.jsonl)", "MIT"),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = os.environ.get("SCALEMATH_SHARED_DATA") or str(ROOT.parent / "shared" / "data")
    ap.add_argument("--data", default=default, help="folder with gsm8k/ and math/ (default %(default)s)")
    ap.add_argument("--out", default=str(FINGERPRINTS))
    a = ap.parse_args()
    data = Path(a.data)
    sets, lines = [], []
    for name, rel, origin, lic in SETS:
        path = data / rel
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        problems = list(load_problems(path))
        sets.append((name, problems))
        lines.append(f"{name}: {len(problems)} questions of {origin} (sha256 {digest}; license {lic})")
    provenance = "; ".join(lines)
    fp = Fingerprints.build(sets, provenance=provenance)
    fp.save(a.out)
    print(f"wrote {a.out} ({Path(a.out).stat().st_size / 1e6:.2f} MB): {fp.counts()}")
    for line in lines:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
