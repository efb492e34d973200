"""`scalemath serve --model PATH`: an OpenAI-compatible server over a local model."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        model: str = typer.Option(..., "--model", help="Checkpoint folder (or hub-style name already "
                                  "on disk); 'fake' serves the deterministic stand-in engine."),
        host: str = typer.Option("127.0.0.1", help="Bind address (loopback by default)."),
        port: int = typer.Option(8000, help="Port (0 = any free port)."),
        engine: str = typer.Option("hf", help="Backend: hf (transformers), vllm, or fake."),
        served_model_name: str = typer.Option("", help="Model name clients send (default: --model)."),
        device: str = typer.Option("auto", help="hf: auto, cpu, cuda, cuda:1, ..."),
        dtype: str = typer.Option("auto", help="hf/vllm: auto, float32, bfloat16, float16."),
        threads: int = typer.Option(0, min=0, help="hf: torch CPU threads (0 = torch default; 1 on a busy CPU)."),
        tensor_parallel_size: int = typer.Option(1, help="vllm: GPUs per model replica."),
        max_batch_prompts: int = typer.Option(32, help="Most prompts per engine call."),
        default_max_tokens: int = typer.Option(256, help="max_tokens when a request sets none."),
        fail_every: int = typer.Option(0, hidden=True, help="Fault injection: fail every Nth request."),
        fail_status: int = typer.Option(503, hidden=True, help="Status of injected failures."),
        drop_every: int = typer.Option(0, hidden=True, help="Fault injection: drop every Nth connection."),
    ) -> None:
        """Serve /v1/models, /v1/completions and /v1/chat/completions (non-streaming) over a model,
        so OpenAIEngine clients (and any OpenAI-compatible tool) can sample from it."""
        from scalemath.serve.server import ServerConfig
        from scalemath.serve.server import serve as run_server

        if model == "fake" or engine == "fake":
            from scalemath.serve.fake import FakeEngine

            eng = FakeEngine(model_id=served_model_name or "fake")
        elif engine == "hf":
            from scalemath.sampling.hf import HFEngine, HFEngineConfig

            eng = HFEngine(model, HFEngineConfig(device=device, dtype=dtype, threads=threads))
        elif engine == "vllm":
            from scalemath.sampling.vllm_engine import VLLMEngine

            eng = VLLMEngine(model, tensor_parallel_size=tensor_parallel_size, dtype=dtype)
        else:
            raise typer.BadParameter(f"unknown engine {engine!r}; use hf, vllm or fake",
                                     param_hint="--engine")
        cfg = ServerConfig(host=host, port=port, model_name=served_model_name or model,
                           max_batch_prompts=max_batch_prompts,
                           default_max_tokens=default_max_tokens, fail_every=fail_every,
                           fail_status=fail_status, drop_every=drop_every)
        run_server(eng, cfg)
