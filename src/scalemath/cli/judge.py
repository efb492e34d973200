"""`scalemath judge`: a judge LLM names the error type of each wrong sample (finer than the
judge-free calculation / reasoning / format split of `scalemath metrics`)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("judge")
    def judge(
        samples: Path = typer.Argument(..., exists=True, dir_okay=False, help="Graded Sample JSONL."),
        out: Path = typer.Option(..., help="Judged records (JSONL), one per wrong sample."),
        judge_url: str = typer.Option(..., help="OpenAI-compatible base URL of the judge (…/v1)."),
        judge_model: str = typer.Option(..., help="Model name the judge server knows."),
        api_key: str | None = typer.Option(None, envvar="OPENAI_API_KEY", help="API key (or $OPENAI_API_KEY)."),
        chat: bool = typer.Option(True, "--chat/--completions", help="Chat or plain completions endpoint."),
        votes: int = typer.Option(1, min=1, help="Judge samples per wrong sample (majority label wins)."),
        temperature: float = typer.Option(0.0, min=0.0, help="Judge temperature (use > 0 with --votes > 1)."),
        max_tokens: int = typer.Option(96, min=8),
        limit: int | None = typer.Option(None, min=1, help="Judge at most this many wrong samples."),
        concurrency: int = typer.Option(16, min=1),
        timeout: float = typer.Option(
            600.0, min=0.001, help="Seconds per judge request (then retried, then recorded as an error)."
        ),
        cache: Path | None = typer.Option(None, help="Judge call cache (SQLite; default OUT.cache.sqlite)."),
        template: str = typer.Option("judge_error_type", help="Judge prompt template (name or .txt path)."),
    ) -> None:
        """Ask a judge LLM for the error type of every wrong sample; print shares and agreement
        with the judge-free rule."""
        from rich.console import Console
        from rich.table import Table

        from scalemath.cli.augment import _teacher
        from scalemath.methods.augment.stage import Output
        from scalemath.metrics.judge import JUDGE_TYPES, JudgeConfig, JudgeStats, judge_errors
        from scalemath.outputs import check_outputs, write_json
        from scalemath.records import read_samples, write_jsonl

        summary_path = out.with_suffix(".summary.json")
        check_outputs(
            [samples],
            [("--out", out), ("--cache", cache or out.with_suffix(".cache.sqlite")), ("summary", summary_path)],
        )
        cfg = JudgeConfig(template=template, votes=votes, temperature=temperature, max_tokens=max_tokens, limit=limit)
        stats = JudgeStats()
        with Output(out, cache=cache).cached(
            _teacher(judge_url, judge_model, api_key, chat, "per_sample", concurrency, timeout)
        ) as engine:
            write_jsonl(out, judge_errors(read_samples(samples), engine, cfg, stats=stats))
        summary = stats.to_dict()
        if engine.usage.errors:  # failed judge requests, by kind (not cached: a re-run asks again)
            summary["judge_errors"] = engine.usage.error_kinds.as_dict()
        write_json(summary_path, summary)
        con = Console()
        table = Table(title=f"judge error types ({stats.judged} wrong samples, judge {judge_model})")
        table.add_column("type")
        table.add_column("samples", justify="right")
        table.add_column("share", justify="right")
        for t in (*JUDGE_TYPES, "unparsed"):
            if stats.by_type[t]:
                table.add_row(t, str(stats.by_type[t]), f"{stats.by_type[t] / stats.judged:.1%}")
        con.print(table)
        a = summary["agreement"]
        if a["n"]:
            con.print(
                f"agreement with the judge-free rule (calculation / format / reasoning): "
                f"{a['agree']}/{a['n']} ({a['rate']:.1%})"
            )
        if engine.usage.errors:
            from rich.markup import escape

            con.print(f"[red]judge requests failed: {escape(engine.usage.error_kinds.summary())}[/]")
        con.print(f"-> {out}, {out.with_suffix('.summary.json')}")
        u = engine.usage
        if u.requested and u.errors >= u.requested:  # no label came from the judge: not a result
            from scalemath.records import UserError

            raise UserError(
                f"every judge request failed ({u.errors} of {u.requested}); the shares above are not the judge's"
            )
