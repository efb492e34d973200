"""Grade raw model outputs (generate.py's rows) with our grader and with Math-Verify, side by side.

    .venv/bin/python tests/regression/real_outputs/compare_graders.py RAW.jsonl [RAW2.jsonl ...]

Prints one block per row (disagreements first) with both verdicts (ours given the row's finish
reason, Math-Verify the text) and what ours extracted, for the
hand adjudication that makes tests/regression/real_outputs.jsonl (see README.md). Not a test.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_grader import mv_grade

from scalemath.answers import grade


def main() -> None:
    logging.disable(logging.CRITICAL)
    rows = [json.loads(line) for p in sys.argv[1:] for line in open(p, encoding="utf-8") if line.strip()]
    out = []
    for r in rows:
        ds = "gsm8k" if r["source"] == "gsm8k" else "math"
        v = grade(r["completion"], r["reference"], ds, finish_reason=r.get("finish"))
        mv = mv_grade(r["completion"], r["reference"])
        out.append((v.correct != mv, r, v, mv))
    out.sort(key=lambda x: not x[0])
    for k, (dis, r, v, mv) in enumerate(out):
        print(
            f"=== {k} {'DISAGREE' if dis else 'agree'} {r['source']} {r['prompt_style']} {r['question_id']} s{r['sample']} "
            f"{r['finish']} | ours {v.correct} {v.reason} {v.extracted!r} | MV {mv} | ref {r['reference']!r}"
        )
        print(r["completion"][-700:])
    print(f"{sum(x[0] for x in out)} disagreements of {len(out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
