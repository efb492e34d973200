"""`scalemath data ...`: make, convert and look at problem sets."""

from __future__ import annotations

from pathlib import Path

import typer

from scalemath.cli import _checks


def _range(text: str, what: str) -> tuple[int, int]:
    """ "1-3" -> (1, 3); "2" -> (2, 2)."""
    try:
        parts = [int(x) for x in text.split("-")]
    except ValueError:
        raise typer.BadParameter(f"{what} must look like 1-3, got {text!r}") from None
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) != 2:
        raise typer.BadParameter(f"{what} must look like 1-3, got {text!r}")
    return parts[0], parts[1]


def procedural(
    n: int = typer.Option(1000, help="Number of problems."),
    steps: str = typer.Option("1-3", help="Range of reasoning steps, e.g. 1-3 (within 1-6)."),
    seed: int = typer.Option(0, help="Base seed."),
    split: str = typer.Option("train", help="train, validation or test (never overlapping)."),
    numbers: str = typer.Option("2-20", help="Range of the base numbers in a question."),
    families: str | None = typer.Option(None, help="Comma-separated families (default: all)."),
    out: Path = typer.Option(..., help="Output Problem JSONL."),
) -> None:
    """Generate GSM8K-format arithmetic word problems (the embedded data)."""
    from scalemath.datasets.procedural import ProceduralConfig, iter_generate
    from scalemath.records import write_jsonl

    with _checks.as_bad_parameter():
        cfg = ProceduralConfig(
            n=n,
            steps=_range(steps, "--steps"),
            seed=seed,
            split=split,
            number_range=_range(numbers, "--numbers"),
            families=tuple(f.strip() for f in families.split(",")) if families else None,
        )
        count = write_jsonl(out, iter_generate(cfg))
    typer.echo(f"wrote {count} {split} problems to {out}")


def pretrain_corpus(
    n: int | None = typer.Option(None, help="Number of lines."),
    chars: int | None = typer.Option(None, help="Number of characters (stops at the line that reaches it)."),
    seed: int = typer.Option(0, help="Seed."),
    out: Path = typer.Option(..., help="Output text file, one line per item."),
) -> None:
    """Write the procedural pre-training corpus (arithmetic and vocabulary, no task solutions)."""
    from scalemath.datasets.pretrain_corpus import pretrain_corpus as corpus

    if n is None and chars is None:
        raise typer.BadParameter("give --n (lines) or --chars")
    from scalemath.records import atomic_path

    lines = total = 0
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for line in corpus(n_lines=n, n_chars=chars, seed=seed):
            f.write(line + "\n")
            lines += 1
            total += len(line) + 1
    typer.echo(f"wrote {lines} lines ({total} characters) to {out}")


def convert(
    input: str = typer.Option(..., "--input", help="File, folder or Hugging Face dataset id."),
    format: str = typer.Option("auto", help="auto, gsm8k, math, math500, rft_legacy, scalemath, hf."),
    out: Path = typer.Option(..., help="Output Problem JSONL."),
    limit: int | None = typer.Option(None, help="Stop after this many problems."),
    split: str | None = typer.Option(None, help="Split (label, and which split of a dataset dict / hub id)."),
    name: str | None = typer.Option(None, help="Hugging Face config name."),
    question_field: str | None = typer.Option(None, help="Column with the question (Hugging Face)."),
    solution_field: str | None = typer.Option(None, help="Column with the solution (Hugging Face)."),
    answer_field: str | None = typer.Option(None, help="Column with the final answer (Hugging Face)."),
) -> None:
    """Convert a dataset to scalemath Problem JSONL."""
    from scalemath.datasets import load_problems
    from scalemath.outputs import check_outputs
    from scalemath.records import write_jsonl

    check_outputs([input], [("--out", out)])
    hf: dict = {}
    if name:
        hf["name"] = name
    if question_field or solution_field or answer_field:
        hf["fields"] = {"question": question_field or "question", "solution": solution_field, "answer": answer_field}
    count = write_jsonl(out, load_problems(input, format=format, split=split, limit=limit, **hf))
    typer.echo(f"wrote {count} problems to {out}")


def show(
    path: str = typer.Argument(..., help="File, folder or dataset id (any format load_problems reads)."),
    n: int = typer.Option(3, help="How many records."),
    format: str = typer.Option("auto", help="Format (see convert)."),
    paths: int = typer.Option(0, help="Also list up to this many alternative solutions (procedural)."),
) -> None:
    """Print a few problems."""
    from scalemath.datasets import load_problems

    for p in load_problems(path, format=format, limit=n):
        meta = {k: v for k, v in p.meta.items() if k != "programs"}
        typer.echo(f"== {p.id}  [{p.source}/{p.split}]  answer={p.answer!r}  {meta}")
        typer.echo(p.question)
        typer.echo("--")
        typer.echo(p.solution)
        if paths and "programs" in p.meta:
            from scalemath.datasets.procedural import solutions

            alts = solutions(p, max_paths=paths + 1)[1:]
            for i, alt in enumerate(alts, 1):
                typer.echo(f"-- alternative {i}")
                typer.echo(alt)
        typer.echo("")


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(help="Build and convert problem sets.", no_args_is_help=True)
    data_app.command("procedural")(procedural)
    data_app.command("pretrain-corpus")(pretrain_corpus)
    data_app.command("convert")(convert)
    data_app.command("show")(show)
    app.add_typer(data_app, name="data")
