"""RFT collection speed and memory: `scalemath rft` vs the RFT paper's script on the same pool.

Workload: 7,473 GSM8K train questions x 100 samples, built by

    python3 /work/shared/tools/make_rft_pool.py --out /tmp/rftpool

Prints, for `scalemath rft --samples POOL/samples.jsonl` (run as a subprocess, CLI start-up
included): wall time of each run, CPU time, peak RSS (largest process, and the whole process tree
sampled every 20 ms), the distinct-path count, and the ratio against the paper script's 85 s on
this 2-core machine (the figure in /work/shared/tools/README.md). With `--paper-script PATH`
(collect_rejection_sampling.py from OFA-Sys/gsm8k-ScRel; it needs the `editdistance` package, give
its location with `--paper-pythonpath`) it also runs the paper's `collect()` on the same pool
(pool/ and data/ layout written by make_rft_pool), prints the measured ratio, and checks that both
keep the same paths (line by line, in the paper's {"query","response"} format).

`--scaling` also runs on the first 25 of the 100 seeds, to show that memory follows the kept paths
and not the number of samples. Timings on a shared machine are noisy: the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PAPER_REFERENCE_S = 85.0  # the paper script on this pool, this 2-core machine (tools/README.md)
SRC = str(Path(__file__).resolve().parents[1] / "src")


def _tree_memory_kb(pid: int) -> tuple[int, int]:
    """(sum of VmRSS, largest VmHWM) over a process and its descendants (Linux /proc), KiB."""
    total, hwm, todo = 0, 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        hwm = max(hwm, int(line.split()[1]))
                    elif line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return total, hwm


def run_measured(cmd: list[str], cwd: str | None = None, env: dict | None = None) -> dict:
    """Run a command: wall time, CPU time (children), peak memory sampled every 20 ms: the
    largest process's peak RSS (VmHWM) and the whole process tree's RSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0, 0]

    def poll() -> None:
        while proc.poll() is None:
            tree, hwm = _tree_memory_kb(proc.pid)
            peak[0], peak[1] = max(peak[0], tree), max(peak[1], hwm)
            time.sleep(0.02)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    th.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err[-3000:]}")
    return {
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "max_rss_mb": peak[1] / 1024,
        "tree_rss_mb": peak[0] / 1024,
        "stdout": out,
    }


def run_ours(samples: str, out: str, stats: str, workers: int, check: bool = False) -> dict:
    """`scalemath rft` on the pool; without `check`, as the paper's script: no test-set check
    (the default checks the questions against GSM8K test & co. and drops 5 GSM8K-train
    near-duplicates of test questions, so the kept set would differ from the paper's)."""
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [
        sys.executable,
        "-c",
        "from scalemath.cli import main; main()",
        "rft",
        "--samples",
        samples,
        "--out",
        out,
        "--format",
        "rft_legacy",
        "--stats",
        stats,
        "--paper-grading",  # the paper's '#### number' rule and annotation-list key
        "--signature",
        "equations",
    ]
    if not check:
        cmd.append("--no-check-test-sets")
    if workers:
        cmd += ["--workers", str(workers)]
    r = run_measured(cmd, env=env)
    st = json.loads(Path(stats).read_text())
    r["distinct"], r["workers"], r["sharding"] = st["distinct_paths"], st["workers"], st["sharding"]
    r["test_set_check"] = st.get("test_set_check")
    return r


def run_paper(script: str, extra_path: str, pool: Path) -> dict:
    code = f"import sys; sys.path[:0] = {[str(Path(script).resolve().parent)] + [p for p in extra_path.split(os.pathsep) if p]!r}\nimport collect_rejection_sampling as c\nc.collect('.', 100)\n"
    r = run_measured([sys.executable, "-c", code], cwd=str(pool / "pool"))
    for line in r["stdout"].splitlines():
        if line.startswith("equation_different_count:"):
            r["distinct"] = int(line.split(":")[1])
    r["output"] = str(pool / "pool" / "equation_different_pass_query_100_0.7_sft.jsonl.v2.farest")
    return r


def same_lines(a: str, b: str) -> tuple[int, int, int]:
    """(lines in a, lines in b, lines equal as JSON at the same position)."""
    with open(a) as fa, open(b) as fb:
        la, lb = fa.readlines(), fb.readlines()
    return len(la), len(lb), sum(json.loads(x) == json.loads(y) for x, y in zip(la, lb))


def first_seeds(samples: str, out: str, k: int) -> None:
    import orjson

    with open(samples, "rb") as f, open(out, "wb") as g:
        for line in f:
            if orjson.loads(line).get("seed", 0) < k:
                g.write(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pool", default="/tmp/rftpool", help="make_rft_pool.py output folder")
    ap.add_argument("--repeat", type=int, default=3, help="runs of ours (best and median printed)")
    ap.add_argument("--workers", type=int, default=0, help="--workers for scalemath rft (0: auto)")
    ap.add_argument(
        "--paper-script",
        default=os.environ.get("RFT_PAPER_SCRIPT"),
        help="path to the paper's collect_rejection_sampling.py (env RFT_PAPER_SCRIPT)",
    )
    ap.add_argument(
        "--paper-pythonpath",
        default=os.environ.get("RFT_PAPER_PYTHONPATH", ""),
        help="extra sys.path for the paper script (where editdistance is installed)",
    )
    ap.add_argument("--scaling", action="store_true", help="also run on the first 25 seeds")
    args = ap.parse_args()

    pool = Path(args.pool)
    samples = pool / "samples.jsonl"
    if not samples.exists():
        sys.exit(f"{samples} missing: build it with python3 /work/shared/tools/make_rft_pool.py --out {pool}")
    tmp = Path(tempfile.mkdtemp(prefix="bench_rft_"))
    print(
        f"pool {samples} ({samples.stat().st_size / 1e6:.0f} MB); cores {os.cpu_count()}; "
        f"load average {os.getloadavg()[0]:.2f} (timings are noisy on a shared machine)"
    )

    runs = []
    for i in range(args.repeat):
        r = run_ours(str(samples), str(tmp / "ours.jsonl"), str(tmp / "stats.json"), args.workers)
        runs.append(r)
        print(
            f"ours run {i + 1}: wall {r['wall']:.2f} s, cpu {r['cpu']:.2f} s, "
            f"max RSS {r['max_rss_mb']:.0f} MB (largest process), tree {r['tree_rss_mb']:.0f} MB, "
            f"distinct {r['distinct']:,}, workers {r['workers']} ({r['sharding']})"
        )
    best = min(r["wall"] for r in runs)
    med = statistics.median(r["wall"] for r in runs)
    print(
        f"ours: best {best:.2f} s, median {med:.2f} s; distinct paths {runs[0]['distinct']:,} "
        f"(paper reports 37,748 on this pool)"
    )
    print(
        f"ratio vs the paper script's {PAPER_REFERENCE_S:.0f} s reference: {PAPER_REFERENCE_S / best:.1f}x "
        f"(best), {PAPER_REFERENCE_S / med:.1f}x (median); target >= 10x, i.e. <= {PAPER_REFERENCE_S / 10:.1f} s"
    )

    r = run_ours(str(samples), str(tmp / "checked.jsonl"), str(tmp / "checked.json"), args.workers, check=True)
    chk = r["test_set_check"] or {}
    print(
        f"with the default test-set check: wall {r['wall']:.2f} s, cpu {r['cpu']:.2f} s (vs best {best:.2f} s "
        f"without); {chk.get('questions_dropped')} questions ({chk.get('paths_dropped')} paths) dropped as "
        f"matching test questions, distinct {r['distinct']:,}"
    )

    if args.scaling:
        sub = tmp / "seeds25.jsonl"
        first_seeds(str(samples), str(sub), 25)
        r = run_ours(str(sub), str(tmp / "o25.jsonl"), str(tmp / "s25.json"), args.workers)
        print(
            f"first 25 seeds ({sub.stat().st_size / 1e6:.0f} MB): wall {r['wall']:.2f} s, max RSS "
            f"{r['max_rss_mb']:.0f} MB, tree {r['tree_rss_mb']:.0f} MB, distinct {r['distinct']:,} "
            f"(100 seeds: max RSS {runs[0]['max_rss_mb']:.0f} MB, tree {runs[0]['tree_rss_mb']:.0f} MB)"
        )
    if args.paper_script:
        print(f"running the paper's collect() ... (load average {os.getloadavg()[0]:.2f})")
        p = run_paper(args.paper_script, args.paper_pythonpath, pool)
        print(
            f"paper: wall {p['wall']:.2f} s, cpu {p['cpu']:.2f} s, max RSS {p['max_rss_mb']:.0f} MB, "
            f"distinct {p.get('distinct', '?'):,}"
        )
        r = run_ours(str(samples), str(tmp / "ours.jsonl"), str(tmp / "stats.json"), args.workers)
        print(f"ours right after: wall {r['wall']:.2f} s, cpu {r['cpu']:.2f} s")
        best = min(best, r["wall"])
        cpu = min(x["cpu"] for x in runs + [r])
        print(f"measured ratio: wall {p['wall'] / best:.1f}x, cpu {p['cpu'] / cpu:.1f}x")
        na, nb, eq = same_lines(p["output"], str(tmp / "ours.jsonl"))
        print(
            f"kept set: paper {na:,} lines, ours {nb:,} lines, identical at the same position: {eq:,}"
            f" -> {'IDENTICAL' if na == nb == eq else 'DIFFERENT'}"
        )

    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()


if __name__ == "__main__":
    main()
