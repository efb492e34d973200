"""Adversarial input probes (issue 25, the input half): one section of bench_reliability's matrix.

    PYTHONPATH=src python benchmarks/bench_reliability.py --only input_probes
    PYTHONPATH=src python benchmarks/reliability_input_probes.py          # this section alone
    PYTHONPATH=src python benchmarks/reliability_input_probes.py --probe yaml   # names containing it

Each probe is a small hostile or careless input (under 1 MB, except the 3.9 MB `{}` line the issue
reports) given to one `scalemath` command, run as its own process (bench_reliability.run_cli: peak
RSS, seconds, a watchdog). Classes, as in the issue:

* wrong: a number that would be silently wrong (`"correct": "false"`, wrong-typed fields, a repeated
  key under rft --workers, a duplicated CSV header, a judge whose every request failed);
* bounded: work from a small input (YAML alias bombs, /dev/zero as a config, a line of 1.3 M `{}`,
  deep JSON or YAML, fit on 20,000 rows or x = 1e300, --bootstrap 1e8, --max-tokens 1e9, a
  template format spec that would pad to 1 GB);
* options: a user's mistake must be `error: ...` naming the option or FILE:LINE, exit 2, before any
  model loads (top-p 0/nan/2, seed 2**64, unknown dataset, bad templates, workers -3, n -5, ci 2,
  tiny shapes, an empty corpus, epochs: three, SCALEMATH_MAX_LINE_BYTES=abc, a truncated
  metrics.json, ...).

A probe passes when the exit status is the one expected, no traceback and no "internal error" was
printed, the message matches, peak RSS < 1 GiB and it took < 60 s. Importing this module adds its
section to bench_reliability.SECTIONS.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GIB_MB = 1024
LIMIT_S = 60.0


@dataclass
class Probe:
    name: str
    kind: str  # wrong / bounded / options
    files: dict[str, bytes | Callable[[Path], bytes]]  # name in the work folder -> content
    argv: Callable[[Path, str], list[str]]  # (work folder, tiny model) -> scalemath arguments
    rc: int = 2  # expected exit status
    expect: str = ""  # regex the message (stderr + stdout) must match
    env: dict[str, str] = field(default_factory=dict)
    needs_model: bool = False


def _j(*objs: Any) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objs)


def _s(i: int, **kw: Any) -> dict[str, Any]:
    d = {
        "problem_id": f"p{i}",
        "question": f"What is {i} + 2?",
        "answer": str(i + 2),
        "completion": f"#### {i + 2}",
        "correct": True,
        "sample_index": 0,
        "temperature": 0.0,
        "model": "m",
    }
    d.update(kw)
    return d


def _samples_with(**bad: Any) -> bytes:
    """Two good samples and one whose fields are replaced by `bad` (line 3)."""
    return _j(_s(0), _s(1, correct=False, completion="#### 0"), _s(2, **bad))


_BOMB = (
    b"a: &a ["
    + b",".join([b'"lol"'] * 9)
    + b"]\n"
    + b"".join(f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n".encode() for p, c in zip("abcdefgh", "bcdefghi"))
)
_GOOD_PROBLEM = _j({"id": "p0", "question": "What is 1 + 2?", "solution": "1 + 2 = 3\n#### 3", "answer": "3"})
_FIT = b"data_size,accuracy\n100,0.2\n200,0.3\n400,0.4\n800,0.5\n"
_NOMODEL = "no-such-model-dir"  # probes refused before loading name a model that does not exist


def _sample_argv(*extra: str) -> Callable[[Path, str], list[str]]:
    return lambda w, m: [
        "sample",
        "--model",
        _NOMODEL,
        "--data",
        str(w / "p.jsonl"),
        "--out",
        str(w / "s.jsonl"),
        "--k",
        "1",
        "--device",
        "cpu",
        *extra,
    ]


def _compare_dirs(w: Path) -> bytes:
    for name, bad in (("a", False), ("b", True)):
        d = w / name
        d.mkdir(exist_ok=True)
        rows = [_s(i, correct=(("false" if bad else False) if i % 2 else True), sample_index=0) for i in range(4)]
        (d / "samples.jsonl").write_bytes(_j(*rows))
    return b""


def _fit_rows(n: int, big: bool = False) -> bytes:
    rows = [f"{1e300 * (i + 1) if big else 100 + i},{(i % 97) / 100}" for i in range(n)]
    return ("data_size,accuracy\n" + "\n".join(rows) + "\n").encode()


def probes() -> list[Probe]:
    P = Probe
    out = [
        # ---------------------------------------------------------------- wrong numbers
        P(
            "eval --samples correct 'false'",
            "wrong",
            {"s.jsonl": _samples_with(correct="false")},
            lambda w, m: ["eval", "--samples", str(w / "s.jsonl"), "--out", str(w / "ev")],
            expect=r"s\.jsonl:3: field 'correct' must be a boolean",
        ),
        P(
            "compare correct 'false'",
            "wrong",
            {"_": _compare_dirs},
            lambda w, m: ["compare", str(w / "a"), str(w / "b"), "--bootstrap", "10"],
            expect=r"samples\.jsonl:2: field 'correct'",
        ),
        P(
            "metrics correct 2",
            "wrong",
            {"s.jsonl": _samples_with(correct=2)},
            lambda w, m: ["metrics", str(w / "s.jsonl"), "--bootstrap", "0"],
            expect=r":3: field 'correct'",
        ),
        P(
            "grade question number",
            "wrong",
            {"s.jsonl": _samples_with(question=7)},
            lambda w, m: ["grade", "--input", str(w / "s.jsonl"), "--output", str(w / "g.jsonl"), "--workers", "1"],
            expect=r":3: field 'question' must be a string, got number",
        ),
        P(
            "grade completion null",
            "wrong",
            {"s.jsonl": _samples_with(completion=None)},
            lambda w, m: ["grade", "--input", str(w / "s.jsonl"), "--output", str(w / "g.jsonl"), "--workers", "1"],
            expect=r":3: field 'completion' must be a string, got null",
        ),
        P(
            "metrics completion list",
            "wrong",
            {"s.jsonl": _samples_with(completion=["#### 4"])},
            lambda w, m: ["metrics", str(w / "s.jsonl"), "--bootstrap", "0"],
            expect=r":3: field 'completion' must be a string, got list",
        ),
        P(
            "audit sample question list",
            "wrong",
            {"s.jsonl": _samples_with(question=["a"]).replace(b'"correct": ', b'"reason": "ok", "correct": ')},
            lambda w, m: ["audit", "sample", "-i", str(w / "s.jsonl"), "-o", str(w / "a.jsonl")],
            expect=r":3: field 'question'",
        ),
        P(
            "data convert question number",
            "wrong",
            {"g.jsonl": _j({"question": "q", "answer": "#### 1"}, {"question": 12, "answer": "#### 2"})},
            lambda w, m: ["data", "convert", "--input", str(w / "g.jsonl"), "--out", str(w / "c.jsonl")],
            expect=r"g\.jsonl:2: field 'question'",
        ),
        P(
            "decontaminate question bool",
            "wrong",
            {
                "p.jsonl": _GOOD_PROBLEM + _j({"id": "p1", "question": True, "solution": "#### 1"}),
                "t.jsonl": _GOOD_PROBLEM,
            },
            lambda w, m: [
                "decontaminate",
                "--input",
                str(w / "p.jsonl"),
                "--against",
                str(w / "t.jsonl"),
                "--out",
                str(w / "d.jsonl"),
            ],
            expect=r"p\.jsonl:2: field 'question'",
        ),
        P(
            "augment subset completion number",
            "wrong",
            {"s.jsonl": _samples_with(completion=5)},
            lambda w, m: [
                "augment",
                "subset",
                "--input",
                str(w / "s.jsonl"),
                "--out",
                str(w / "o.jsonl"),
                "--questions",
                "1",
            ],
            expect=r":3: field 'completion'",
        ),
        P(
            "judge meta string",
            "wrong",
            {"s.jsonl": _samples_with(meta="x", correct=False)},
            lambda w, m: [
                "judge",
                str(w / "s.jsonl"),
                "--out",
                str(w / "j.jsonl"),
                "--judge-url",
                "http://127.0.0.1:9/v1",
                "--judge-model",
                "x",
                "--timeout",
                "1",
            ],
            expect=r":3: field 'meta' must be an object",
        ),
        P(
            "rft repeated key --workers 3",
            "wrong",
            {
                "s.jsonl": b"".join(
                    b'{"question": "q%d", "answer": "1", "completion": "#### 1", "correct": true, "question": "z%d"}\n'
                    % (i, i % 7)
                    for i in range(300)
                )
            },
            lambda w, m: ["rft", "--samples", str(w / "s.jsonl"), "--out", str(w / "r.jsonl"), "--workers", "3"],
            expect=r"field 'question' appears twice",
        ),
        P(
            "rft repeated key --workers 1",
            "wrong",
            {"s.jsonl": b'{"question": "q", "answer": "1", "completion": "#### 1", "question": "z"}\n'},
            lambda w, m: ["rft", "--samples", str(w / "s.jsonl"), "--out", str(w / "r.jsonl"), "--workers", "1"],
            expect=r"s\.jsonl:1: field 'question' appears twice",
        ),
        P(
            "fit duplicated header",
            "wrong",
            {"r.csv": b"data_size,accuracy,accuracy\n100,0.2,0.9\n200,0.3,0.8\n400,0.4,0.7\n800,0.5,0.6\n"},
            lambda w, m: ["fit", str(w / "r.csv")],
            expect=r"r\.csv:1: column\(s\) \['accuracy'\] appear more than once",
        ),
        P(
            "judge every request failed",
            "wrong",
            {"s.jsonl": _j(_s(0, correct=False, completion="#### 9"), _s(1, correct=False, completion="#### 8"))},
            lambda w, m: [
                "judge",
                str(w / "s.jsonl"),
                "--out",
                str(w / "j.jsonl"),
                "--judge-url",
                "http://127.0.0.1:9/v1",
                "--judge-model",
                "x",
                "--timeout",
                "1",
            ],
            rc=1,
            expect=r"every judge request failed",
        ),
        # ---------------------------------------------------------------- bounded work
        P(
            "train --config alias bomb",
            "bounded",
            {"c.yaml": _BOMB},
            lambda w, m: ["train", "--config", str(w / "c.yaml")],
            expect=r"c\.yaml:\d+: YAML expands to more than",
        ),
        P(
            "experiment run alias bomb",
            "bounded",
            {"c.yaml": _BOMB},
            lambda w, m: ["experiment", "run", str(w / "c.yaml"), "--out", str(w / "run"), "--dry-run"],
            expect=r"YAML expands to more than",
        ),
        P(
            "demo --config alias bomb",
            "bounded",
            {"c.yaml": _BOMB},
            lambda w, m: ["demo", "--config", str(w / "c.yaml"), "--out", str(w / "demo")],
            expect=r"YAML expands to more than",
        ),
        P(
            "demo --config /dev/zero",
            "bounded",
            {},
            lambda w, m: ["demo", "--config", "/dev/zero", "--out", str(w / "demo")],
            expect=r"/dev/zero: larger than",
        ),
        P(
            "study nested 50,000 deep",
            "bounded",
            {"c.yaml": b"name: x\nsft: " + b"[" * 50_000 + b"]" * 50_000 + b"\n"},
            lambda w, m: ["experiment", "run", str(w / "c.yaml"), "--out", str(w / "run"), "--dry-run"],
            expect=r"c\.yaml",
        ),
        P(
            "grade line of 1.3 M {}",
            "bounded",
            {
                "s.jsonl": b'{"question": "q", "completion": "c", "answer": "1", "meta": {"x": ['
                + b"{}," * 1_300_000
                + b"{}]}}\n"
            },
            lambda w, m: ["grade", "--input", str(w / "s.jsonl"), "--output", str(w / "g.jsonl"), "--workers", "1"],
            expect=r"s\.jsonl:1: more than [\d,]+ JSON values",
        ),
        P(
            "metrics JSON nested 200 deep",
            "bounded",
            {
                "s.jsonl": _j(_s(0))
                + b'{"question": "q", "completion": "c", "meta": '
                + b"[" * 200
                + b"]" * 200
                + b"}\n"
            },
            lambda w, m: ["metrics", str(w / "s.jsonl"), "--bootstrap", "0"],
            expect=r"s\.jsonl:2: JSON nested deeper than",
        ),
        P(
            "fit 20,000 rows",
            "bounded",
            {"r.csv": _fit_rows(20_000)},
            lambda w, m: ["fit", str(w / "r.csv")],
            expect=r"r\.csv: 20,000 points; a scaling fit takes at most",
        ),
        P(
            "fit x = 1e300",
            "bounded",
            {"r.csv": _fit_rows(6, big=True)},
            lambda w, m: ["fit", str(w / "r.csv")],
            expect=r"r\.csv: a value of 6e\+300",
        ),
        P(
            "fit falling accuracy",
            "bounded",
            {"r.csv": b"data_size,accuracy\n100,0.9\n200,0.8\n400,0.7\n800,0.6\n"},
            lambda w, m: ["fit", str(w / "r.csv")],
            rc=0,
        ),
        P(
            "metrics --bootstrap 1e8",
            "bounded",
            {"s.jsonl": _samples_with()},
            lambda w, m: ["metrics", str(w / "s.jsonl"), "--bootstrap", "100000000"],
            expect=r"--bootstrap.*100,000",
        ),
        P(
            "template {question:>999999999}",
            "bounded",
            {"p.jsonl": _GOOD_PROBLEM, "t.txt": b"Q: {question:>999999999}\nA:"},
            _sample_argv("--template", "t.txt"),
            expect=r"t\.txt:1: template placeholder \{question\} has a conversion or format spec",
        ),
        P(
            "template {question.__class__}",
            "bounded",
            {"p.jsonl": _GOOD_PROBLEM, "t.txt": b"Q: {question.__class__.__mro__}\nA:"},
            _sample_argv("--template", "t.txt"),
            expect=r"t\.txt:1: template placeholder",
        ),
        P(
            "sample --max-tokens 1e9 (256-token context)",
            "bounded",
            {"p.jsonl": _GOOD_PROBLEM},
            lambda w, m: [
                "sample",
                "--model",
                m,
                "--data",
                str(w / "p.jsonl"),
                "--out",
                str(w / "s.jsonl"),
                "--k",
                "1",
                "--temperature",
                "0",
                "--max-tokens",
                "1000000000",
                "--device",
                "cpu",
                "--threads",
                "1",
            ],
            rc=0,
            needs_model=True,
        ),
        # ---------------------------------------------------------------- options
        *[
            P(
                f"sample --top-p {v}",
                "options",
                {"p.jsonl": _GOOD_PROBLEM},
                _sample_argv("--top-p", v),
                expect=r"top_p must be",
            )
            for v in ("0", "nan", "2")
        ],
        P(
            "sample --seed 2**64",
            "options",
            {"p.jsonl": _GOOD_PROBLEM},
            _sample_argv("--seed", str(2**64)),
            expect=r"seed must be in",
        ),
        P(
            "sample --temperature inf",
            "options",
            {"p.jsonl": _GOOD_PROBLEM},
            _sample_argv("--temperature", "inf"),
            expect=r"temperature must be a finite number",
        ),
        P(
            "sample --dataset bogus",
            "options",
            {"p.jsonl": _GOOD_PROBLEM},
            _sample_argv("--dataset", "bogus"),
            expect=r"--dataset.*unknown dataset 'bogus'",
        ),
        P(
            "sample template {source}",
            "options",
            {"p.jsonl": _GOOD_PROBLEM, "t.txt": b"Q: {question}\nSource: {source}\nA:"},
            _sample_argv("--template", "t.txt"),
            expect=r"t\.txt:2: template placeholder \{source\} is not filled",
        ),
        P(
            "sample template \\boxed{}",
            "options",
            {"p.jsonl": _GOOD_PROBLEM, "t.txt": b"Q: {question}\nPut the answer in \\boxed{}.\nA:"},
            _sample_argv("--template", "t.txt"),
            expect=r"t\.txt:2: template has a positional placeholder",
        ),
        P(
            "sample template Latin-1",
            "options",
            {"p.jsonl": _GOOD_PROBLEM, "t.txt": b"Q: {question}\nR\xe9ponse:"},
            _sample_argv("--template", "t.txt"),
            expect=r"t\.txt:2: byte 0xe9",
        ),
        P(
            "eval --top-k -1",
            "options",
            {"p.jsonl": _GOOD_PROBLEM},
            lambda w, m: [
                "eval",
                "--model",
                _NOMODEL,
                "--data",
                str(w / "p.jsonl"),
                "--out",
                str(w / "e"),
                "--top-k",
                "-1",
            ],
            expect=r"top.k",
        ),
        P(
            "grade --workers -3",
            "options",
            {"s.jsonl": _samples_with()},
            lambda w, m: ["grade", "--input", str(w / "s.jsonl"), "--output", str(w / "g.jsonl"), "--workers", "-3"],
            expect=r"--workers",
        ),
        P(
            "audit sample --n -5",
            "options",
            {"s.jsonl": _samples_with()},
            lambda w, m: ["audit", "sample", "-i", str(w / "s.jsonl"), "-o", str(w / "a.jsonl"), "--n", "-5"],
            expect=r"--n",
        ),
        P(
            "fit --ci 2",
            "options",
            {"r.csv": _FIT},
            lambda w, m: ["fit", str(w / "r.csv"), "--ci", "2"],
            expect=r"--ci",
        ),
        P(
            "fit --ci nan",
            "options",
            {"r.csv": _FIT},
            lambda w, m: ["fit", str(w / "r.csv"), "--ci", "nan"],
            expect=r"--ci",
        ),
        P(
            "fit one row",
            "options",
            {"r.csv": b"data_size,accuracy\n100,0.2\n"},
            lambda w, m: ["fit", str(w / "r.csv")],
            expect=r"r\.csv: no model can be fitted",
        ),
        *[
            P(
                f"tiny {flag} {v}",
                "options",
                {"c.txt": b"one plus one is two\n" * 20},
                lambda w, m, flag=flag, v=v: ["tiny", "--corpus", str(w / "c.txt"), "--out", str(w / "t"), flag, v],
                expect=want,
            )
            for flag, v, want in (
                ("--vocab", "1", r"vocab_size must be in"),
                ("--vocab", "1000000000", r"vocab_size must be in"),
                ("--hidden", "0", r"hidden_size must be in"),
                ("--lr", "nan", r"--lr.*finite"),
                ("--layers", "-2", r"num_layers must be in"),
            )
        ],
        P(
            "tiny empty corpus",
            "options",
            {"c.txt": b"\n\n"},
            lambda w, m: ["tiny", "--corpus", str(w / "c.txt"), "--out", str(w / "t"), "--steps", "1"],
            expect=r"c\.txt.*empty",
        ),
        P(
            "train --config epochs: three",
            "options",
            {"c.yaml": b"learning_rate: 1e-4\nepochs: three\n"},
            lambda w, m: ["train", "--config", str(w / "c.yaml"), "--model", _NOMODEL, "--data", "x", "--out", "y"],
            expect=r"c\.yaml:2: field 'epochs' must be a number",
        ),
        P(
            "demo --config seed: [1]",
            "options",
            {"c.yaml": b"seed: [1]\n"},
            lambda w, m: ["demo", "--config", str(w / "c.yaml"), "--out", str(w / "d")],
            expect=r"c\.yaml:1: field 'seed' must be an integer",
        ),
        P(
            "SCALEMATH_MAX_LINE_BYTES=abc",
            "options",
            {"s.jsonl": _samples_with()},
            lambda w, m: ["metrics", str(w / "s.jsonl"), "--bootstrap", "0"],
            env={"SCALEMATH_MAX_LINE_BYTES": "abc"},
            expect=r"SCALEMATH_MAX_LINE_BYTES",
        ),
        P(
            "--max-line-bytes 1e400",
            "options",
            {"s.jsonl": _samples_with()},
            lambda w, m: ["--max-line-bytes", "1e400", "metrics", str(w / "s.jsonl"), "--bootstrap", "0"],
            expect=r"--max-line-bytes",
        ),
        P(
            "report truncated metrics.json",
            "options",
            {"ev/metrics.json": b'{"summary": {"accuracy": 0.'},
            lambda w, m: ["report", str(w)],
            expect=r"metrics\.json:1: malformed or truncated JSON",
        ),
    ]
    return out


# ------------------------------------------------------------------------------------ running


def input_probes(args: argparse.Namespace) -> list[dict[str, Any]]:
    from bench_reliability import _prepare, has_traceback, run_cli

    base = Path(tempfile.mkdtemp(prefix="bench_inputs_"))
    chosen = [p for p in probes() if not getattr(args, "probes", None) or any(s in p.name for s in args.probes)]
    model = _NOMODEL
    if any(p.needs_model for p in chosen):  # bench_reliability's tiny random Llama, with a 256-token context
        model = str(base / "tiny256")
        shutil.copytree(_prepare(base), model)
        cfg = json.loads((Path(model) / "config.json").read_text())
        cfg["max_position_embeddings"] = 256
        (Path(model) / "config.json").write_text(json.dumps(cfg))
    rows = []
    for i, p in enumerate(chosen):
        work = base / f"probe{i}"
        work.mkdir()
        for name, content in p.files.items():
            data = content(work) if callable(content) else content
            if name != "_":
                (work / name).parent.mkdir(parents=True, exist_ok=True)
                (work / name).write_bytes(data)
        r = run_cli(p.argv(work, model), work, getattr(args, "rss_kill_mb", 4096.0), timeout=120.0, env=p.env)
        text = r["stderr"] + "\n" + r["stdout"]
        row = {
            "section": "input_probes",
            "probe": p.name,
            "class": p.kind,
            "rc": r["rc"],
            "want_rc": p.rc,
            "traceback": has_traceback(r),
            "internal": "internal error" in text,
            "rss_mb": round(r["rss_mb"]),
            "seconds": round(r["seconds"], 1),
            "matched": bool(re.search(p.expect, text)) if p.expect else True,
            "message": next((x.strip() for x in text.splitlines() if "rror" in x), "")[:160],
            "killed": r["killed"],
        }
        row["ok"] = (
            r["rc"] == p.rc
            and not row["traceback"]
            and not row["internal"]
            and row["matched"]
            and r["rss_mb"] < GIB_MB
            and r["seconds"] < LIMIT_S
            and r["killed"] is None
        )
        rows.append(row)
        if getattr(args, "verbose", False):
            print(json.dumps(row), flush=True)
        shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(base, ignore_errors=True)
    return rows


def print_input_probes(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    print("\ninput probes: exit status (wanted) / peak RSS / seconds / PASS-FAIL")
    for r in rows:
        flags = "".join(
            f" {f}"
            for f, on in (("TB", r["traceback"]), ("INTERNAL", r["internal"]), ("NO-MATCH", not r["matched"]))
            if on
        )
        verdict = "PASS" if r["ok"] else "FAIL"
        print(
            f"  {verdict} {r['class']:<8} {r['probe']:<40} rc={r['rc']}({r['want_rc']}) {r['rss_mb']:>5} MB "
            f"{r['seconds']:>5} s{flags}  {r['message']}"
        )
    by = {}
    for r in rows:
        by.setdefault(r["class"], []).append(r["ok"])
    print(
        f"{len(rows)} probes: {sum(r['ok'] for r in rows)} PASS, {sum(not r['ok'] for r in rows)} FAIL ("
        + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in by.items())
        + f"); max peak RSS {max(r['rss_mb'] for r in rows)} MB, slowest {max(r['seconds'] for r in rows)} s"
    )


SECTIONS = {"input_probes": (input_probes, print_input_probes)}


def _register() -> None:
    """Add this section to bench_reliability's matrix (run as a script or imported)."""
    for name in ("__main__", "bench_reliability"):
        mod = sys.modules.get(name)
        sections = getattr(mod, "SECTIONS", None)
        if isinstance(sections, dict) and mod is not sys.modules.get(__name__):
            sections.update(SECTIONS)


_register()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--probe", dest="probes", action="append", default=[], help="only probes whose name contains this")
    ap.add_argument("--rss-kill-mb", type=float, default=4096.0)
    ap.add_argument("--verbose", "-v", action="store_true")
    a = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    rows = input_probes(a)
    print_input_probes(rows)
    print("PASS" if all(r["ok"] for r in rows) else "FAIL")
    sys.exit(0 if all(r["ok"] for r in rows) else 1)
