"""`scalemath serve --model PATH`: an OpenAI-compatible server over a local model."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import typer

from scalemath.cli import _checks
from scalemath.inputs import field_help
from scalemath.serve.config import ServerConfig
from scalemath.threads import HELP as THREADS_HELP

if TYPE_CHECKING:
    from scalemath.sampling.engine import Engine


_help = partial(field_help, ServerConfig)  # an option's help: that of the ServerConfig field it sets


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        model: str = typer.Option(
            ...,
            "--model",
            help="Checkpoint folder (or hub-style name already "
            "on disk); 'fake' serves the deterministic stand-in engine.",
        ),
        host: str = typer.Option("127.0.0.1", help=_help("host")),
        port: int = typer.Option(8000, help=_help("port")),
        engine: str = typer.Option("hf", help="Backend: hf (transformers), vllm, or fake."),
        served_model_name: str = typer.Option("", help=_help("model_name")),
        device: str = typer.Option("auto", help="hf: auto, cpu, cuda, cuda:1, ..."),
        dtype: str = typer.Option("auto", help="hf/vllm: auto, float32, bfloat16, float16."),
        threads: int = typer.Option(0, min=0, help="hf: " + THREADS_HELP),
        tensor_parallel_size: int = typer.Option(1, help="vllm: GPUs per model replica."),
        max_batch_prompts: int = typer.Option(32, help=_help("max_batch_prompts")),
        default_max_tokens: int = typer.Option(256, min=1, help=_help("default_max_tokens")),
        api_key: str = typer.Option(None, "--api-key", envvar="SCALEMATH_API_KEY", help=_help("api_key")),
        max_model_len: int = typer.Option(0, min=0, help=_help("context_length")),
        max_n: int = typer.Option(512, min=1, help=_help("max_n")),
        max_prompts: int = typer.Option(128, min=1, help=_help("max_prompts")),
        max_choices: int = typer.Option(512, min=1, help=_help("max_choices")),
        max_body_mb: float = typer.Option(8.0, min=0.001, help="Largest request body, in MiB (413 above)."),
        fail_every: int = typer.Option(0, hidden=True, help=_help("fail_every")),
        fail_status: int = typer.Option(503, hidden=True, help=_help("fail_status")),
        drop_every: int = typer.Option(0, hidden=True, help=_help("drop_every")),
        read_timeout: float = typer.Option(10.0, help=_help("read_timeout")),
        max_connections: int = typer.Option(512, help=_help("max_connections")),
    ) -> None:
        """Serve /v1/models, /v1/completions and /v1/chat/completions (JSON or stream=true) over a
        model, so OpenAIEngine clients (and any OpenAI-compatible tool, e.g. the `openai` client)
        can sample from it. Every request is checked against the limits before the engine runs."""
        from scalemath.sampling import load_engine
        from scalemath.serve.server import serve as run_server

        if api_key is not None and not api_key.strip():
            raise typer.BadParameter(
                "is empty: give a key, or leave --api-key (and SCALEMATH_API_KEY) unset for an open server",
                param_hint="--api-key",
            )
        eng: Engine
        if model == "fake" or engine == "fake":
            eng = load_engine("fake", served_model_name or "fake")
        elif engine == "hf":
            eng = load_engine("hf", model, device=device, dtype=dtype, threads=threads)
        elif engine == "vllm":
            eng = load_engine("vllm", model, tensor_parallel_size=tensor_parallel_size, dtype=dtype)
        else:
            raise typer.BadParameter(f"unknown engine {engine!r}; use hf, vllm or fake", param_hint="--engine")
        with _checks.as_bad_parameter():
            cfg = ServerConfig(
                host=host,
                port=port,
                model_name=served_model_name or model,
                api_key=api_key,
                max_batch_prompts=max_batch_prompts,
                max_n=max_n,
                max_prompts=max_prompts,
                max_choices=max_choices,
                max_body_bytes=int(max_body_mb * (1 << 20)),
                context_length=max_model_len,
                default_max_tokens=default_max_tokens,
                fail_every=fail_every,
                fail_status=fail_status,
                drop_every=drop_every,
                read_timeout=read_timeout,
                max_connections=max_connections,
            )
        run_server(eng, cfg)
