"""What `sample` and `eval` share, defined once (not a command module: `_` names are skipped):
they draw samples the same way, so they share the prompt, engine and run options below and the
engine/prompt setup; a command whose option differs (default or help) keeps its own."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import typer

from scalemath.inputs import field_help
from scalemath.sampling.engine import SamplingParams
from scalemath.threads import HELP as THREADS_HELP

param_help = partial(field_help, SamplingParams)  # an option's help: that of the SamplingParams field it sets
TEMPERATURE = typer.Option(0.7, min=0.0, help=param_help("temperature"))
TOP_P = typer.Option(1.0, help=param_help("top_p"))
TOP_K = typer.Option(0, min=0, help=param_help("top_k"))
MAX_TOKENS = typer.Option(256, min=1, help=param_help("max_tokens"))
SEED = typer.Option(0, help=param_help("seed"))
STOP = typer.Option([], help=param_help("stop"))
TEMPLATE = typer.Option(
    None,
    help="Prompt template: qa, alpaca, fewshot_qa, question (the bare question) or a .txt path, "
    "used as written (default: qa; with --chat: question).",
)
CHAT = typer.Option(False, "--chat/--no-chat", help="Wrap the prompt in the model's own chat template (tokenizer's).")
SYSTEM = typer.Option("", "--system", help="--chat: a system message.")
EXEMPLARS = typer.Option(
    None,
    "--exemplars",
    exists=True,
    dir_okay=False,
    help="Few-shot templates: worked examples (e.g. the train split).",
)
SHOTS = typer.Option(4, "--shots", min=1, help="--exemplars: how many (the file's first N).")
OVERWRITE = typer.Option(
    False,
    "--overwrite",
    help="Draw again into --out even if it holds samples made by another model/prompt/settings.",
)
BASE_URL = typer.Option("", help="openai: the server's base URL (e.g. http://127.0.0.1:8000/v1).")
API_KEY = typer.Option(None, "--api-key", help="openai: bearer token (default $OPENAI_API_KEY).")
VERBOSE = typer.Option(False, "--verbose", help="vllm: keep its own INFO/WARNING log lines.")
LIMIT = typer.Option(0, min=0, help="Only the first N problems (0 = all).")
THREADS = typer.Option(0, min=0, help=THREADS_HELP)


def engine_and_prompt(
    engine: str,
    model: str,
    base_url: str,
    template: str | None,
    chat: bool,
    system: str,
    exemplars: Path | None,
    shots: int,
    /,
) -> tuple[str, Any]:
    """The engine (`auto` resolved and said on stderr; `openai` needs --base-url) and the prompt
    format, rendered and checked before any model loads (chat: the tokenizer alone). The arguments
    are the commands' options of the same names, in this order."""
    from scalemath.prompts import prompt_format
    from scalemath.sampling import resolve_engine

    if engine == "auto":
        engine = resolve_engine(engine, model)
        typer.echo(f"engine: {engine} (--engine auto)", err=True)
    if engine == "openai" and not base_url:
        raise typer.BadParameter("--engine openai needs --base-url")
    fmt = prompt_format(
        template or ("question" if chat else "qa"),
        chat=chat,
        system=system,
        exemplars=exemplars,
        shots=shots,
        model=model,
        endpoint_chat=engine == "openai",
    )
    return engine, fmt
