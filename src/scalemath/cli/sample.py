"""`scalemath sample`: draw k graded samples per problem with full provenance (resumable)."""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from pathlib import Path

import typer

from scalemath.cli import _checks, _sampling


def load_problems(path: Path) -> Iterator:
    """Problems from any format `scalemath.datasets.load_problems` reads, else Problem JSONL."""
    load: Callable[[Path], Iterator]  # either loader, called with the path alone
    try:
        from scalemath.datasets import load_problems as load
    except ImportError:
        from scalemath.records import read_problems as load
    return load(path)


def unescape(stops: list[str]) -> tuple[str, ...]:
    r"""Stop strings as typed on a shell: backslash escapes (\n, \t) are decoded."""
    return tuple(codecs.decode(s, "unicode_escape") for s in stops)


def register(app: typer.Typer) -> None:
    @app.command("sample")
    def sample(
        model: str = typer.Option(..., help="Checkpoint directory (or hub id when online)."),
        data: Path = typer.Option(..., exists=True, dir_okay=False, help="Problems (Problem JSONL)."),
        out: Path = typer.Option(..., help="Output Sample JSONL; appended to and resumed when it exists."),
        k: int = typer.Option(4, min=1, help="Samples per problem."),
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
            "gsm8k", callback=_checks.dataset, help="Answer conventions for grading (gsm8k, math, ...)."
        ),
        grade: bool = typer.Option(True, help="Grade each completion against the reference answer."),
        batch_size: int = typer.Option(64, min=1, help="Rows (problem x sample) decoded together."),
        engine: str = typer.Option(
            "auto", help="Sampling engine: auto (vllm when installed, for real models; else hf), hf, vllm, openai."
        ),
        base_url: str = _sampling.BASE_URL,
        api_key: str = _sampling.API_KEY,
        timeout: float = typer.Option(
            120.0,
            min=0.001,
            help="openai: seconds per request (then retried, "
            "then recorded as an error and drawn again by the next run).",
        ),
        tensor_parallel_size: int = typer.Option(1, min=1, help="vllm: GPUs per model replica."),
        verbose: bool = _sampling.VERBOSE,
        device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:1, ..."),
        dtype: str = typer.Option("auto", help="auto (bf16 on cuda, else fp32), float32, bfloat16, float16."),
        limit: int = _sampling.LIMIT,
        threads: int = _sampling.THREADS,
        store: Path = typer.Option(
            None,
            help="Sample store folder: draw through it (resumable, only "
            "missing indices are drawn) and re-derive --out from it.",
        ),
        store_format: str = typer.Option("jsonl", help="Store shard format: jsonl or parquet."),
        ray: bool = typer.Option(
            False, "--ray", help="Draw with Ray Data engine replicas into the store (default store: OUT.store)."
        ),
        replicas: int = typer.Option(2, min=1, help="--ray: engine replicas (data parallel)."),
        gpus_per_replica: float = typer.Option(
            0.0, min=0.0, help="--ray: GPUs per replica (vllm: defaults to --tensor-parallel-size)."
        ),
        budget: bool = typer.Option(
            False,
            "--budget",
            help="Per-question budgets (DART-Math): stop a "
            "problem at --budget-paths distinct correct paths or k samples.",
        ),
        budget_paths: int = typer.Option(4, min=1, help="--budget: distinct correct paths that retire a problem."),
        budget_round: int = typer.Option(8, min=1, help="--budget: samples added per open problem per round."),
        lock_timeout: float = typer.Option(
            -1.0,
            help="Seconds to wait while another run writes the store (--store) "
            "or --out (it then draws only what is still missing); -1: no limit, "
            "0: fail at once.",
        ),
    ) -> None:
        """Sample k completions per problem, grade them and write Sample JSONL."""
        import itertools

        from rich.console import Console
        from rich.markup import escape
        from transformers.utils import logging as hf_logging

        from scalemath.outputs import check_outputs
        from scalemath.sampling import SamplingParams, load_engine
        from scalemath.sampling.run import sample_problems

        check_outputs([data], [("--out", out), ("--store", store)])
        hf_logging.disable_progress_bar()
        _checks.generation(template)
        params = SamplingParams(
            temperature=temperature, top_p=top_p, top_k=top_k, max_tokens=max_tokens, stop=unescape(stop), seed=seed
        )
        engine, fmt = _sampling.engine_and_prompt(engine, model, base_url, template, chat, system, exemplars, shots)
        per_engine = {
            "hf": dict(device=device, dtype=dtype, batch_size=batch_size, threads=threads),
            "vllm": dict(dtype=dtype, tensor_parallel_size=tensor_parallel_size, verbose=verbose),
            "openai": dict(base_url=base_url, api_key=api_key, timeout=timeout, chat=chat, system=system or None),
        }
        problems = list(itertools.islice(load_problems(data), limit or None))
        c = Console()
        if store is not None or ray or budget:
            if ray and budget:
                raise typer.BadParameter("--ray and --budget do not combine (budgets run in one process)")
            if budget and not grade:
                raise typer.BadParameter("--budget needs grading (drop --no-grade)")
            _stored(
                c,
                problems,
                engine,
                model,
                per_engine.get(engine, {}),
                params,
                fmt,
                out,
                dataset,
                grade,
                store_dir=store or out.with_name(out.name + ".store"),
                mode="ray" if ray else "budget" if budget else "draw",
                k=k,
                fmt=store_format,
                batch_size=batch_size,
                replicas=replicas,
                gpus=gpus_per_replica or (tensor_parallel_size if engine == "vllm" else 0.0),
                budget_paths=budget_paths,
                budget_round=budget_round,
                lock_timeout=None if lock_timeout < 0 else lock_timeout,
            )
            return
        eng = load_engine(engine, model, **per_engine.get(engine, {}))
        try:
            stats = sample_problems(
                problems,
                eng,
                params,
                k,
                fmt,
                out,
                grade=grade,
                dataset=dataset,
                overwrite=overwrite,
                lock_timeout=None if lock_timeout < 0 else lock_timeout,
            )
        finally:
            close = getattr(eng, "close", None)
            if callable(close):  # the openai client's HTTP session (no "Unclosed client session")
                close()
        c.print(
            f"[bold]{stats.samples}[/] new samples for {stats.problems} problems -> {out} "
            f"({stats.skipped} already there); {stats.samples_per_s:.1f} samples/s, "
            f"{stats.tokens_per_s:.0f} tokens/s"
        )
        if grade and stats.samples:
            c.print(f"correct: {stats.correct}/{stats.samples} ({stats.correct / stats.samples:.1%})")
        if stats.errors:
            c.print(f"[red]{escape(stats.error_kinds.summary())}[/] (not written; a re-run draws them again)")


def _stored(
    c,
    problems,
    engine: str,
    model: str,
    options: dict,
    params,
    template,
    out: Path,
    dataset: str,
    grade: bool,
    *,
    store_dir: Path,
    mode: str,
    k: int,
    fmt: str,
    batch_size: int,
    replicas: int,
    gpus: float,
    budget_paths: int,
    budget_round: int,
    lock_timeout: float | None = None,
) -> None:
    """`sample --store/--ray/--budget`: fill the store, then re-derive --out from it."""
    from rich.markup import escape

    from scalemath.sampling import load_engine
    from scalemath.sampling.stored import StoredRunConfig, run_stored

    cfg = StoredRunConfig(
        store=str(store_dir),
        mode=mode,
        k=k,
        format=fmt,
        batch_size=batch_size,
        replicas=replicas,
        gpus_per_replica=gpus,
        budget_m=budget_paths,
        budget_k_max=k,
        budget_round=budget_round,
        lock_timeout=lock_timeout,
    )
    eng = spec = None
    if mode == "ray":
        from scalemath.sampling.ray_runner import EngineSpec

        spec = EngineSpec(kind=engine, model=model, options=options)
    else:
        eng = load_engine(engine, model, **options)
    try:
        st = run_stored(
            problems, eng, params, template, out, cfg, dataset=dataset, grade=grade, ray_spec=spec, progress=True
        )
    finally:
        close = getattr(eng, "close", None)
        if callable(close):
            close()
    c.print(
        f"store {store_dir}: [bold]{st.drawn}[/] new samples drawn for {st.problems} problems "
        f"({st.errors} engine errors, retried on the next run); {st.exported} samples -> {out} "
        f"in {st.seconds:.1f}s"
    )
    if st.budget:
        c.print(
            "budget: " + ", ".join(f"{n} problems stopped by {why or 'open'}" for why, n in sorted(st.budget.items()))
        )
    if grade and st.exported:
        c.print(f"correct: {st.correct}/{st.exported} ({st.correct / st.exported:.1%})")
    usage = getattr(eng, "usage", None)  # the OpenAI-compatible engine's failed requests, by kind
    if usage is not None and bool(getattr(usage, "failed", 0)):
        c.print(f"[red]{escape(usage.error_summary())}[/] (requests; retried on the next run)")
