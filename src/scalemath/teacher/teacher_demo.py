"""The teacher demo: a real instruction-tuned model drives the augmentation pipeline over HTTP.
`run_teacher_demo` serves the teacher, runs the augment query, respond and synth stages against it
and counts every output.

How it works, in full: docs/modules.md (`scalemath.teacher.teacher_demo`).
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scalemath.outputs import write_text

if TYPE_CHECKING:
    from scalemath.methods.augment import QueryConfig, RespondConfig, SynthConfig


@dataclass
class TeacherDemoConfig:
    """Settings of `run_teacher_demo` (defaults sized for a few minutes on a small shared CPU).

    Args:
        out: run folder (inputs, outputs, reports, cache, server log, summary.json).
        model: the served teacher: a prepared folder, "" = SmolLM2 prepared into its default
            folder (converted on first use), or "fake" (the deterministic stand-in; plumbing only).
        url: an OpenAI-compatible server to use instead of starting one (then `model` is unused).
        teacher_model: the model name sent in requests (and served under, when started here).
        seeds: number of seed questions.
        seed_file: GSM8K-format (or any load_problems format) seed file; None = procedural problems.
        strategies: MuggleMath strategies for `augment query`.
        query_max_tokens: token budget of a new question.
        respond_n: answers per question for the majority filter.
        respond_max_tokens: token budget of an answer (also synth's verify and answer steps).
        min_votes: majority filter: least votes of the agreed answer.
        temperature: teacher sampling temperature (query, respond, synth answers).
        seed: base seed of everything (seed problems, teacher samples).
        against: test sets for decontamination; () = GSM8K test if on disk, else a held-out
            procedural test split written to OUT.
        data_dir: folder holding gsm8k/test.jsonl (default $SCALEMATH_DATA or ../shared/data).
        seed_mode: "" = "engine" for a server started here (batched, reproducible), else
            "per_sample".
        serve_args: extra `scalemath serve` options (e.g. ["--device", "cpu"]).
        serve_threads: torch threads of the server started here (0 = torch's default; 1 is the
            fastest on a small shared CPU, see `ServeProcess`).
        start_timeout: seconds to wait for the server to load the model.
    """

    out: str = "runs/teacher"
    model: str = ""
    url: str | None = None
    teacher_model: str = "smollm2"
    seeds: int = 8
    seed_file: str | None = None
    strategies: tuple[str, ...] = ("change_numbers", "complexity")
    query_max_tokens: int = 96
    respond_n: int = 3
    respond_max_tokens: int = 128
    min_votes: int = 2
    temperature: float = 0.7
    seed: int = 0
    against: tuple[str, ...] = ()
    data_dir: str | None = None
    seed_mode: str = ""
    serve_args: tuple[str, ...] = ()
    serve_threads: int = 1
    start_timeout: float = 900.0

    def __post_init__(self):
        if self.seeds < 1 or self.respond_n < 1 or self.min_votes < 1:
            raise ValueError("seeds, respond_n and min_votes must be >= 1")
        if self.min_votes > self.respond_n:
            raise ValueError(f"min_votes={self.min_votes} can never be reached with respond_n={self.respond_n}")
        self.strategies = tuple(self.strategies)
        self.against = tuple(self.against)
        self.serve_args = tuple(self.serve_args)
        stage_configs(self)  # a setting the augment stages refuse fails here, before a server starts


@dataclass
class _Stage:
    name: str
    report: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def stage_configs(cfg: TeacherDemoConfig) -> tuple[QueryConfig, RespondConfig, SynthConfig]:
    """The query, respond and synth settings of the demo (the augment commands' defaults
    otherwise); ValueError for a setting they refuse."""
    from scalemath.methods.augment import QueryConfig, RespondConfig, SynthConfig

    query = QueryConfig(
        strategies=cfg.strategies, max_tokens=cfg.query_max_tokens, temperature=cfg.temperature, seed=cfg.seed
    )
    respond = RespondConfig(
        n=cfg.respond_n,
        filter="majority",
        min_votes=cfg.min_votes,
        max_tokens=cfg.respond_max_tokens,
        temperature=cfg.temperature,
        seed=cfg.seed,
    )
    answer = RespondConfig(
        n=1,
        filter="none",
        temperature=cfg.temperature,
        max_tokens=cfg.respond_max_tokens,
        template="xwin_answer_gsm8k",
        seed=cfg.seed,
        stop=("\n### Problem", "\n### New Question"),
    )
    synth = SynthConfig(max_tokens_verify=cfg.respond_max_tokens, seed=cfg.seed, answer=answer)
    return query, respond, synth


def write_seeds(cfg: TeacherDemoConfig, path: Path) -> tuple[int, str]:
    """Write the seed problems to `path`; returns (count, description)."""
    from scalemath.records import write_jsonl

    if cfg.seed_file:
        from scalemath.datasets import load_problems

        probs = list(load_problems(cfg.seed_file, limit=cfg.seeds))
        if not probs:
            raise ValueError(f"no problems in {cfg.seed_file}")
        return write_jsonl(path, probs), f"{cfg.seed_file} (first {len(probs)})"
    from scalemath.datasets.procedural import generate

    return write_jsonl(path, generate(cfg.seeds, seed=cfg.seed, split="train")), "procedural (train split)"


def resolve_against(cfg: TeacherDemoConfig, out: Path) -> list[str]:
    """The decontamination test sets: cfg.against, else GSM8K test if found, else a procedural
    test split written to OUT/test_procedural.jsonl."""
    if cfg.against:
        return list(cfg.against)
    from scalemath.methods.contamination import load_test_set

    try:
        load_test_set("gsm8k", cfg.data_dir)
        return ["gsm8k"]
    except FileNotFoundError:
        from scalemath.datasets.procedural import generate
        from scalemath.records import write_jsonl

        path = out / "test_procedural.jsonl"
        if not path.exists():
            write_jsonl(path, generate(300, seed=cfg.seed, split="test"))
        return [str(path)]


@contextlib.contextmanager
def _sigterm_runs_cleanup():
    """While inside: SIGTERM raises SystemExit (in the main thread), so `finally` blocks run and
    the server child is stopped instead of orphaned when the demo itself is terminated."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    prev = signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, prev)


def run_teacher_demo(cfg: TeacherDemoConfig, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the demo (see the module doc); returns the summary, also written to OUT/summary.json."""
    with _sigterm_runs_cleanup():
        return _run(cfg, log or (lambda _m: None))


def _run(cfg: TeacherDemoConfig, log: Callable[[str], None]) -> dict[str, Any]:
    from scalemath.datasets import load_problems
    from scalemath.methods.augment.stage import Output, make_teacher, run_query, run_respond, run_synth
    from scalemath.methods.contamination import build_decontaminator
    from scalemath.records import write_jsonl

    query_cfg, respond_cfg, synth_cfg = stage_configs(cfg)
    t_all = time.perf_counter()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds_path = out / "seeds.jsonl"
    n_seeds, seed_desc = write_seeds(cfg, seeds_path)
    against = resolve_against(cfg, out)
    log(f"{n_seeds} seed questions ({seed_desc}); decontaminating against {against}")

    server = None
    teacher: dict[str, Any] = {"name": cfg.teacher_model}
    if cfg.url:
        url = cfg.url
        teacher.update(url=url, started_here=False)
    else:
        from scalemath.teacher.serve_process import ServeProcess

        model = cfg.model
        if not model:
            from scalemath.teacher.smollm2 import prepare_smollm2

            model = str(prepare_smollm2(log=log))
        server = ServeProcess(
            model,
            served_name=cfg.teacher_model,
            log_path=out / "serve.log",
            extra_args=cfg.serve_args,
            start_timeout=cfg.start_timeout,
            threads=cfg.serve_threads,
        )
        log(f"starting `scalemath serve --model {model}` on {server.url} (log: {out / 'serve.log'})")
        server.start()
        url = server.url
        teacher.update(
            url=url,
            model=model,
            started_here=True,
            threads=cfg.serve_threads,
            load_seconds=round(server.start_seconds, 1),
        )
        log(f"teacher up after {server.start_seconds:.1f} s")
    decon = build_decontaminator(against, data_dir=cfg.data_dir)
    seed_mode = cfg.seed_mode or ("per_sample" if cfg.url else "engine")

    def new_teacher() -> Any:  # one client per stage (a stage's cache closes its engine), as the commands do
        return make_teacher(url, cfg.teacher_model, chat=True, seed_mode=seed_mode)

    stages: dict[str, _Stage] = {}
    try:

        def stage(name: str, run: Callable[[Output], dict[str, Any]], out_file: Path) -> None:
            log(f"augment {name} ...")
            t0 = time.perf_counter()
            report = run(Output(out_file, decon=decon, cache=out / "cache.sqlite"))
            st = _Stage(name, report, time.perf_counter() - t0)
            stages[name] = st
            log(f"augment {name}: {st.seconds:.1f} s")

        stage("query", lambda o: run_query(load_problems(seeds_path), new_teacher(), query_cfg, o), out / "query.jsonl")
        new_questions = list(load_problems(out / "query.jsonl")) if (out / "query.jsonl").stat().st_size else []
        respond_in = out / "respond_input.jsonl"
        if new_questions:
            write_jsonl(respond_in, new_questions)
            respond_source = "query output"
        else:
            write_jsonl(respond_in, load_problems(seeds_path))
            respond_source = "seed questions (query kept none)"
        stage(
            "respond",
            lambda o: run_respond(load_problems(respond_in), new_teacher(), respond_cfg, o),
            out / "respond.jsonl",
        )
        stages["respond"].report["input_source"] = respond_source
        stage("synth", lambda o: run_synth(load_problems(seeds_path), new_teacher(), synth_cfg, o), out / "synth.jsonl")
    finally:
        if server is not None:
            server.stop(timeout=10)
    summary = summarize(cfg, stages, n_seeds, seed_desc, against, teacher)
    summary["seconds_total"] = round(time.perf_counter() - t_all, 1)
    write_text(out / "summary.json", json.dumps(summary, indent=1, ensure_ascii=False, default=str))
    return summary


def _usage(rep: dict[str, Any]) -> dict[str, Any]:
    u = rep.get("usage") or {}
    return {k: u.get(k, 0) for k in ("requested", "hits", "misses", "errors", "prompt_tokens", "completion_tokens")}


def _finalize(rep: dict[str, Any]) -> dict[str, Any]:
    fin = rep["finalize"]
    dropped = {k: v for k, v in fin["dropped"].items() if v}
    return {
        "in": fin["seen"],
        "contaminated": fin["dropped"].get("contaminated", 0),
        "dropped": dropped,
        "written": rep["written"],
    }


def _group(counts: dict[str, Any], name: str) -> dict[str, int]:
    return dict(counts.get("by_group", {}).get(name, {}))


def _rejected(group: dict[str, int]) -> dict[str, int]:
    return {k.removeprefix("rejected:"): v for k, v in group.items() if k.startswith("rejected:")}


def summarize(
    cfg: TeacherDemoConfig,
    stages: dict[str, _Stage],
    n_seeds: int,
    seed_desc: str,
    against: list[str],
    teacher: dict[str, Any],
) -> dict[str, Any]:
    """The demo summary from the three reports, with consistency checks of the counts."""
    out: dict[str, Any] = {
        "config": asdict(cfg),
        "teacher": teacher,
        "seeds": {"count": n_seeds, "source": seed_desc},
        "against": against,
        "stages": {},
        "checks": {},
    }
    checks = out["checks"]
    if "query" in stages:
        rep = stages["query"].report
        g = rep["generation"]
        q = {
            "seconds": round(stages["query"].seconds, 1),
            "requested": g["generated"],
            "parsed": g["kept"],
            "malformed": dict(g["rejected"]),
            "finalize": _finalize(rep),
            "usage": _usage(rep),
        }
        out["stages"]["query"] = q
        checks["query: requested == seeds x strategies"] = g["generated"] == n_seeds * len(cfg.strategies)
        checks["query: parsed + malformed == requested"] = g["kept"] + sum(g["rejected"].values()) == g["generated"]
        checks["query: finalize in == parsed"] = q["finalize"]["in"] == g["kept"]
    if "respond" in stages:
        rep = stages["respond"].report
        g = rep["generation"]
        qs, ans = _group(g, "questions"), _group(g, "answers")
        n_q = qs.get("questions", 0)
        r = {
            "seconds": round(stages["respond"].seconds, 1),
            "input": rep.get("input_source", ""),
            "questions": n_q,
            "answers": g["generated"],
            "no_answer": ans.get("no_answer", 0),
            "teacher_errors": ans.get("teacher_error", 0),
            "questions_kept_by_majority": qs.get("kept_questions", 0),
            "questions_filtered_out": dict(g["rejected"]),
            "answers_kept": g["kept"],
            "finalize": _finalize(rep),
            "usage": _usage(rep),
        }
        out["stages"]["respond"] = r
        checks["respond: answers == n x questions"] = g["generated"] == cfg.respond_n * n_q
        checks["respond: kept + filtered questions == questions"] = (
            r["questions_kept_by_majority"] + sum(g["rejected"].values()) == n_q
        )
        checks["respond: finalize in == answers kept"] = r["finalize"]["in"] == g["kept"]
    if "synth" in stages:
        rep = stages["synth"].report
        g, a = rep["generation"], rep.get("answering", {})
        cr, ve = _group(g, "create"), _group(g, "verify")
        s: dict[str, Any] = {
            "seconds": round(stages["synth"].seconds, 1),
            "create": {"requested": cr.get("generated", 0), "parsed": cr.get("kept", 0), "malformed": _rejected(cr)},
            "verify": {
                "requested": ve.get("generated", 0),
                "valid": ve.get("valid", 0),
                "repaired": ve.get("repaired", 0),
                "rejected": _rejected(ve),
            },
            "answer": {
                "questions": _group(a, "questions").get("questions", 0),
                "answers": a.get("generated", 0),
                "no_answer": _group(a, "answers").get("no_answer", 0),
                "kept": a.get("kept", 0),
            },
            "finalize": _finalize(rep),
            "usage": _usage(rep),
        }
        out["stages"]["synth"] = s
        c, v = s["create"], s["verify"]
        checks["synth: create requested == seeds"] = c["requested"] == n_seeds
        checks["synth: create parsed + malformed == requested"] = (
            c["parsed"] + sum(c["malformed"].values()) == c["requested"]
        )
        checks["synth: verify requested == create parsed"] = v["requested"] == c["parsed"]
        checks["synth: valid + repaired + rejected == verified"] = (
            v["valid"] + v["repaired"] + sum(v["rejected"].values()) == v["requested"]
        )
        checks["synth: answered questions == valid + repaired"] = s["answer"]["questions"] == v["valid"] + v["repaired"]
        checks["synth: finalize in == answers kept"] = s["finalize"]["in"] == s["answer"]["kept"]
    for st in out["stages"].values():
        fin = st["finalize"]
        checks.setdefault("every stage: written + dropped == finalize in", True)
        checks["every stage: written + dropped == finalize in"] &= (
            fin["written"] + sum(fin["dropped"].values()) == fin["in"]
        )
    total: dict[str, int] = {}
    for st in out["stages"].values():
        for k, val in st["usage"].items():
            total[k] = total.get(k, 0) + val
    out["usage_total"] = total
    return out


def print_summary(summary: dict[str, Any], console=None) -> None:
    """The demo summary as tables (rich)."""
    from rich.console import Console
    from rich.table import Table

    con = console or Console()
    t = summary["teacher"]
    con.print(
        f"[bold]teacher[/]: {t.get('model') or t['name']} at {t['url']}"
        + (f" (loaded in {t['load_seconds']} s)" if t.get("load_seconds") is not None else "")
    )
    con.print(
        f"seeds: {summary['seeds']['count']} from {summary['seeds']['source']}; "
        f"decontaminated against {summary['against']}"
    )
    st = summary["stages"]

    def fmt(d: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(d.items(), key=lambda kv: -kv[1])) or "-"

    def drops(fin: dict[str, Any]) -> str:
        other = {k: v for k, v in fin["dropped"].items() if k != "contaminated"}
        return (
            f"decontaminated {fin['contaminated']}"
            + (f", dedupe {fmt(other)}" if other else "")
            + f" -> [bold]written {fin['written']}[/]"
        )

    tab = Table(title="augmentation over HTTP: what came back, and what survived", show_lines=True)
    tab.add_column("stage")
    tab.add_column("counts")
    tab.add_column("s", justify="right")
    if "query" in st:
        q = st["query"]
        tab.add_row(
            "query",
            f"requested {q['requested']} -> parsed {q['parsed']}\n"
            f"malformed: {fmt(q['malformed'])}\n{drops(q['finalize'])}",
            str(q["seconds"]),
        )
    if "respond" in st:
        r = st["respond"]
        tab.add_row(
            "respond",
            f"{r['questions']} questions ({r['input']}) x {summary['config']['respond_n']} "
            f"= {r['answers']} answers, {r['no_answer']} with no final answer\n"
            f"majority kept {r['questions_kept_by_majority']} questions / {r['answers_kept']} answers; "
            f"filtered out: {fmt(r['questions_filtered_out'])}\n{drops(r['finalize'])}",
            str(r["seconds"]),
        )
    if "synth" in st:
        s = st["synth"]
        c, v, a = s["create"], s["verify"], s["answer"]
        tab.add_row(
            "synth",
            f"create: requested {c['requested']} -> parsed {c['parsed']}; malformed: {fmt(c['malformed'])}\n"
            f"verify: {v['requested']} -> valid {v['valid']}, repaired {v['repaired']}; "
            f"rejected: {fmt(v['rejected'])}\n"
            f"answer: {a['answers']} answers, {a['no_answer']} with no final answer, kept {a['kept']}\n"
            f"{drops(s['finalize'])}",
            str(s["seconds"]),
        )
    con.print(tab)
    u = Table(title="teacher usage (new calls are paid; hits come from the cache)")
    for col in ("stage", "completions", "cache hits", "new", "errors", "prompt tokens", "completion tokens"):
        u.add_column(col)
    for name, s in list(st.items()) + [("total", {"usage": summary["usage_total"]})]:
        x = s["usage"]
        u.add_row(
            name,
            *(
                str(x.get(k, 0))
                for k in ("requested", "hits", "misses", "errors", "prompt_tokens", "completion_tokens")
            ),
        )
    con.print(u)
    bad = [k for k, ok in summary["checks"].items() if not ok]
    con.print(
        f"count checks: {len(summary['checks']) - len(bad)}/{len(summary['checks'])} hold"
        + (f"; FAILED: {bad}" if bad else "")
    )
    if "seconds_total" in summary:
        con.print(f"total {summary['seconds_total']} s; outputs and reports in {summary['config']['out']}")


__all__ = [
    "TeacherDemoConfig",
    "print_summary",
    "resolve_against",
    "run_teacher_demo",
    "stage_configs",
    "summarize",
    "write_seeds",
]
