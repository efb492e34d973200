"""`scalemath eval`: greedy accuracy (maj1@1), maj@k, Pass@k and PassRatio@k of a model or a sample file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from scalemath.cli import _checks, _sampling


def metrics_table(metrics: dict[str, Any]):
    """A rich table: greedy accuracy in the title, then maj@k / Pass@k / PassRatio@k per k."""
    from rich.table import Table

    title = f"{metrics.get('model', '')}: {metrics.get('questions')} questions"
    if "maj1@1" in metrics:
        title += f", greedy maj1@1 = {metrics['maj1@1']:.4f}"
    t = Table(title=title)
    for col in ("k", "maj@k", "Pass@k", "PassRatio@k"):
        t.add_column(col, justify="right")
    sampled = metrics.get("sampled", metrics)
    ks = sorted(int(key.split("@")[1]) for key in sampled if key.startswith("maj@"))
    for k in ks:
        t.add_row(str(k), *(f"{sampled[f'{m}@{k}']:.4f}" for m in ("maj", "Pass", "PassRatio")))
    return t


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def evaluate_cmd(
        out: Path = typer.Option(..., help="Output folder: metrics.json (+ greedy.jsonl, samples.jsonl)."),
        model: str | None = typer.Option(None, help="Checkpoint directory (or hub id when online)."),
        data: Path | None = typer.Option(None, exists=True, dir_okay=False, help="Test problems (JSONL)."),
        samples: Path | None = typer.Option(
            None, exists=True, dir_okay=False, help="Score an existing sample file instead (no model)."
        ),
        k: int = typer.Option(8, min=0, help="Samples per problem at --temperature (0: greedy only)."),
        temperature: float = _sampling.TEMPERATURE,
        top_p: float = _sampling.TOP_P,
        top_k: int = _sampling.TOP_K,
        max_tokens: int = _sampling.MAX_TOKENS,
        seed: int = _sampling.SEED,
        stop: list[str] = _sampling.STOP,
        template: str | None = _sampling.TEMPLATE,
        chat: bool = _sampling.CHAT,
        system: str = _sampling.SYSTEM,
        exemplars: Path | None = _sampling.EXEMPLARS,
        shots: int = _sampling.SHOTS,
        overwrite: bool = _sampling.OVERWRITE,
        dataset: str = typer.Option(
            "gsm8k", callback=_checks.dataset, help="Answer conventions for grading and voting."
        ),
        batch_size: int = typer.Option(64, min=1),
        engine: str = typer.Option(
            "auto", help="auto (vllm when installed, for real models; else hf), hf, vllm, openai (needs --base-url)."
        ),
        base_url: str = _sampling.BASE_URL,
        api_key: str = _sampling.API_KEY,
        timeout: float = typer.Option(120.0, min=0.001, help="openai: seconds per request."),
        verbose: bool = _sampling.VERBOSE,
        device: str = typer.Option("auto"),
        dtype: str = typer.Option("auto"),
        limit: int = _sampling.LIMIT,
        threads: int = _sampling.THREADS,
    ) -> None:
        """Evaluate a model (--model + --data) or score a graded sample file (--samples)."""
        import itertools

        from rich.console import Console
        from transformers.utils import logging as hf_logging

        from scalemath.cli.sample import load_problems, unescape
        from scalemath.metrics.evaluate import evaluate, metrics_from_samples

        if (samples is not None and (model or data)) or (samples is None and not (model and data)):
            raise typer.BadParameter("give either --samples F.jsonl, or --model DIR and --data F.jsonl")
        from scalemath.outputs import check_outputs

        if samples is None:  # --samples: metrics_from_samples checks its own outputs
            check_outputs(
                [data], [(f"--out {name}", out / name) for name in ("greedy.jsonl", "samples.jsonl", "metrics.json")]
            )
        hf_logging.disable_progress_bar()
        if samples is None:  # checked before the model loads
            _checks.generation(
                template, temperature=temperature, top_p=top_p, top_k=top_k, max_tokens=max_tokens, seed=seed
            )
        if samples is not None:
            metrics = metrics_from_samples(samples, dataset=dataset, out_dir=out)
        else:
            assert model is not None and data is not None  # both given without --samples (checked above)
            engine, fmt = _sampling.engine_and_prompt(engine, model, base_url, template, chat, system, exemplars, shots)
            extra = (
                dict(base_url=base_url, api_key=api_key, timeout=timeout, chat=chat, system=system or None)
                if engine == "openai"
                else {"verbose": True}
                if engine == "vllm" and verbose
                else {}
            )
            problems = list(itertools.islice(load_problems(data), limit or None))
            metrics = evaluate(
                model,
                problems,
                k=k,
                temperature=temperature,
                out_dir=out,
                top_p=top_p,
                top_k=top_k,
                max_tokens=max_tokens,
                seed=seed,
                stop=unescape(stop),
                template=fmt,
                dataset=dataset,
                engine=engine,
                overwrite=overwrite,
                engine_kwargs=extra,
                batch_size=batch_size,
                device=device,
                dtype=dtype,
                threads=threads,
            )
        c = Console()
        c.print(metrics_table(metrics))
        c.print(f"metrics -> {out / 'metrics.json'}")
