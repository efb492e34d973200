"""`scalemath rft`: rejection-sampling fine-tuning data (D ∪ D') from sampled reasoning paths."""

from __future__ import annotations

import os
import sys
from functools import partial
from pathlib import Path
from typing import Any

import typer

from scalemath.cli import _checks
from scalemath.inputs import field_help
from scalemath.methods.rft_config import RFTConfig

_AUTO_MIN_BYTES = 16 << 20  # below this much input one process is faster than several


def auto_workers(paths: list[str]) -> int:
    """Worker processes for `--workers 0`: one for small inputs, else one per usable core (max 4)."""
    if sum(os.path.getsize(p) for p in paths) < _AUTO_MIN_BYTES:
        return 1
    from scalemath.threads import available_cpus

    return min(4, available_cpus())


_help = partial(field_help, RFTConfig)  # an option's help: that of the RFTConfig field it sets


def register(app: typer.Typer) -> None:
    @app.command("rft", context_settings={"allow_extra_args": True})
    def rft_cmd(
        ctx: typer.Context,
        samples: list[Path] = typer.Option(
            ...,
            "--samples",
            "-s",
            exists=True,
            dir_okay=False,
            help="Sample JSONL file(s) (question, answer, completion[, model, seed]), processed in the given order: --samples a.jsonl b.jsonl ...",
        ),
        out: Path = typer.Option(
            ..., "--out", "-o", help="Output JSONL: per question its original example, then its distinct kept paths."
        ),
        problems: Path = typer.Option(
            None,
            "--problems",
            exists=True,
            dir_okay=False,
            help="Train set (question + solution/answer): references and output order.",
        ),
        fmt: str = typer.Option(
            "scalemath",
            "--format",
            help="scalemath (Problem-shaped records) or rft_legacy (the paper's {query, response}).",
        ),
        stats_path: Path = typer.Option(None, "--stats", help="Write the run's statistics as JSON here."),
        signature: str = typer.Option(
            "fallback",
            "--signature",
            help=_help("signature"),
        ),
        tie_break: str = typer.Option("farthest", "--tie-break", help=_help("tie_break")),
        grader: bool = typer.Option(
            True,
            "--grader/--paper-grading",
            help=_help("grading"),
        ),
        dataset: str = typer.Option("gsm8k", "--dataset", help=_help("dataset")),
        annotations: bool = typer.Option(
            True,
            "--check-annotations/--no-check-annotations",
            help=_help("require_annotations_ok"),
        ),
        original: bool = typer.Option(True, "--original/--no-original", help=_help("include_original")),
        workers: int = typer.Option(
            0,
            "--workers",
            "-w",
            help=_help("workers"),
        ),
        explain: bool = typer.Option(False, "--explain", help="Print the drop reasons with examples."),
        max_chars: int = typer.Option(
            32_768,
            "--max-chars",
            min=0,
            help=_help("max_chars"),
        ),
        max_tokens: int = typer.Option(
            0,
            "--max-tokens",
            min=0,
            help=_help("max_tokens"),
        ),
        check_test_sets: bool = typer.Option(
            True,
            "--check-test-sets/--no-check-test-sets",
            help=_help("check_test_sets"),
        ),
        allow_contamination: bool = typer.Option(
            False,
            "--allow-contamination/--drop-contamination",
            help=_help("allow_contamination"),
        ),
        test_set: list[str] = typer.Option([], "--test-set", help=_help("test_sets")),
    ) -> None:
        """Keep the correct, calculator-consistent, distinct reasoning paths of sampled completions."""
        from rich.console import Console

        from scalemath.methods.rft import collect_files, to_legacy
        from scalemath.outputs import check_outputs, write_bytes
        from scalemath.records import write_jsonl

        paths = [str(p) for p in samples] + list(ctx.args)  # `--samples a b c`: b, c arrive as extras
        for p in ctx.args:
            if p.startswith("-") or not os.path.isfile(p):
                raise typer.BadParameter(f"not a file: {p}", param_hint="--samples")
        check_outputs([*paths, problems, *test_set], [("--out", out), ("--stats", stats_path)])
        if fmt not in ("scalemath", "rft_legacy"):
            raise typer.BadParameter("must be scalemath or rft_legacy", param_hint="--format")
        with _checks.as_bad_parameter():
            cfg = RFTConfig(
                signature=signature,
                tie_break=tie_break,
                require_annotations_ok=annotations,
                include_original=original,
                grading="grader" if grader else "paper",
                dataset=dataset,
                workers=workers or auto_workers(paths),
                max_chars=max_chars or None,
                max_tokens=max_tokens or None,
                check_test_sets=check_test_sets,
                test_sets=tuple(test_set),
                allow_contamination=allow_contamination,
            )
        records, stats = collect_files(paths, cfg, str(problems) if problems else None)
        n = write_jsonl(out, map(to_legacy, records) if fmt == "rft_legacy" else records)
        if stats_path:
            import orjson

            write_bytes(stats_path, orjson.dumps(stats.to_dict(), option=orjson.OPT_INDENT_2))
        wide = Console(width=None if sys.stdout.isatty() else 120)  # no 80-column wrap in logs
        print_summary(wide, stats.to_dict(), out, n, explain)


def print_summary(console: Any, st: dict[str, Any], out: Path, n_written: int, explain: bool) -> None:
    """Rich tables: per-source counts, totals, per-question figures, and (explain) drop reasons."""
    from rich.table import Table

    t = Table(title=f"RFT collection -> {out}")
    t.add_column("source", overflow="fold")
    for col in ("samples", "correct", "%", "ann. rejected", "kept", "only here"):
        t.add_column(col, justify="right", no_wrap=True)
    rows = [
        (name, s["samples"], s["correct"], s["annotation_rejected"], s["kept"], s["only_here"])
        for name, s in st["per_source"].items()
    ]
    if len(rows) > 1:
        rows.append(
            ("all", st["samples"], st["correct"], st["correct"] - st["kept_candidates"], st["distinct_paths"], None)
        )
    for name, n, c, bad, kept, only in rows:
        t.add_row(
            name,
            f"{n:,}",
            f"{c:,}",
            f"{100 * c / n:.1f}" if n else "-",
            f"{bad:,}",
            f"{kept:,}",
            "" if only is None else f"{only:,}",
        )
    console.print(t)
    c, d = st["correct_per_question"], st["distinct_per_question"]
    console.print(
        f"questions {st['questions']:,}: correct paths per question mean {c.get('mean', 0)} "
        f"(none correct: {c.get('zero', 0):,}); distinct paths per question mean {d.get('mean', 0)} "
        f"(median {d.get('median', 0)}, max {d.get('max', 0)})"
    )
    console.print(
        f"distinct paths (D') {st['distinct_paths']:,} + originals (D) {st['originals']:,} = "
        f"{n_written:,} records written; {st['replacements']:,} farthest replacements; "
        f"{st['workers']} worker(s) ({st['sharding']}), {st['seconds']:.2f} s"
    )
    too_long = st["drops"].get("too_long", 0)
    lim = st.get("limits") or {}
    if too_long:
        console.print(
            f"[yellow]{too_long:,} completions longer than the length bound were dropped[/] "
            f"(max_chars {lim.get('max_chars')}, max_tokens {lim.get('max_tokens')}; --max-chars to change)"
        )
    chk = st.get("test_set_check")
    if chk is not None:
        style = "yellow" if chk["flagged"] else "dim"
        console.print(
            f"[{style}]{chk['message']}[/]"
            + (f" ({chk['paths_dropped']:,} paths dropped)" if chk["questions_dropped"] else ""),
            highlight=False,
        )
    if explain:
        dt = Table(title="why samples added no new path")
        dt.add_column("reason")
        dt.add_column("samples", justify="right")
        dt.add_column("example")
        for reason, count in st["drops"].items():
            exs = st["examples"].get(reason) or []
            ex = ""
            if exs:
                e = exs[0]
                detail = e.get("failing_annotations", e.get("extracted"))
                ex = f"{e['question_id']}: {detail!r} (reference {e['reference_answer']!r})"
            dt.add_row(reason, f"{count:,}", ex)
        console.print(dt)
        for reason, exs in st["examples"].items():
            for e in exs:
                detail = e.get("failing_annotations", e.get("extracted"))
                tail = e["completion"][-70:].replace("\n", " | ")
                console.print(
                    f"{reason} {e['question_id']} seed={e['seed']}: {detail!r} "
                    f"(reference {e['reference_answer']!r}) ...{tail}",
                    markup=False,
                    highlight=False,
                )
