"""Answer grader vs Math-Verify 0.9.0, side by side in one run: errors per suite and throughput.

    .venv/bin/python benchmarks/bench_grader.py [--workers 2] [--repeats 3] [--skip-gold] [--mv-cases N]

Prints:
1. [corpus] our labelled regression corpus (tests/regression/answers_corpus.jsonl): our errors and
   Math-Verify's, and every case where Math-Verify is right and we are wrong (with its written reason);
1b. [real] real model outputs made here (tests/regression/real_outputs.jsonl, labelled by hand): per
   source (model/dataset) and per prompt style, our errors (graded with each row's finish reason and
   its question's text from the public data when present, and from the text alone) and Math-Verify's against the labels, and every case where Math-Verify is
   right and we are wrong (with its written reason);
2. [external] every public suite under tests/regression/external/ (other graders' test cases, see its
   README): per suite, our errors and Math-Verify's on the same cases with the same options, against
   the adjudicated labels and against the source's raw labels, Math-Verify also as the source test
   calls it (its own extraction config), and every case where we are wrong and Math-Verify right,
   with its written reason (or NO WRITTEN REASON);
3. [MATH test] / [MATH-500] gold solutions against their own answers (all should be correct);
4. [cli:mixed] `scalemath grade` over a 10,000-line mixed GSM8K + MATH file built deterministically from the
   public data (benchmarks/grader_workload.py: gold solutions, Minerva endings, reformatted answers,
   chat debris, half of them wrong), with 1 and with --workers processes (best of --repeats), against
   Math-Verify graded over the same pairs with the same number of processes; start-up excluded on
   both sides (ours: the CLI's own grading time, which includes starting its pool; Math-Verify: its
   pool is started and warmed first), and the CLI's start-up stated;
4b. [cli:long] the same over ~9,000 long chains of thought (grader_workload.long_records: the mixed
   shapes behind a model-like preamble and the problem statement, mean >= 800 characters, mostly
   MATH with its LaTeX answers); `--only cli-long` runs this one alone;
5. [gsm8k numeric] the bare-number rate on one core.

Sections 3-4 need the public data in ../shared/data (relative to the repo root) or
$SCALEMATH_SHARED_DATA; without it they are skipped with a message (exit status 0). Figures taken on a
shared machine are noisy: the ratios are measured in the same run, absolute rates are not comparable
across runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests" / "answers"))

from scalemath.answers import grade  # noqa: E402
from scalemath.answers.boxes import last_boxed  # noqa: E402


def data_dir() -> Path | None:
    env = os.environ.get("SCALEMATH_SHARED_DATA")
    d = Path(env) if env else ROOT.parent / "shared" / "data"
    return d if d.is_dir() else None


def load_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# -- Math-Verify --------------------------------------------------------------------------------------
_ENV = re.compile(r"\$.*\$|\\\(.*\\\)|\\\[.*\\\]|\\boxed\{", re.DOTALL)


def mv_grade(
    pred: str, ref: str, wrap: str = "ref", verify_kw: dict | None = None, match_types: list[str] | None = None
) -> bool:
    """Math-Verify's verdict, called the way its README shows: parse both texts, then
    verify(gold, pred). `wrap`: "ref" puts a reference without a LaTeX environment in $...$ (a bare
    gold answer, as in its README); "both" does so for the prediction too (suites of bare answers,
    as NeMo-Skills calls it); "none" passes both as given (Math-Verify's and lighteval's own test
    cases, written for parse()). `match_types` uses a source test's extraction config instead of
    the default one. A crash counts as "not equal", as in Math-Verify."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    try:
        if wrap != "none" and not _ENV.search(ref) and "####" not in ref:
            ref = f"${ref}$"
        if wrap == "both" and not _ENV.search(pred):
            pred = f"${pred}$"
        if match_types is None:
            gold, target = parse(ref), parse(pred)
        else:
            cfg = [
                LatexExtractionConfig(boxed_match_priority=0) if m == "latex" else ExprExtractionConfig()
                for m in match_types
            ]
            gold, target = parse(ref, cfg), parse(pred, cfg)
        return bool(verify(gold, target, **(verify_kw or {})))
    except Exception:
        return False


def _mv_chunk(pairs):
    logging.disable(logging.CRITICAL)
    return [mv_grade(p, r) for p, r in pairs]


def _mv_warm(_):
    logging.disable(logging.CRITICAL)
    return mv_grade("\\boxed{1}", "1")


# -- 1. corpus ----------------------------------------------------------------------------------------
def corpus_section() -> None:
    rows = load_jsonl(ROOT / "tests" / "regression" / "answers_corpus.jsonl")
    ours_ok = mv_ok = 0
    mv_only, ours_only = [], []
    for r in rows:
        opts = r.get("options", {})
        v = grade(r["prediction"], r["reference"], r.get("dataset", "auto"), **opts)
        ours = v.correct == r["expected"]
        mv = mv_grade(r["prediction"], r["reference"], verify_kw=_mv_options(opts)) == r["expected"]
        ours_ok += ours
        mv_ok += mv
        if mv and not ours:
            mv_only.append(r)
        elif ours and not mv:
            ours_only.append(r)
    n = len(rows)
    print(f"\n[corpus] {n} labelled cases (ours): ours {n - ours_ok} wrong, Math-Verify {n - mv_ok} wrong")
    print(f"  Math-Verify right, ours wrong: {len(mv_only)}")
    for r in mv_only:
        why = r.get("known_failure") or "NO WRITTEN REASON"
        print(f"    {r['id']}: {r['prediction'][:50]!r} vs {r['reference'][:40]!r} -- {why}")


def _mv_options(opts: dict) -> dict:
    """Math-Verify's verify() arguments for our policy options that it has a counterpart for."""
    kw = {}
    if "decimal_places" in opts:
        kw["float_rounding"] = opts["decimal_places"]
    if "relation_as_set" in opts:
        kw["allow_set_relation_comp"] = opts["relation_as_set"]
    if "rename_variables" in opts:
        kw["strict"] = not opts["rename_variables"]
    return kw


# -- 1b. real model outputs made here ------------------------------------------------------------------
def real_questions() -> dict[str, str]:
    """question_id -> the question's text, from the public data (the corpus keeps no question text;
    its ids say where each question is: tests/regression/real_outputs/README.md); empty without it."""
    d = data_dir()
    if d is None:
        return {}
    out: dict[str, str] = {}
    for i, r in enumerate(load_jsonl(d / "gsm8k" / "test.jsonl")):
        out[f"gsm8k-test-{i}"] = r["question"]
    for i, r in enumerate(load_jsonl(d / "math" / "test.jsonl")):
        out[f"math-test-{i}"] = r["problem"]
    for r in load_jsonl(d / "math" / "math500_test.jsonl"):
        out[f"math500-{r['unique_id']}"] = r["problem"]
    return out


def real_section() -> None:
    path = ROOT / "tests" / "regression" / "real_outputs.jsonl"
    if not path.exists():
        print(f"\n[real] {path.relative_to(ROOT)} not found: skipped")
        return
    rows = load_jsonl(path)
    by_source: dict[str, list[dict]] = {}
    by_style: dict[str, list[dict]] = {}
    for r in rows:
        by_source.setdefault(f"{r['model']}/{r['source']}", []).append(r)
        by_style.setdefault(f"{r['model']}/{r['prompt_style']}", []).append(r)
    questions = real_questions()
    print(
        "\n[real] model outputs made here, labelled by hand (tests/regression/real_outputs.jsonl); "
        "errors = verdicts that differ from the label; ours = grade(..., question=the question's text, "
        "finish_reason=the row's finish), as `scalemath sample` grades; text = ours given the text alone "
        "(Math-Verify is given the text alone: it has no such input)"
    )
    found = sum(r["question_id"] in questions for r in rows)
    print(f"  question texts found in the public data for {found} of {len(rows)} rows")
    print(f"  {'source':<22} {'cases':>5} {'right':>5} | {'ours':>4} {'text':>4} {'MV':>4}")
    listed = []
    tot = [0, 0, 0, 0, 0]
    verdicts = {}
    for source, group in sorted(by_source.items()):
        e_ours = e_text = e_mv = 0
        for r in group:
            ds = "gsm8k" if r["source"] == "gsm8k" else "math"
            q = questions.get(r["question_id"])
            ours = grade(r["completion"], r["reference"], ds, question=q, finish_reason=r.get("finish")).correct
            text = grade(r["completion"], r["reference"], ds).correct
            mv = mv_grade(r["completion"], r["reference"])
            verdicts[r["id"]] = (ours, text, mv)
            e_ours += ours != r["label"]
            e_text += text != r["label"]
            e_mv += mv != r["label"]
            if ours != r["label"] and mv == r["label"]:
                listed.append((r, r.get("known_failure") or "NO WRITTEN REASON"))
        right = sum(r["label"] for r in group)
        tot = [a + b for a, b in zip(tot, (len(group), right, e_ours, e_text, e_mv))]
        print(f"  {source:<22} {len(group):>5} {right:>5} | {e_ours:>4} {e_text:>4} {e_mv:>4}")
    print(f"  {'all':<22} {tot[0]:>5} {tot[1]:>5} | {tot[2]:>4} {tot[3]:>4} {tot[4]:>4}")
    print(f"  {'by prompt style':<22} {'cases':>5} {'right':>5} | {'ours':>4} {'text':>4} {'MV':>4}")
    for style, group in sorted(by_style.items()):
        errs = [sum(verdicts[r["id"]][k] != r["label"] for r in group) for k in range(3)]
        print(
            f"  {style:<22} {len(group):>5} {sum(r['label'] for r in group):>5} | {errs[0]:>4} {errs[1]:>4} {errs[2]:>4}"
        )
    print(f"  ours wrong where Math-Verify is right: {len(listed)}")
    for r, why in listed:
        print(f"    {r['id']}: ...{r['completion'][-45:]!r} vs {r['reference'][:30]!r} -- {why[:150]}")


# -- 2. external suites --------------------------------------------------------------------------------
def external_section() -> None:
    from test_answers_external import ROWS, policy_options

    by_suite: dict[str, list[dict]] = {}
    for r in ROWS:
        by_suite.setdefault(r["id"].rsplit("-", 1)[0], []).append(r)
    print(
        "\n[external] other graders' public test cases (tests/regression/external/); errors = verdicts that "
        "differ from the label"
    )
    print(
        f"  {'suite':<15} {'cases':>5} | {'ours':>4} {'MV':>4} | raw labels: {'ours':>4} {'MV':>4} | "
        f"MV as its test calls it"
    )
    listed = []
    totals = [0, 0, 0, 0, 0]
    for suite, rows in by_suite.items():
        own = suite in ("math_verify", "lighteval")  # written for Math-Verify's parse()
        wrap = "none" if own else "both"
        e_ours = e_mv = r_ours = r_mv = e_mvt = 0
        for r in rows:
            pol = policy_options(r["options"])
            ours = grade(r["prediction"], r["reference"], **pol).correct
            mv = mv_grade(r["prediction"], r["reference"], wrap, _mv_options(pol))
            label = r.get("verdict", r["expected"])
            e_ours += ours != label
            e_mv += mv != label
            if r["expected"] is not None:
                r_ours += ours != r["expected"]
                r_mv += mv != r["expected"]
            if own:
                mvt = mv_grade(
                    r["prediction"], r["reference"], "none", _mv_options(pol), r["options"].get("match_types")
                )
                e_mvt += mvt != label
            if ours != label and mv == label:
                listed.append((r, r.get("known_failure") or "NO WRITTEN REASON"))
        totals = [a + b for a, b in zip(totals, (len(rows), e_ours, e_mv, r_ours, r_mv))]
        mvt_s = f"{e_mvt:>4}" if own else "   -"
        print(f"  {suite:<15} {len(rows):>5} | {e_ours:>4} {e_mv:>4} | raw labels: {r_ours:>4} {r_mv:>4} | {mvt_s}")
    print(f"  {'all':<15} {totals[0]:>5} | {totals[1]:>4} {totals[2]:>4} | raw labels: {totals[3]:>4} {totals[4]:>4} |")
    print(f"  ours wrong where Math-Verify is right: {len(listed)}")
    for r, why in listed:
        print(f"    {r['id']}: {r['prediction'][:45]!r} vs {r['reference'][:35]!r} -- {why[:150]}")


# -- 3. gold self-checks ------------------------------------------------------------------------------
def gold_section(name: str, pairs: list[tuple[str, str]]) -> None:
    t = time.perf_counter()
    ours = [grade(p, r, "math") for p, r in pairs]
    t_ours = time.perf_counter() - t
    n = len(pairs)
    n_ours = sum(v.correct for v in ours)
    sub = pairs[: max(1, n // 5)]
    t = time.perf_counter()
    mv = [mv_grade(p, r) for p, r in sub]
    t_mv = time.perf_counter() - t
    print(f"\n[{name}] {n} gold solutions vs their reference answer (all should be correct)")
    print(f"  ours:        {n_ours}/{n} = {n_ours / n:.4%} correct  ({n / t_ours:,.0f} cases/s, one process)")
    print(
        f"  Math-Verify: {sum(mv)}/{len(sub)} = {sum(mv) / len(sub):.4%} correct on the first {len(sub)} "
        f"({len(sub) / t_mv:,.0f} cases/s, one process)"
    )
    for (_p, r), v in zip(pairs, ours):
        if not v.correct:
            print(f"  OURS FAILS: reference {r!r}: extracted {v.extracted!r}, reason {v.reason}")


# -- 4. the CLI on the mixed file ------------------------------------------------------------------------
_GRADED = re.compile(
    r"graded (\d+) lines in ([\d.]+) s \(([\d,]+) lines/s, (\d+) processes; ([\d.]+) CPU s\); "
    r"symbolic stage: (\d+)"
)


def run_cli(src: Path, dst: Path, workers: int) -> dict:
    """`scalemath grade` as a user runs it; returns its grading time, wall time and counts."""
    cmd = [sys.executable, "-m", "scalemath.cli", "grade", "-i", str(src), "-o", str(dst), "--workers", str(workers)]
    env = dict(os.environ, COLUMNS="200", PYTHONPATH=str(ROOT / "src"))
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    wall = time.perf_counter() - t
    m = _GRADED.search(" ".join((out.stderr + out.stdout).split()))
    if m is None:
        raise RuntimeError(f"unexpected output of scalemath grade:\n{out.stdout}\n{out.stderr}")
    return {
        "lines": int(m.group(1)),
        "seconds": float(m.group(2)),
        "wall": wall,
        "cpu": float(m.group(5)),
        "symbolic": int(m.group(6)),
    }


def mv_pool_rate(pairs: list[tuple[str, str]], workers: int, chunk: int = 32) -> tuple[float, list[bool]]:
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_mv_warm, range(workers * 2)))  # start and warm every worker first
        t = time.perf_counter()
        out = [
            x for part in pool.map(_mv_chunk, [pairs[i : i + chunk] for i in range(0, len(pairs), chunk)]) for x in part
        ]
        return len(pairs) / (time.perf_counter() - t), out


def cli_section(d: Path, workers: int, repeats: int, mv_cases: int, workload: str = "mixed") -> None:
    from grader_workload import long_records, mixed_records

    if workload == "long":
        recs = long_records(d, 10_000, seed=0)
        what = "long chain-of-thought"
    else:
        recs = mixed_records(d, 10_000, seed=0)
        what = "mixed GSM8K + MATH"
    mean_chars = sum(len(r["completion"]) for r in recs) / len(recs)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"{workload}.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
        print(
            f"\n[cli:{workload}] scalemath grade on {len(recs):,} {what} lines (mean {mean_chars:,.0f} characters; "
            f"{sum(r['label'] for r in recs):,} correct by construction), best of {repeats}"
        )
        runs = {1: [], workers: []}
        for _ in range(repeats):  # interleaved, so that load changes hit both alike
            for w in runs:
                runs[w].append(run_cli(src, Path(tmp) / f"out{w}.jsonl", w))
        graded = load_jsonl(Path(tmp) / f"out{workers}.jsonl")
        sub = [(r["completion"], r["answer"]) for r in recs[:mv_cases]]
        r_mv, mv_out = mv_pool_rate(sub, workers)
    for w, rs in runs.items():
        best = min(rs, key=lambda x: x["seconds"])
        startup = min(x["wall"] - x["seconds"] for x in rs)
        print(
            f"  ours, {w} process{'es' if w > 1 else ''}: {best['lines'] / best['seconds']:,.0f} lines/s "
            f"(grading {best['seconds']:.2f} s of {best['wall']:.2f} s wall; CLI start-up {startup:.2f} s; "
            f"{best['lines'] / best['cpu']:,.0f} lines per CPU-second of grading; symbolic stage: "
            f"{best['symbolic']} lines)"
        )
    best_n = min(runs[workers], key=lambda x: x["seconds"])
    best_1 = min(runs[1], key=lambda x: x["seconds"])
    r_ours = best_n["lines"] / best_n["seconds"]
    print(
        f"  Math-Verify, {workers} processes: {r_mv:,.0f} cases/s on the first {len(sub):,} lines "
        f"(pool started and warmed before timing)"
    )
    print(f"  ratio ours / Math-Verify, {workers} processes each: {r_ours / r_mv:.1f}x (target >= 20x)")
    print(f"  {workers} processes vs 1: {best_1['seconds'] / best_n['seconds']:.2f}x (target >= 1)")
    ours_ok = sum(g["correct"] == r["label"] for g, r in zip(graded, recs))
    mv_ok = sum(m == r["label"] for m, r in zip(mv_out, recs))
    print(
        f"  agreement with the construction labels: ours {ours_ok:,}/{len(recs):,}, "
        f"Math-Verify {mv_ok:,}/{len(sub):,} (a self-built set: not an independent yardstick)"
    )


# -- 5. GSM8K numbers ---------------------------------------------------------------------------------
def gsm8k_rate_section(d: Path | None) -> None:
    rng = random.Random(1)
    if d is not None:
        refs = [r["answer"].split("####")[-1].strip() for r in load_jsonl(d / "gsm8k" / "test.jsonl")]
    else:
        refs = [str(rng.randint(0, 100000)) for _ in range(1319)]
    bare, hashes = [], []
    for _ in range(200_000):
        ref = rng.choice(refs)
        pred = ref if rng.random() < 0.5 else str(rng.randint(0, 10000))
        if rng.random() < 0.2:
            pred = f"{int(float(pred.replace(',', ''))):,}.00" if pred.replace(",", "").isdigit() else pred
        bare.append((pred, ref))
        hashes.append((f"So the total is {pred} dollars.\n#### {pred}", ref))
    print("\n[gsm8k numeric] one process, 200,000 grades each; per core = grades per CPU-second")
    for name, pairs in (("bare numbers", bare), ("'#### N' completions", hashes)):
        t, c = time.perf_counter(), time.process_time()
        for p, r in pairs:
            grade(p, r, "gsm8k")
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        print(f"  {name}: {len(pairs) / cpu:,.0f} grades/s per core ({len(pairs) / wall:,.0f}/s wall clock)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2, help="processes for both graders in [cli]")
    ap.add_argument("--repeats", type=int, default=3, help="CLI runs per process count (best is shown)")
    ap.add_argument("--mv-cases", type=int, default=10_000, help="lines of the mixed file Math-Verify grades")
    ap.add_argument("--skip-gold", action="store_true", help="skip the MATH/MATH-500 sections")
    ap.add_argument(
        "--only", choices=["corpus", "real", "external", "gold", "cli", "cli-long", "gsm8k"], help="run one section"
    )
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)
    want = lambda s: args.only in (None, s)
    if want("corpus"):
        corpus_section()
    if want("real"):
        real_section()
    if want("external"):
        external_section()
    d = data_dir()
    if d is None:
        print(
            "\n[data] ../shared/data not found (set SCALEMATH_SHARED_DATA): skipping the MATH, "
            "MATH-500 and CLI sections"
        )
    else:
        if want("gold") and not args.skip_gold:
            math = load_jsonl(d / "math" / "test.jsonl")
            gold_section("MATH test", [(r["solution"], last_boxed(r["solution"])) for r in math])
            m500 = load_jsonl(d / "math" / "math500_test.jsonl")
            gold_section("MATH-500", [(r["solution"], r["answer"]) for r in m500])
        if want("cli"):
            cli_section(d, args.workers, args.repeats, args.mv_cases, "mixed")
        if want("cli") or args.only == "cli-long":
            cli_section(d, args.workers, args.repeats, args.mv_cases, "long")
    if want("gsm8k"):
        gsm8k_rate_section(d)


if __name__ == "__main__":
    main()
