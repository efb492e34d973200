"""`scalemath augment query|respond|synth`: teacher-driven data augmentation.

The teacher is any OpenAI-compatible server (`scalemath serve --model PATH` for a local model);
every call goes through a content-hash cache (`--cache`), so a re-run after a crash or with a
larger budget pays only for new calls. Outputs go through decontamination (on by default,
against the style's public test set unless `--against` is given) and dedupe before they are
written; a JSON report (`--report`, default OUT.report.json) records the counts, every removed
record and why, and the teacher's token usage and cost.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from scalemath.cli import _checks
from scalemath.methods.augment.stage import TEACHER_TIMEOUT, Output, make_teacher

augment_app = typer.Typer(
    help="Teacher-driven augmentation: MuggleMath queries/responses, Xwin-Math synthesis.", no_args_is_help=True
)


def _teacher(
    teacher_url: str,
    teacher_model: str,
    api_key: str | None,
    chat: bool,
    seed_mode: str,
    concurrency: int,
    timeout: float = TEACHER_TIMEOUT,
):
    """make_teacher with option errors reported as bad parameters."""
    with _checks.as_bad_parameter(ValueError, ImportError):
        teacher = make_teacher(
            teacher_url,
            teacher_model,
            api_key,
            chat=chat,
            seed_mode=seed_mode,
            concurrency=concurrency,
            timeout=timeout,
        )
    return teacher


def _split(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


# the options every teacher stage takes (`_stage`): name -> (type, option), in --help order
_TEACHER_OPTIONS: dict[str, tuple[Any, Any]] = {
    "teacher_url": (
        str,
        typer.Option(
            ..., "--teacher-url", help="Base URL of the OpenAI-compatible teacher (e.g. http://127.0.0.1:8000/v1)."
        ),
    ),
    "teacher_model": (str, typer.Option(..., "--teacher-model", help="Model name the server expects.")),
    "api_key": (
        str | None,
        typer.Option(
            None, "--api-key", envvar="SCALEMATH_TEACHER_KEY", help="Teacher API key (default $OPENAI_API_KEY)."
        ),
    ),
    "chat": (
        bool,
        typer.Option(
            False, "--chat/--no-chat", help="Send prompts as one chat user message (instruction-tuned teachers)."
        ),
    ),
    "seed_mode": (
        str,
        typer.Option(
            "per_sample",
            "--teacher-seed-mode",
            help="per_sample, per_request, or engine (for scalemath serve: batched, same samples as local).",
        ),
    ),
    "concurrency": (int, typer.Option(16, "--teacher-concurrency", help="Teacher requests in flight.")),
    "timeout": (
        float,
        typer.Option(
            TEACHER_TIMEOUT,
            "--timeout",
            min=0.001,
            help="Seconds per teacher request (past it the request is retried, then recorded as an error).",
        ),
    ),
}
_OUTPUT_OPTIONS: dict[str, tuple[Any, Any]] = {
    "cache": (Path | None, typer.Option(None, help="Teacher cache (SQLite); default OUT.cache.sqlite.")),
    "price_in": (float, typer.Option(0.0, help="Teacher price per 1M prompt tokens.")),
    "price_out": (float, typer.Option(0.0, help="Teacher price per 1M completion tokens.")),
    "against": (
        list[str],
        typer.Option(
            [],
            "--against",
            help="Test sets to decontaminate against (path, or gsm8k/math/math500); default: the style's.",
        ),
    ),
    "decontaminate": (bool, typer.Option(True, "--decontaminate/--no-decontaminate")),
    "data_dir": (
        Path | None,
        typer.Option(None, envvar="SCALEMATH_DATA", help="Folder holding gsm8k/ and math/ test sets."),
    ),
    "signature": (str, typer.Option("auto", help="Path signature for distinct-path dedupe ('' off).")),
    "question_threshold": (
        float,
        typer.Option(0.9, help="Drop questions near-duplicating an earlier one (Jaccard; 0: off)."),
    ),
    "report": (Path | None, typer.Option(None, help="Report JSON (default OUT.report.json).")),
}


def _output(
    input: Path,
    out: Path,
    style: str,
    *,
    against: list[str],
    decontaminate: bool,
    data_dir: Path | None,
    signature: str = "",
    question_threshold: float,
    report: Path | None,
    cache: Path | None,
    price_in: float,
    price_out: float,
) -> Output:
    """The stage's Output, after refusing outputs that are inputs (`_check_io`); a missing test
    set is a bad --against. signature "": no distinct-path dedupe (a stage without --signature)."""
    _check_io([input, *against], out, report, cache)
    from scalemath.methods.contamination import build_decontaminator

    decon = None
    if decontaminate:
        try:
            decon = build_decontaminator(against or [style], data_dir=data_dir)
        except FileNotFoundError as e:
            raise typer.BadParameter(
                f"{e} (decontamination is on by default; pass --against FILE, "
                "or --no-decontaminate to skip it knowingly)",
                param_hint="--against",
            ) from e
    return Output(
        out,
        decon=decon,
        signature=signature,
        question_threshold=question_threshold,
        report=report,
        cache=cache,
        price_in=price_in,
        price_out=price_out,
    )


@dataclass(frozen=True)
class _Stage:
    """A teacher stage command's shared options, bound (`_stage`): `output(input, out, style)` is
    `_output` and `teacher()` is `_teacher` (`teacher(teacher_url=..., teacher_model=...)`: another)."""

    output: Callable[..., Output]
    teacher: Callable[..., Any]


def _stage(*, signature: bool = True) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a teacher stage command (which takes `stage: _Stage`) the shared options: the teacher's
    right after its --out, the outputs' (--signature only where `signature`) after its own."""
    output_options = {k: v for k, v in _OUTPUT_OPTIONS.items() if signature or k != "signature"}

    def shared(options: dict[str, tuple[Any, Any]]) -> list[inspect.Parameter]:
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        return [inspect.Parameter(n, kind, default=opt, annotation=t) for n, (t, opt) in options.items()]

    def wrap(command: Callable[..., None]) -> Callable[..., None]:
        hints = typing.get_type_hints(command)
        own = [p.replace(annotation=hints[p.name]) for p in inspect.signature(command).parameters.values()]
        own = [p for p in own if p.name != "stage"]
        at = [p.name for p in own].index("out") + 1
        params = own[:at] + shared(_TEACHER_OPTIONS) + own[at:] + shared(output_options)

        @functools.wraps(command)
        def with_options(**kwargs: Any) -> None:
            teacher = functools.partial(_teacher, **{n: kwargs.pop(n) for n in _TEACHER_OPTIONS})
            stage = _Stage(functools.partial(_output, **{n: kwargs.pop(n) for n in output_options}), teacher)
            command(**kwargs, stage=stage)

        with_options.__signature__ = inspect.Signature(params, return_annotation=None)  # type: ignore[attr-defined]
        with_options.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
        return with_options

    return wrap


def _check_io(inputs: list[Any], out: Path, report: Path | None, cache: Path | None) -> None:
    """Refuse (exit 2, before any work) outputs that are inputs or symlinks; see scalemath.outputs."""
    from scalemath.outputs import check_outputs

    check_outputs(
        inputs,
        [
            ("--out", out),
            ("--report", report or out.with_suffix(".report.json")),
            ("--cache", cache or out.with_suffix(".cache.sqlite")),
        ],
    )


def _print_summary(report: dict[str, Any], report_path: Path) -> None:
    from rich.console import Console
    from rich.markup import escape

    con = Console(stderr=True)
    gen = report.get("generation", {})
    fin = report["finalize"]
    con.print(
        f"generated {gen.get('generated', '?')}, kept after parse/filter {gen.get('kept', '?')}, "
        f"rejected {dict(gen.get('rejected', {}))}"
    )
    con.print(f"finalize: in {fin['seen']}, written {report['written']}, dropped {fin['dropped']}")
    u = report.get("usage")
    if u:
        con.print(
            f"teacher: {u['requested']} completions requested, {u['hits']} from cache, "
            f"{u['misses']} new; new tokens {u['prompt_tokens']} in"
            f"{' (estimated)' if u['prompt_tokens_estimated'] else ''} / {u['completion_tokens']} out; "
            f"cost {u['cost']:.4f}"
        )
        if u.get("errors"):
            con.print(f"teacher errors (not cached; a re-run asks again): {escape(u['error_summary'])}")
    u2 = report.get("second_usage")
    if u2 and u2.get("errors"):
        con.print(f"second teacher errors: {escape(u2['error_summary'])}")
    con.print(f"report: {report_path}")


def _load(path: Path, fmt: str, limit: int | None):
    from scalemath.datasets import load_problems

    return load_problems(path, format=fmt, limit=limit)


@augment_app.command("query")
@_stage(signature=False)
def query_cmd(
    seeds: Path = typer.Option(
        ..., "--seeds", exists=True, dir_okay=False, help="Seed problems (any format load_problems reads)."
    ),
    out: Path = typer.Option(..., "--out", help="New problems (Problem JSONL)."),
    strategies: str = typer.Option(
        "change_numbers,fractions_percent,combine,conditional,complexity",
        help="Comma-separated strategies (default: all five, listed above).",
        show_default=False,
    ),
    per_strategy: int = typer.Option(1, help="New questions per seed and strategy, each round."),
    rounds: int = typer.Option(1, help="Augmentation rounds (round r+1 augments round r's questions)."),
    style: str = typer.Option("gsm8k", help="gsm8k (question only) or math (question + solution)."),
    template: str | None = typer.Option(None, help="Prompt template name/path (default mugglemath_<style>)."),
    temperature: float = typer.Option(0.7),
    top_p: float = typer.Option(1.0),
    max_tokens: int = typer.Option(384),
    seed: int = typer.Option(0),
    seeds_format: str = typer.Option("auto", "--seeds-format"),
    limit: int | None = typer.Option(None, help="Use the first N seeds."),
    *,
    stage: _Stage,
) -> None:
    """MuggleMath query augmentation: new questions from SEEDS by the selected strategies.

    \b
    Strategies (--strategies, default all):
      change_numbers     change specific numbers, keeping the story
      fractions_percent  introduce fractions or percentages
      combine            add a second mathematical concept to use with the first
      conditional        add a condition (if ..., then ...) to take into account
      complexity         more steps, more quantities or harder relations
    """
    from scalemath.methods.augment import QueryConfig
    from scalemath.methods.augment.stage import run_query

    with _checks.as_bad_parameter():
        cfg = QueryConfig(
            style=style,
            strategies=_split(strategies),
            per_strategy=per_strategy,
            rounds=rounds,
            template=template,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            seed=seed,
        )
    output = stage.output(seeds, out, style)
    teacher = stage.teacher()
    rep = run_query(_load(seeds, seeds_format, limit), teacher, cfg, output)
    _print_summary(rep, output.report_path)


@augment_app.command("respond")
@_stage()
def respond_cmd(
    input: Path = typer.Option(
        ..., "--input", exists=True, dir_okay=False, help="Questions (Problem JSONL or any load_problems format)."
    ),
    out: Path = typer.Option(..., "--out", help="Kept answers (Sample JSONL)."),
    n: int = typer.Option(4, help="Answers per question."),
    filter: str = typer.Option("majority", "--filter", help="majority, two_teacher, gold or none."),
    min_share: float = typer.Option(0.5, help="majority: minimum share of the top answer."),
    min_votes: int = typer.Option(2, help="majority: minimum votes of the top answer."),
    second_url: str | None = typer.Option(None, help="two_teacher: second teacher URL."),
    second_model: str | None = typer.Option(None, help="two_teacher: second teacher model."),
    second_n: int = typer.Option(1, help="two_teacher: answers of the second teacher."),
    style: str = typer.Option("gsm8k", help="gsm8k or math (answer extraction, default template)."),
    template: str | None = typer.Option(
        None,
        help="Prompt template (default mugglemath_respond_<style>; 'alpaca'/'qa' for a local student-format model).",
    ),
    temperature: float = typer.Option(0.7),
    top_p: float = typer.Option(1.0),
    max_tokens: int = typer.Option(384),
    seed: int = typer.Option(0),
    input_format: str = typer.Option("auto", "--input-format"),
    limit: int | None = typer.Option(None),
    *,
    stage: _Stage,
) -> None:
    """Response augmentation: N chain-of-thought answers per question, kept by FILTER."""
    from scalemath.methods.augment import RespondConfig
    from scalemath.methods.augment.stage import run_respond

    with _checks.as_bad_parameter():
        cfg = RespondConfig(
            style=style,
            n=n,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            template=template,
            seed=seed,
            filter=filter,
            min_share=min_share,
            min_votes=min_votes,
            second_n=second_n,
        )
    if filter == "two_teacher" and not (second_url and second_model):
        raise typer.BadParameter("two_teacher needs --second-url and --second-model", param_hint="--filter")
    output = stage.output(input, out, style)
    teacher = stage.teacher()
    second = (
        stage.teacher(teacher_url=second_url, teacher_model=second_model)
        if filter == "two_teacher" and second_url and second_model  # both given: checked above
        else None
    )
    rep = run_respond(_load(input, input_format, limit), teacher, cfg, output, second=second)
    _print_summary(rep, output.report_path)


@augment_app.command("synth")
@_stage()
def synth_cmd(
    references: Path = typer.Option(..., "--references", exists=True, dir_okay=False, help="Reference problems."),
    out: Path = typer.Option(..., "--out", help="Answered synthetic questions (Sample JSONL)."),
    dataset: str = typer.Option("gsm8k", help="Target dataset: gsm8k or math (templates xwin_<step>_<dataset>)."),
    per_reference: int = typer.Option(1, help="New questions per reference."),
    verify: bool = typer.Option(
        True, "--verify/--no-verify", help="Step 2 (verify and repair); --no-verify is the ablation."
    ),
    create_temperature: float = typer.Option(0.8),
    verify_temperature: float = typer.Option(0.0),
    answer_n: int = typer.Option(1, help="Answers per synthetic question (step 3)."),
    answer_filter: str = typer.Option("none", help="Step-3 filter: none, majority."),
    answer_temperature: float = typer.Option(0.7),
    max_tokens: int = typer.Option(512),
    seed: int = typer.Option(0),
    references_format: str = typer.Option("auto", "--references-format"),
    limit: int | None = typer.Option(None),
    *,
    stage: _Stage,
) -> None:
    """Xwin-Math synthesis: create from references, verify/repair, answer with chain of thought."""
    from scalemath.methods.augment import RespondConfig, SynthConfig
    from scalemath.methods.augment.stage import run_synth

    with _checks.as_bad_parameter():
        answer = RespondConfig(
            style=dataset,
            n=answer_n,
            filter=answer_filter,
            temperature=answer_temperature,
            max_tokens=max_tokens,
            template=f"xwin_answer_{dataset}",
            seed=seed,
            stop=("\n### Problem", "\n### New Question"),
        )
        cfg = SynthConfig(
            dataset=dataset,
            per_reference=per_reference,
            verify=verify,
            create_temperature=create_temperature,
            verify_temperature=verify_temperature,
            max_tokens_verify=max_tokens,
            seed=seed,
            answer=answer,
        )
    output = stage.output(references, out, dataset)
    teacher = stage.teacher()
    rep = run_synth(_load(references, references_format, limit), teacher, cfg, output)
    _print_summary(rep, output.report_path)


@augment_app.command("subset")
def subset_cmd(
    input: Path = typer.Option(
        ..., "--input", exists=True, dir_okay=False, help="Augmented JSONL (samples or problems)."
    ),
    out: Path = typer.Option(..., "--out", help="The subset (JSONL)."),
    fraction: float | None = typer.Option(None, help="Keep this fraction of the questions (streaming)."),
    questions: int | None = typer.Option(None, help="Keep exactly this many questions."),
    seed: int = typer.Option(0, help="Ranking seed; subsets with one seed are nested."),
) -> None:
    """Nested subsets by question, for sweeping the amount of augmented data."""
    from scalemath.methods.augment.pipeline import nested_fraction, nested_questions
    from scalemath.records import UserError, iter_jsonl, write_jsonl

    if (fraction is None) == (questions is None):
        raise typer.BadParameter("give exactly one of --fraction and --questions")
    from scalemath.outputs import check_outputs

    check_outputs([input], [("--out", out)])
    try:
        recs: Iterable[dict[str, Any]]
        if fraction is not None:
            recs = nested_fraction(iter_jsonl(input), fraction, seed)
        else:
            assert questions is not None  # exactly one of the two is given (checked above)
            recs = nested_questions(iter_jsonl(input), questions, seed)
        n = write_jsonl(out, recs)
    except UserError:
        raise  # the CLI's error path: `error: FILE:LINE: ...`
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    typer.echo(f"wrote {n} records to {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(augment_app, name="augment")
