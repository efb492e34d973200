"""Bad input gets a clear error and nothing is lost: the reliability matrix.

    PYTHONPATH=src python benchmarks/bench_reliability.py                  # every section
    PYTHONPATH=src python benchmarks/bench_reliability.py --only readers   # one section
    PYTHONPATH=src python benchmarks/bench_reliability.py --huge-mb 5      # a smaller "huge line"

Sections (each a function returning rows; `main` prints them as one matrix):

* readers: every command that reads a file (eval --samples, sample --data, train --data, rft,
  grade, data convert, decontaminate, metrics, eval --data, rft --problems; fit on CSV files;
  experiment run on YAML files) x six malformed inputs (a truncated line, a non-UTF-8 byte, an
  empty file, a JSON list where an object is due, a record missing its fields, a 50 MB line),
  each run as its own `scalemath` process. Per run: exit status, whether a traceback was printed,
  peak RSS of the process (and its waited-for children, from wait4), temp files left behind
  (names with ".tmp"), and the first line of the message. Target: 0 tracebacks, 0 exit-0, peak
  RSS < 1 GiB, no temp files. A watchdog kills a run past --rss-kill-mb (other work shares the
  machine) and reports it.
* store: two `scalemath sample --store DIR` processes started together on one store (fake engine
  by default, `--hf` for a random tiny Llama through transformers): records on disk vs distinct
  keys, duplicates, and whether both exports equal a single run's.
* contamination: `scalemath train`/`rft` data of 200 GSM8K-train + 20 GSM8K-test questions
  (plain, and labelled split "test" with gsm8k-test-* ids): what the default check reports and
  drops; and the packaged fingerprints over all 7,473 GSM8K train questions (how many flag).
  Needs /work/shared/data (SCALEMATH_SHARED_DATA or ../shared/data); skipped without it.
* rft_bound: the RFT length bound on a 1 MB completion and one with 10,000 unclosed `\\boxed{`.

* server: `scalemath serve` (hf engine, tiny random Llama) against hostile requests (a 5 MB prompt,
  max_tokens=1e9, 600 prompts, ...): status, milliseconds and RSS growth per request; with
  --api-key, requests without the key get 401 (benchmarks/bench_reliability_server.py).
* teacher: the OpenAI-compatible client against a stub answering each malformed-200 kind: one
  recorded error per request, good replies around them kept, and the run's error breakdown.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SRC = os.environ.get("BENCH_SRC") or str(ROOT / "src")
KINDS = ("truncated", "non_utf8", "empty", "json_list", "missing_fields", "huge_line")
GIB = 1 << 30


def shared_data() -> Path | None:
    for cand in (os.environ.get("SCALEMATH_SHARED_DATA"), str(ROOT.parent / "shared" / "data"), "/work/shared/data"):
        if cand and (Path(cand) / "gsm8k" / "test.jsonl").exists():
            return Path(cand)
    return None


# ------------------------------------------------------------------------------------ running


def _die_with_parent() -> None:
    """In the child: SIGKILL when this benchmark dies, so no runaway reader outlives it."""
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def run_cli(
    args: list[str], cwd: Path, rss_kill_mb: float, timeout: float = 600.0, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run `scalemath ARGS` as its own process: exit status, output, peak RSS, seconds.

    Peak RSS is wait4's ru_maxrss: the largest of the process and its waited-for children. A
    forked child starts with this process's high-water mark, so this process keeps small."""
    import psutil

    env = {
        **os.environ,
        "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
        **(env or {}),
    }
    tag = f"{os.getpid()}-{threading.get_ident()}"
    out, err = cwd / f".run-{tag}.out", cwd / f".run-{tag}.err"
    t0 = time.perf_counter()
    with open(out, "wb") as fo, open(err, "wb") as fe:
        p = subprocess.Popen(
            [sys.executable, "-c", "from scalemath.cli import main; main()", *args],
            cwd=cwd,
            env=env,
            stdout=fo,
            stderr=fe,
            preexec_fn=_die_with_parent,
        )
        killed = []
        done = threading.Event()

        def watchdog() -> None:  # protect the shared machine from a runaway reader
            try:  # (never polls the child: wait4 below must be the one to reap it)
                proc = psutil.Process(p.pid)
                while not done.wait(0.05):
                    rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(True))
                    if rss > rss_kill_mb * (1 << 20):
                        killed.append(rss)
                        p.kill()
                        return
                    if time.perf_counter() - t0 > timeout:
                        killed.append(-1)
                        p.kill()
                        return
            except psutil.Error:
                return

        th = threading.Thread(target=watchdog, daemon=True)
        th.start()
        try:
            _, status, usage = os.wait4(p.pid, 0)
        finally:
            done.set()
        p.returncode = os.waitstatus_to_exitcode(status)
        th.join()
    text_out = out.read_bytes().decode("utf-8", "replace")
    text_err = err.read_bytes().decode("utf-8", "replace")
    out.unlink()
    err.unlink()
    return {
        "rc": p.returncode,
        "stdout": text_out,
        "stderr": text_err,
        "rss_mb": usage.ru_maxrss / 1024,
        "seconds": time.perf_counter() - t0,
        "killed": killed[0] if killed else None,
    }


def message(r: dict[str, Any]) -> str:
    """The first line that says what went wrong (or the last output line)."""
    lines = [x.strip() for x in (r["stderr"] + "\n" + r["stdout"]).splitlines() if x.strip()]
    for x in lines:
        if "error" in x.lower() or "Traceback" in x:
            return x[:150]
    return (lines[-1] if lines else "")[:150]


def has_traceback(r: dict[str, Any]) -> bool:
    text = r["stderr"] + r["stdout"]
    return "Traceback" in text or "most recent call last" in text


def temp_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if ".tmp" in p.name)


# ------------------------------------------------------------------------------------ inputs


def _dump(obj: Any) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def jsonl_input(kind: str, good: Callable[[int], dict], missing: dict, big_field: str, huge_mb: float) -> bytes:
    """The bytes of one malformed JSONL input built from valid records of the command's shape."""
    ok = _dump(good(0)) + _dump(good(1))
    if kind == "truncated":
        return ok + _dump(good(2))[:25]  # cut mid-record, no newline
    if kind == "non_utf8":
        line = _dump(good(2))
        i = line.index(b'": "') + 4
        return ok + line[:i] + b"caf\xe9 " + line[i:]  # latin-1 byte inside a string
    if kind == "empty":
        return b""
    if kind == "json_list":
        return _dump(list(good(0).values())) + ok
    if kind == "missing_fields":
        return ok + _dump(missing)
    if kind == "huge_line":
        rec = good(2)
        rec[big_field] = "seven " * int(huge_mb * (1 << 20) / 6)
        return ok + _dump(rec)
    raise ValueError(kind)


def yaml_input(kind: str, huge_mb: float) -> bytes:
    good = b"name: tiny\ndata:\n  source: procedural\n  train_n: 8\n  test_n: 4\n"
    return {
        "truncated": good + b"sft:\n  fractions: [1, 0.5\n",
        "non_utf8": good + b"description: caf\xe9\n",
        "empty": b"",
        "json_list": b"- name: tiny\n- data: procedural\n",
        "missing_fields": good.replace(b"source: procedural", b"source: files"),  # files without paths
        "huge_line": good + b"description: " + b"seven " * int(huge_mb * (1 << 20) / 6) + b"\n",
    }[kind]


def csv_input(kind: str, huge_mb: float) -> bytes:
    good = b"data_size,accuracy\n100,0.2\n200,0.3\n400,0.4\n800,0.5\n"
    return {
        "truncated": good + b"1600\n",  # a row cut short
        "non_utf8": good + b"1600,0.6\xe9\n",
        "empty": b"",
        "json_list": b'[{"data_size": 100, "accuracy": 0.2}]\n',  # JSON, not CSV
        "missing_fields": good.replace(b"accuracy", b"acc"),  # no --y column
        "huge_line": good + b"1600," + b"7" * int(huge_mb * (1 << 20)) + b"\n",
    }[kind]


def _sample(i: int) -> dict:
    return {
        "problem_id": f"p{i}",
        "question": f"What is {i} + 2?",
        "answer": str(i + 2),
        "completion": f"{i} + 2 = <<{i}+2={i + 2}>>{i + 2}\n#### {i + 2}",
        "correct": True,
        "sample_index": 0,
        "temperature": 0.0,
        "model": "m",
        "seed": 0,
    }


def _gsm8k(i: int) -> dict:
    return {
        "question": f"Tom has {i} apples and buys 2 more. How many apples does he have?",
        "answer": f"Tom has {i} + 2 = <<{i}+2={i + 2}>>{i + 2} apples.\n#### {i + 2}",
    }


def _problem(i: int) -> dict:
    g = _gsm8k(i)
    return {"id": f"p{i}", "question": g["question"], "solution": g["answer"], "answer": str(i + 2)}


# (name, argv builder(input, work, model), good record, record missing a field, field made huge)
JSONL_COMMANDS: list[tuple[str, Callable[[Path, Path, str], list[str]], Callable[[int], dict], dict, str]] = [
    (
        "eval --samples",
        lambda f, w, m: ["eval", "--samples", str(f), "--out", str(w / "eval")],
        _sample,
        {"problem_id": "p9", "question": "What is 9 + 2?", "answer": "11"},
        "completion",
    ),
    (
        "sample --data",
        lambda f, w, m: [
            "sample",
            "--model",
            m,
            "--data",
            str(f),
            "--out",
            str(w / "s.jsonl"),
            "--k",
            "1",
            "--max-tokens",
            "4",
            "--device",
            "cpu",
            "--threads",
            "1",
        ],
        _gsm8k,
        {"question": "What is 9 + 2?"},
        "question",
    ),
    (
        "train --data",
        lambda f, w, m: [
            "train",
            "--model",
            m,
            "--data",
            str(f),
            "--out",
            str(w / "model"),
            "--max-steps",
            "1",
            "--threads",
            "1",
            "--quiet",
        ],
        _problem,
        {"id": "p9", "question": "What is 9 + 2?"},
        "solution",
    ),
    (
        "rft --samples",
        lambda f, w, m: ["rft", "--samples", str(f), "--out", str(w / "rft.jsonl")],
        _sample,
        {"question": "What is 9 + 2?", "answer": "11"},
        "completion",
    ),
    (
        "rft --problems",
        lambda f, w, m: [
            "rft",
            "--samples",
            str(w / "ok_samples.jsonl"),
            "--problems",
            str(f),
            "--out",
            str(w / "rft.jsonl"),
        ],
        _problem,
        {"id": "p9", "answer": "11"},
        "question",
    ),
    (
        "grade",
        lambda f, w, m: ["grade", "--input", str(f), "--output", str(w / "g.jsonl"), "--workers", "1"],
        _sample,
        {"completion": "#### 11"},
        "completion",
    ),
    (
        "data convert",
        lambda f, w, m: ["data", "convert", "--input", str(f), "--out", str(w / "c.jsonl")],
        _gsm8k,
        {"question": "What is 9 + 2?"},
        "question",
    ),
    (
        "decontaminate",
        lambda f, w, m: [
            "decontaminate",
            "--input",
            str(f),
            "--against",
            str(w / "test.jsonl"),
            "--out",
            str(w / "d.jsonl"),
        ],
        _problem,
        {"id": "p9", "solution": "9 + 2 = 11\n#### 11"},
        "solution",
    ),
    (
        "metrics",
        lambda f, w, m: ["metrics", str(f), "--bootstrap", "0"],
        _sample,
        {"question": "What is 9 + 2?", "completion": "#### 11", "correct": True},
        "completion",
    ),
    (
        "eval --data",
        lambda f, w, m: [
            "eval",
            "--model",
            m,
            "--data",
            str(f),
            "--out",
            str(w / "ev"),
            "--k",
            "0",
            "--max-tokens",
            "4",
            "--device",
            "cpu",
            "--threads",
            "1",
        ],
        _gsm8k,
        {"question": "What is 9 + 2?"},
        "question",
    ),
]


def _prepare(work: Path) -> str:
    """A random tiny Llama (the commands that take --model) and the side inputs."""
    model = work / "tiny"
    if not model.exists():  # in a child: this process stays small (a fork's RSS counts in wait4)
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from scalemath.testing.tiny_random import save_tiny_llama; save_tiny_llama(sys.argv[1])",
                str(model),
            ],
            check=True,
            env={**os.environ, "PYTHONPATH": SRC},
            capture_output=True,
        )
    with open(work / "test.jsonl", "wb") as f:
        for i in range(50, 53):
            f.write(
                _dump(
                    {
                        "id": f"t{i}",
                        "question": f"A train leaves at {i} and travels 3 hours. When does it arrive at the station?",
                        "solution": "",
                        "answer": "x",
                    }
                )
            )
    with open(work / "ok_samples.jsonl", "wb") as f:
        for i in range(2):
            s = _sample(i)
            s["question"] = _gsm8k(i)["question"]
            f.write(_dump(s))
    return str(model)


def readers(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The bad-input matrix: one row per (command, malformed input)."""
    base = Path(tempfile.mkdtemp(prefix="bench_rel_"))
    model = _prepare(base)
    rows = []
    # inputs are made when their case runs: this process stays small (see run_cli)
    cases: list[tuple[str, str, str, Callable[[], bytes], Callable[[Path, Path], list[str]]]] = []
    for name, argv, good, missing, big in JSONL_COMMANDS:
        for kind in KINDS:
            cases.append(
                (
                    name,
                    kind,
                    "jsonl",
                    lambda kind=kind, good=good, missing=missing, big=big: jsonl_input(
                        kind, good, missing, big, args.huge_mb
                    ),
                    lambda f, w, argv=argv: argv(f, w, model),
                )
            )
    for kind in KINDS:
        cases.append(
            (
                "fit",
                kind,
                "csv",
                lambda kind=kind: csv_input(kind, args.huge_mb),
                lambda f, w: ["fit", str(f), "--x", "data_size", "--y", "accuracy"],
            )
        )
        cases.append(
            (
                "experiment run",
                kind,
                "yaml",
                lambda kind=kind: yaml_input(kind, args.huge_mb),
                lambda f, w: ["experiment", "run", str(f), "--out", str(w / "run"), "--dry-run"],
            )
        )
    if args.kinds:
        cases = [c for c in cases if c[1] in args.kinds]
    for name, kind, ext, data, argv in cases:
        if args.commands and not any(c in name for c in args.commands):
            continue
        work = base / f"{name.replace(' ', '_').replace('-', '')}_{kind}"
        work.mkdir()
        for side in ("test.jsonl", "ok_samples.jsonl"):
            shutil.copy(base / side, work / side)
        f = work / f"input_{kind}.{ext}"
        f.write_bytes(data())
        r = run_cli(argv(f, work), work, args.rss_kill_mb)
        left = temp_files(work)
        row = {
            "section": "readers",
            "command": name,
            "input": kind,
            "rc": r["rc"],
            "traceback": has_traceback(r),
            "rss_mb": round(r["rss_mb"]),
            "temp_left": left,
            "seconds": round(r["seconds"], 1),
            "message": message(r),
            "killed": r["killed"],
        }
        row["ok"] = (
            r["rc"] not in (0, None)
            and not row["traceback"]
            and r["rss_mb"] < 1024
            and not left
            and r["killed"] is None
        )
        rows.append(row)
        if args.verbose:
            print(json.dumps(row), flush=True)
        shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(base, ignore_errors=True)
    return rows


def print_readers(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    cmds = list(dict.fromkeys(r["command"] for r in rows))
    by = {(r["command"], r["input"]): r for r in rows}
    print("\nbad-input matrix: exit status / traceback (TB) / peak RSS MB / temp files left (T)")
    print(f"{'command':<16}" + "".join(f"{k:>16}" for k in KINDS))
    for c in cmds:
        cells = []
        for k in KINDS:
            r = by.get((c, k))
            if r is None:
                cells.append(f"{'-':>16}")
                continue
            s = f"{r['rc']}{' TB' if r['traceback'] else ''} {r['rss_mb']}M{' T' if r['temp_left'] else ''}"
            if r["killed"]:
                s = f"KILLED>{args_rss_kill}M" if r["killed"] > 0 else "TIMEOUT"
            cells.append(f"{s + ('' if r['ok'] else ' !'):>16}")
        print(f"{c:<16}" + "".join(cells))
    n = len(rows)
    print(
        f"{n} runs: {sum(r['traceback'] for r in rows)} tracebacks, "
        f"{sum(r['rc'] == 0 for r in rows)} exit 0, "
        f"{sum(r['rss_mb'] >= 1024 or bool(r['killed']) for r in rows)} at or above 1 GiB, "
        f"{sum(bool(r['temp_left']) for r in rows)} with temp files left; max peak RSS "
        f"{max(r['rss_mb'] for r in rows)} MB; {sum(r['ok'] for r in rows)}/{n} as they should be"
    )
    print("messages:")
    for r in rows:
        print(f"  {r['command']:<16} {r['input']:<15} rc={r['rc']} {r['message']}")


args_rss_kill = 0


# ------------------------------------------------------------------------------------ store


def _drawn(out: str) -> int | None:
    text = " ".join(out.split())
    if " new samples drawn" not in text:
        return None
    return int(text.split(" new samples drawn")[0].split()[-1])


def _on_disk(root: Path) -> tuple[int, int]:
    """(raw records over all shards, distinct (key, index)) of a store folder."""
    raw, keys = 0, set()
    for p in sorted((root / "shards").iterdir()):
        with open(p, "rb") as f:
            for line in f:
                d = json.loads(line)
                if "_replaces" in d:
                    continue
                raw += 1
                keys.add((d["key"], d["sample_index"]))
    return raw, len(keys)


def _export_key(path: Path) -> list[tuple]:
    out = []
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            out.append((d["problem_id"], d["sample_index"], d["seed"], d["completion"]))
    return out


def store(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Two `scalemath sample --store DIR` processes started together on one store."""
    base = Path(tempfile.mkdtemp(prefix="bench_rel_store_"))
    model = _prepare(base)
    with open(base / "p.jsonl", "w") as f:
        for i in range(args.store_problems):
            f.write(
                json.dumps(
                    {"id": f"p{i}", "question": f"What is {i} + 2?", "solution": f"#### {i + 2}", "answer": str(i + 2)}
                )
                + "\n"
            )
    variants = [("this branch", SRC)]
    if args.baseline_src:
        variants.insert(0, ("baseline", args.baseline_src))
    rows = []
    for name, src in variants:
        work = base / name.replace(" ", "_")
        work.mkdir()
        common = [
            "sample",
            "--model",
            model,
            "--data",
            str(base / "p.jsonl"),
            "--k",
            str(args.store_k),
            "--max-tokens",
            "8",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--batch-size",
            "16",
            "--store",
            str(work / "store"),
        ]
        env = {"PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
        results: list[dict[str, Any]] = [{}, {}]

        def go(i: int) -> None:
            results[i] = run_cli(common + ["--out", str(work / f"out{i}.jsonl")], work, args.rss_kill_mb, env=env)

        threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
            time.sleep(0.2)
        for t in threads:
            t.join()
        single = run_cli(
            ["sample", *common[1:-2], "--store", str(work / "single"), "--out", str(work / "single.jsonl")],
            work,
            args.rss_kill_mb,
            env=env,
        )
        raw, distinct = _on_disk(work / "store")
        row = {
            "section": "store",
            "variant": name,
            "rc": [r["rc"] for r in results] + [single["rc"]],
            "drawn": [_drawn(r["stdout"] + r["stderr"]) for r in results],
            "waited": [("waiting for it" in r["stderr"]) for r in results],
            "lines_on_disk": raw,
            "distinct": distinct,
            "expected": args.store_problems * args.store_k,
            "exports_equal": all((work / f"out{i}.jsonl").exists() for i in range(2))
            and _export_key(work / "out0.jsonl")
            == _export_key(work / "out1.jsonl")
            == _export_key(work / "single.jsonl"),
        }
        # a later writer of this branch on the same folder: copies already on disk go away
        again = run_cli(
            common + ["--out", str(work / "again.jsonl")],
            work,
            args.rss_kill_mb,
            env={"PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")},
        )
        row["after_reopen"] = _on_disk(work / "store")[0]
        row["ok"] = (name == "baseline") or (
            raw == distinct == row["expected"]
            and row["exports_equal"]
            and all(r == 0 for r in row["rc"])
            and again["rc"] == 0
        )
        rows.append(row)
    shutil.rmtree(base, ignore_errors=True)
    return rows


def print_store(rows: list[dict[str, Any]]) -> None:
    print("\ntwo concurrent `sample --store` runs on one store (random tiny Llama, transformers engine)")
    for r in rows:
        print(
            f"  {r['variant']:<12} exit {r['rc'][:2]}, samples drawn {r['drawn']} (waited: {r['waited']}); "
            f"{r['lines_on_disk']:,} records on disk for {r['distinct']:,} distinct samples "
            f"(expected {r['expected']:,}); exports of both runs == a single run's: {r['exports_equal']}; "
            f"records on disk after one more run of this branch: {r['after_reopen']:,}"
        )


# ------------------------------------------------------------------------------------ contamination


def _cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def contamination(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Train/RFT data with GSM8K test questions in it, and false drops on GSM8K train."""
    data = shared_data()
    if data is None:
        print("contamination: /work/shared/data not found (SCALEMATH_SHARED_DATA): skipped")
        return []
    from scalemath.datasets import load_problems
    from scalemath.methods.contamination import TrainingDataCheck, check_training_records

    train = list(load_problems(data / "gsm8k" / "train.jsonl"))
    test = list(load_problems(data / "gsm8k" / "test.jsonl"))
    rows = []
    c0 = _cpu()
    check = TrainingDataCheck()
    decon = check.decontaminator()
    c1 = _cpu()
    res = check_training_records(
        [{"id": p.id, "question": p.question, "solution": p.solution} for p in train], check, decon
    )
    c2 = _cpu()
    rows.append(
        {
            "section": "contamination",
            "case": "all 7,473 GSM8K train questions (+ solutions) vs the fingerprints",
            "records": len(train),
            "flagged": res.flagged,
            "detail": [(i["id"], i["reason"], i["test_id"]) for i in res.report.removed_items],
            "cpu_s": {"load": round(c1 - c0, 2), "check": round(c2 - c1, 2)},
            "ok": True,
        }
    )
    from scalemath.datasets.procedural import generate

    ptrain = [
        {"id": p.id, "question": p.question, "solution": p.solution}
        for p in generate(2000, split="train", steps=(1, 2), number_range=(2, 10))
    ]
    ptest = generate(300, split="test", steps=(1, 2), number_range=(2, 10))
    work = Path(tempfile.mkdtemp(prefix="bench_rel_decon_"))
    with open(work / "ptest.jsonl", "w") as f:
        for p in ptest:
            f.write(json.dumps({"id": p.id, "question": p.question, "solution": p.solution, "answer": p.answer}) + "\n")
    res = check_training_records(ptrain, TrainingDataCheck(own_test_sets=(str(work / "ptest.jsonl"),)))
    rows.append(
        {
            "section": "contamination",
            "case": "the demo's procedural data (2000 train vs fingerprints + its 300-question test split)",
            "records": len(ptrain),
            "flagged": res.flagged,
            "detail": [],
            "ok": res.flagged == 0,
        }
    )
    model = _prepare(work)
    mixed = train[:200] + test[:20]
    variants = {
        "GSM8K format": [{"question": p.question, "answer": p.solution} for p in mixed],
        "labelled split test, gsm8k-test-* ids": [
            {"id": p.id, "question": p.question, "solution": p.solution, "answer": p.answer, "split": p.split}
            for p in mixed
        ],
    }
    test_ids = {p.question for p in test[:20]}
    for name, recs in variants.items():
        f = work / "mixed.jsonl"
        f.write_text("".join(json.dumps(r) + "\n" for r in recs))
        r = run_cli(
            [
                "train",
                "--model",
                model,
                "--data",
                str(f),
                "--out",
                str(work / "m"),
                "--max-steps",
                "1",
                "--threads",
                "1",
                "--quiet",
            ],
            work,
            args.rss_kill_mb,
        )
        meta = json.loads((work / "m" / "train_meta.json").read_text()) if r["rc"] == 0 else {}
        chk = meta.get("data", {}).get("test_set_check") or {}
        items = chk.get("items", [])
        caught = sum(1 for i in items if i["question"] in {q[:300] for q in test_ids})
        rows.append(
            {
                "section": "contamination",
                "case": f"train: 200 GSM8K-train + 20 GSM8K-test ({name})",
                "records": len(recs),
                "flagged": chk.get("flagged"),
                "dropped": chk.get("dropped"),
                "test_caught": caught,
                "train_flagged": [i["id"] for i in items if i["question"] not in {q[:300] for q in test_ids}],
                "examples": meta.get("data", {}).get("examples"),
                "rc": r["rc"],
                "ok": r["rc"] == 0 and caught == 20,
            }
        )
        shutil.rmtree(work / "m", ignore_errors=True)
    s = work / "samples.jsonl"
    with open(s, "w") as f:
        for p in mixed:
            for seed in range(2):
                f.write(
                    json.dumps({"question": p.question, "answer": p.solution, "completion": p.solution, "seed": seed})
                    + "\n"
                )
    r = run_cli(
        ["rft", "--samples", str(s), "--out", str(work / "rft.jsonl"), "--stats", str(work / "st.json")],
        work,
        args.rss_kill_mb,
    )
    st = json.loads((work / "st.json").read_text()) if r["rc"] == 0 else {}
    chk = st.get("test_set_check") or {}
    caught = sum(1 for i in chk.get("items", []) if i["question"] in {q[:300] for q in test_ids})
    rows.append(
        {
            "section": "contamination",
            "case": "rft: samples of 200 GSM8K-train + 20 GSM8K-test questions",
            "records": len(mixed),
            "flagged": chk.get("flagged"),
            "dropped": chk.get("questions_dropped"),
            "test_caught": caught,
            "paths_dropped": chk.get("paths_dropped"),
            "rc": r["rc"],
            "ok": r["rc"] == 0 and caught == 20,
        }
    )
    shutil.rmtree(work, ignore_errors=True)
    return rows


def print_contamination(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    print("\ntest questions in training data (default check: packaged fingerprints + own test split)")
    for r in rows:
        extra = {
            k: r[k]
            for k in ("dropped", "test_caught", "train_flagged", "paths_dropped", "examples", "cpu_s", "detail")
            if k in r and r[k] not in (None, [])
        }
        print(f"  {r['case']}: {r['records']} records, flagged {r['flagged']} {extra}")


# ------------------------------------------------------------------------------------ RFT length bound


def rft_bound(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The RFT length bound on pathological completions, and on a pool of ordinary ones."""
    from scalemath.methods.rft import RFTConfig, collect, collect_files

    q = "Sam has 5 red balloons and buys 8 blue balloons. How many balloons does he have?"
    normal = "5 + 8 = <<5+8=13>>13 balloons.\n#### 13"
    bad = {
        "1 MB completion": "x" * 1_000_000 + " <<5+8=13>>13\n#### 13",
        "10,000 unclosed \\boxed{": "\\boxed{" * 10_000 + " <<5+8=13>>13\n#### 13",
    }
    rows = []
    for name, text in bad.items():
        samples = [
            {"question": q, "answer": "#### 13", "completion": c, "seed": i} for i, c in enumerate([normal, text])
        ]
        kept = {}
        for label, cfg in (
            ("paper rule (no bound)", RFTConfig.paper(max_chars=None, signature="text", check_test_sets=False)),
            ("default bound", RFTConfig.paper(signature="text", check_test_sets=False)),
        ):
            recs, st = collect(samples, cfg)
            kept[label] = (sum(r["meta"]["origin"] == "sampled" for r in recs), st.drops["too_long"])
        rows.append(
            {
                "section": "rft_bound",
                "case": name,
                "kept_paths_and_too_long": kept,
                "ok": kept["default bound"] == (1, 1),
            }
        )
    pool = Path(args.rft_pool) if args.rft_pool else None
    if pool is None or not (pool / "samples.jsonl").exists():
        tool = Path("/work/shared/tools/make_rft_pool.py")
        data = shared_data()
        if tool.exists() and data is not None:
            pool = Path(tempfile.mkdtemp(prefix="bench_rel_pool_"))
            subprocess.run(
                [
                    sys.executable,
                    str(tool),
                    "--train",
                    str(data / "gsm8k" / "train.jsonl"),
                    "--out",
                    str(pool),
                    "--limit",
                    str(args.pool_limit),
                ],
                check=True,
                capture_output=True,
            )
    if pool is not None and (pool / "samples.jsonl").exists():
        longest = 0
        with open(pool / "samples.jsonl", "rb") as f:
            for line in f:
                longest = max(longest, len(json.loads(line)["completion"]))
        res = {}
        for label, cfg in (
            ("no bound", RFTConfig.paper(max_chars=None, check_test_sets=False)),
            ("default bound", RFTConfig.paper(check_test_sets=False)),
        ):
            recs, st = collect_files([str(pool / "samples.jsonl")], cfg)
            res[label] = (st.distinct_paths, st.drops["too_long"], len(recs))
        rows.append(
            {
                "section": "rft_bound",
                "case": f"RFT pool {pool} (longest completion {longest:,} chars)",
                "kept_paths_and_too_long": res,
                "ok": res["no bound"] == res["default bound"] and res["default bound"][1] == 0,
            }
        )
        if not args.rft_pool:
            shutil.rmtree(pool, ignore_errors=True)
    return rows


def print_rft_bound(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    print("\nRFT length bound (default max_chars 32,768): (kept paths, dropped as too_long[, records])")
    for r in rows:
        print(f"  {r['case']}: {r['kept_paths_and_too_long']}")


# ------------------------------------------------------------------- lost data (issue 25)


def _outputs_rows(base: Path, rss: float) -> list[dict[str, Any]]:
    """Outputs onto inputs, through links, on a full disk, from killed runs: one row per probe."""
    rows: list[dict[str, Any]] = []
    samples = b"".join(_dump({**_sample(i % 40), "sample_index": i // 40}) for i in range(80))
    csv = b"arm,n,acc\n" + b"".join(f"a,{n},{0.1 + 0.1 * i}\n".encode() for i, n in enumerate((100, 200, 400, 800)))

    def fresh(name: str, data: bytes = samples) -> Path:
        p = base / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        return p

    def refused(probe: str, args: list[str], keep: list[Path], absent: list[Path] = ()) -> None:
        before = {p: p.read_bytes() for p in keep}
        r = run_cli(args, base, rss, timeout=300)
        kept = all(p.read_bytes() == b for p, b in before.items())
        none = not any(p.exists() for p in absent)
        rows.append(
            {
                "probe": probe,
                "measured": f"exit {r['rc']}, input {'unchanged' if kept else 'CHANGED'}"
                + ("" if none else ", an output was written")
                + f": {message(r)[:70]}",
                "target": "exit 2 before any work, input unchanged",
                "ok": r["rc"] == 2 and kept and none and not has_traceback(r),
            }
        )

    s = fresh("s.jsonl")
    refused("metrics s.jsonl --out s.jsonl", ["metrics", str(s), "--bootstrap", "0", "--out", str(s)], [s])
    o = base / "rft_out.jsonl"
    refused("rft --samples s --stats s", ["rft", "--samples", str(s), "--out", str(o), "--stats", str(s)], [s], [o])
    refused("rft --samples s --out s", ["rft", "--samples", str(s), "--out", str(s)], [s])
    refused("audit sample --input s --out s", ["audit", "sample", "--input", str(s), "--out", str(s)], [s])
    refused(
        "decontaminate --input s --out s",
        ["decontaminate", "--input", str(s), "--against", str(s), "--out", str(s)],
        [s],
    )
    refused(
        "decontaminate --report = the input",
        ["decontaminate", "--input", str(s), "--against", str(s), "--out", str(o), "--report", str(s)],
        [s],
        [o],
    )
    refused("grade -i s -o s", ["grade", "-i", str(s), "-o", str(s), "--workers", "1"], [s])
    refused("compare s s --out s", ["compare", str(s), str(s), "--out", str(s)], [s])
    refused("data convert --input s --out s", ["data", "convert", "--input", str(s), "--out", str(s)], [s])
    c = fresh("r.csv", csv)
    refused("fit r.csv --out r.csv", ["fit", str(c), "--x", "n", "--y", "acc", "--out", str(c)], [c])
    ev = fresh("ev/metrics.json")
    refused("eval --samples DIR/metrics.json --out DIR", ["eval", "--samples", str(ev), "--out", str(ev.parent)], [ev])
    hard = base / "hard.jsonl"
    os.link(s, hard)
    refused("metrics s --out <hard link of s>", ["metrics", str(s), "--bootstrap", "0", "--out", str(hard)], [s])
    prob = fresh("p.jsonl", b"".join(_dump(_problem(i)) for i in range(4)))
    refused(
        "sample --data p --out p",
        ["sample", "--model", "fake", "--engine", "fake", "--data", str(prob), "--out", str(prob), "--k", "1"],
        [prob],
    )

    # a symlinked output: refused, the file it points at untouched
    precious = fresh("precious.json", b'{"keep": true}\n')
    link = base / "m.json"
    link.symlink_to(precious)
    refused(
        "metrics --out <symlink to another file>",
        ["metrics", str(s), "--bootstrap", "0", "--out", str(link)],
        [precious],
    )
    st = base / "store_link"
    st.mkdir()
    (st / "writer.lock").symlink_to(precious)
    refused(
        "sample --store with writer.lock a symlink",
        [
            "sample",
            "--model",
            "fake",
            "--engine",
            "fake",
            "--data",
            str(prob),
            "--out",
            str(base / "sl.jsonl"),
            "--k",
            "1",
            "--store",
            str(st),
        ],
        [precious],
    )

    # a full disk (RLIMIT_FSIZE) while writing metrics.json over an existing one: old file intact
    out = fresh("full/metrics.json", b'{"old": true}\n')
    code = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (600, 600)); "
        "from scalemath.cli import main; sys.argv = ['scalemath'] + sys.argv[1:]; main()"
    )
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run(
        [sys.executable, "-c", code, "metrics", str(s), "--bootstrap", "0", "--out", str(out)],
        cwd=base,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    left = temp_files(out.parent)
    intact = out.read_bytes() == b'{"old": true}\n'
    rows.append(
        {
            "probe": "metrics --out on a full disk (600-byte file limit)",
            "measured": f"exit {r.returncode}; old metrics.json {'intact' if intact else 'DAMAGED'}; temp files {left}",
            "target": "nonzero exit, old file intact, no temp file",
            "ok": r.returncode != 0 and intact and not left,
        }
    )

    # .NAME.tmpPID left by a SIGKILLed writer: removed by the next run writing NAME
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = base / "m2.json"
    stale = base / f".m2.json.tmp{dead.pid}"
    stale.write_bytes(b'{"trunc')
    r = run_cli(["metrics", str(s), "--bootstrap", "0", "--out", str(out)], base, rss)
    rows.append(
        {
            "probe": "stale .NAME.tmpPID of a dead process",
            "measured": f"exit {r['rc']}; stale file {'still there' if stale.exists() else 'removed'}",
            "target": "removed by the next write of NAME",
            "ok": r["rc"] == 0 and not stale.exists() and out.exists(),
        }
    )

    # two `sample --out same.jsonl` runs (no --store) at once: no duplicates
    many = fresh("p80.jsonl", b"".join(_dump(_problem(i)) for i in range(80)))
    same = base / "same.jsonl"
    args_ = ["sample", "--model", "fake", "--engine", "fake", "--data", str(many), "--out", str(same), "--k", "2"]
    res: list[dict[str, Any]] = [{}, {}]
    ths = [threading.Thread(target=lambda i=i: res.__setitem__(i, run_cli(args_, base, rss))) for i in range(2)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    lines = [json.loads(x) for x in same.read_text().splitlines()]
    pairs = [(d["problem_id"], d["sample_index"]) for d in lines]
    dup = len(pairs) - len(set(pairs))
    rows.append(
        {
            "probe": "2 x sample --out same.jsonl (no --store) at once",
            "measured": f"exits {[r['rc'] for r in res]}; {len(pairs)} lines, {dup} duplicates",
            "target": "160 lines, 0 duplicates",
            "ok": all(r["rc"] == 0 for r in res) and len(pairs) == 160 and dup == 0,
        }
    )

    # k = 100,000 on one problem: samples on disk within seconds; SIGKILL loses at most a batch
    one = fresh("p1.jsonl", _dump(_problem(0)))
    for mode in ("--store", "--out"):
        work = base / f"bigk{mode.strip('-')}"
        work.mkdir()
        a = [
            "sample",
            "--model",
            "fake",
            "--engine",
            "fake",
            "--data",
            str(one),
            "--out",
            str(work / "s.jsonl"),
            "--k",
            "100000",
            "--no-grade",
        ]
        if mode == "--store":
            a += ["--store", str(work / "store")]
        p = subprocess.Popen(
            [sys.executable, "-c", "from scalemath.cli import main; main()", *a],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        t0 = time.perf_counter()

        def on_disk() -> int:
            if mode == "--store":
                return (
                    sum(f.read_bytes().count(b"\n") for f in (work / "store" / "shards").glob("*.jsonl"))
                    if (work / "store" / "shards").exists()
                    else 0
                )
            return (work / "s.jsonl").read_bytes().count(b"\n") if (work / "s.jsonl").exists() else 0

        first = None
        while time.perf_counter() - t0 < 60 and p.poll() is None:  # bounded
            if on_disk() > 0:
                first = time.perf_counter() - t0
                break
            time.sleep(0.05)
        time.sleep(1.0)
        p.kill()
        p.wait()
        n = on_disk()
        rows.append(
            {
                "probe": f"sample {mode} --k 100000 (one problem), SIGKILL",
                "measured": (f"first samples on disk after {first:.1f} s" if first is not None else "nothing on disk")
                + f"; {n} samples kept after SIGKILL"
                + ("" if p.returncode == -9 else f" (the run had ended: {p.returncode})"),
                "target": "on disk within 10 s (startup included); kept > 0",
                "ok": first is not None and first < 10 and n > 0,
            }
        )
    return rows


def outputs(args: argparse.Namespace) -> list[dict[str, Any]]:
    base = Path(tempfile.mkdtemp(prefix="bench_rel_outputs_"))
    try:
        return _outputs_rows(base, args.rss_kill_mb)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def print_probes(title: str) -> Callable[[list[dict[str, Any]]], None]:
    def show(rows: list[dict[str, Any]]) -> None:
        print(f"\n{title}")
        print(f"  {'probe':52} {'result':6}  measured (target)")
        for r in rows:
            print(f"  {r['probe'][:52]:52} {'PASS' if r['ok'] else 'FAIL':6}  {r['measured']} ({r['target']})")

    return show


def letgo(args: argparse.Namespace) -> list[dict[str, Any]]:
    from bench_reliability_server import letgo_rows

    return letgo_rows()


def server(args: argparse.Namespace) -> list[dict[str, Any]]:
    from bench_reliability_server import server_rows

    return server_rows()


def print_server(rows: list[dict[str, Any]]) -> None:
    from bench_reliability_server import print_server as show

    print()
    show(rows)


def teacher(args: argparse.Namespace) -> list[dict[str, Any]]:
    from bench_reliability_server import teacher_rows

    rows, breakdown = teacher_rows()
    for r in rows:
        r["ok"] = r["recorded_error"] == (r["kind"] != "(good replies around them)")
    if rows:
        rows[0]["breakdown"] = breakdown
    return rows


def print_teacher(rows: list[dict[str, Any]]) -> None:
    from bench_reliability_server import print_teacher as show

    print()
    show(rows, rows[0].get("breakdown", "") if rows else "")


SECTIONS: dict[str, tuple[Callable[[argparse.Namespace], list[dict[str, Any]]], Callable[[list], None]]] = {
    "readers": (readers, print_readers),
    "store": (store, print_store),
    "contamination": (contamination, print_contamination),
    "rft_bound": (rft_bound, print_rft_bound),
    "server": (server, print_server),
    "teacher": (teacher, print_teacher),
    "outputs": (outputs, print_probes("lost data (issue 25): outputs onto inputs, links, full disk, kills, locks")),
    "letgo": (letgo, print_probes("a server that lets go (issue 25): disconnects, stalls, big bodies, empty key")),
}
import reliability_input_probes  # noqa: E402, F401  (adds its "input_probes" section to SECTIONS)


def main() -> int:
    global args_rss_kill
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", action="append", default=[], help="run only this section (repeatable)")
    ap.add_argument(
        "--command",
        dest="commands",
        action="append",
        default=[],
        help="readers: only commands containing this text (repeatable)",
    )
    ap.add_argument(
        "--kind",
        dest="kinds",
        action="append",
        default=[],
        choices=KINDS,
        help="readers: only this malformed input (repeatable)",
    )
    ap.add_argument("--huge-mb", type=float, default=50.0, help="size of the huge line (MB)")
    ap.add_argument("--rss-kill-mb", type=float, default=4096.0, help="kill a run above this RSS")
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument(
        "--baseline-src",
        default=os.environ.get("BENCH_BASELINE_SRC"),
        help="store: also run this source tree (e.g. a checkout of main's src) for comparison",
    )
    ap.add_argument("--store-problems", type=int, default=400, help="store: problems (x k = samples)")
    ap.add_argument("--store-k", type=int, default=2)
    ap.add_argument("--rft-pool", default="", help="rft_bound: a make_rft_pool.py folder (default: build a small one)")
    ap.add_argument("--pool-limit", type=int, default=500, help="rft_bound: questions of the pool built")
    a = ap.parse_args()
    args_rss_kill = int(a.rss_kill_mb)
    ok = True
    for name, (fn, show) in SECTIONS.items():
        if a.only and name not in a.only:
            continue
        t0 = time.perf_counter()
        rows = fn(a)
        show(rows)
        print(f"[{name}: {time.perf_counter() - t0:.0f} s]")
        ok &= all(r.get("ok", True) for r in rows)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
