"""The embedded default model: a tiny Llama trained from scratch on a procedural corpus.

`build_tiny_base` trains a tokenizer on the corpus, initialises a small `LlamaForCausalLM`, pre-trains
it (see `pretrain.py`) and saves both with `save_pretrained`, so every later stage loads the result
with `AutoModelForCausalLM.from_pretrained(dir)` / `AutoTokenizer.from_pretrained(dir)` exactly like
a hub checkpoint. `tiny_meta.json` beside them records the configs, sizes and measured figures.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scalemath.outputs import write_text

if TYPE_CHECKING:  # torch and transformers load in build_tiny_base: checking a shape stays cheap
    from scalemath.training.pretrain import PretrainConfig

TINY_META = "tiny_meta.json"


@dataclass
class TinyConfig:
    """Shape of the from-scratch model and its tokenizer (Llama architecture). The defaults are the
    "nano" preset (0.85M parameters), chosen by benchmarks/bench_tiny_quality.py (docs/modules.md,
    `scalemath.training.tiny`)."""

    hidden_size: int = field(default=128, metadata={"help": "Width of the residual stream."})
    num_layers: int = field(default=4, metadata={"help": "Number of decoder blocks."})
    num_heads: int = field(default=4, metadata={"help": "Attention heads (head dim = hidden_size / num_heads)."})
    num_kv_heads: int | None = field(
        default=None,
        metadata={"help": "Key/value heads for grouped-query attention; None = num_heads (plain multi-head)."},
    )
    intermediate_size: int = field(default=344, metadata={"help": "Hidden width of the SwiGLU MLP."})
    max_positions: int = field(
        default=512,
        metadata={"help": "Longest sequence (prompt + completion) in tokens; RoPE, so it costs no parameters."},
    )
    vocab_size: int = field(
        default=512, metadata={"help": "Tokenizer vocabulary to train (>= 259: 256 bytes + 3 special tokens)."}
    )
    split_digits: bool = field(default=True, metadata={"help": "Every digit its own token."})
    tie_embeddings: bool = field(default=True, metadata={"help": "Share input embedding and output head."})
    rope_theta: float = field(default=10000.0, metadata={"help": "RoPE base frequency."})
    init_std: float = field(default=0.02, metadata={"help": "Std of the normal weight initialisation."})
    seed: int = field(default=0, metadata={"help": "Seed of the weight initialisation."})

    def validate(self) -> TinyConfig:
        """Refuse a shape no tiny model can have (InputError naming the field), before any work."""
        from scalemath.inputs import in_range, int_range

        int_range("vocab_size", self.vocab_size, 259, 1 << 17)  # 256 bytes + 3 special tokens; a BPE a CPU trains
        int_range("hidden_size", self.hidden_size, 1, 1 << 14)
        int_range("num_layers", self.num_layers, 1, 256)
        int_range("num_heads", self.num_heads, 1, self.hidden_size)
        if self.num_kv_heads is not None:
            int_range("num_kv_heads", self.num_kv_heads, 1, self.num_heads)
        int_range("intermediate_size", self.intermediate_size, 1, 1 << 16)
        int_range("max_positions", self.max_positions, 8, 1 << 17)
        int_range("seed", self.seed, 0, 2**32 - 1)
        in_range("rope_theta", self.rope_theta, 0.0, None, lo_open=True)
        in_range("init_std", self.init_std, 0.0, None, lo_open=True)
        if self.hidden_size % self.num_heads:
            from scalemath.records import InputError

            raise InputError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        return self


def check_pretrain(pre: PretrainConfig) -> PretrainConfig:
    """Refuse pre-training settings no run can use (InputError naming the field), before any work."""
    from scalemath.inputs import in_range, int_range

    if pre.minutes is not None:
        in_range("minutes", pre.minutes, 0.0, None, lo_open=True)
    if pre.max_steps is not None:
        int_range("max_steps", pre.max_steps, 1)
    in_range("learning_rate", pre.learning_rate, 0.0, 10.0, lo_open=True)
    in_range("min_lr_ratio", pre.min_lr_ratio, 0.0, 1.0)
    in_range("warmup", pre.warmup, 0.0, 1.0)
    in_range("weight_decay", pre.weight_decay, 0.0, None)
    in_range("epochs", pre.epochs, 0.0, None, lo_open=True)
    int_range("block_size", pre.block_size, 2, 1 << 17)
    if pre.threads is not None:
        int_range("threads", pre.threads, 1, 4096)
    return pre


# Named shapes; tokens per CPU-second on one core of the dev machine (bench_train.py): nano ~9k,
# micro ~5k, small ~3.5k. With a few minutes of pre-training, nano learns the most.
PRESETS: dict[str, TinyConfig] = {
    "nano": TinyConfig(hidden_size=128, num_layers=4, num_heads=4, intermediate_size=344),
    "micro": TinyConfig(hidden_size=192, num_layers=4, num_heads=4, intermediate_size=512),
    "small": TinyConfig(hidden_size=256, num_layers=4, num_heads=4, intermediate_size=688),
    "base": TinyConfig(hidden_size=256, num_layers=6, num_heads=4, intermediate_size=688),
}


def llama_config(config: TinyConfig, tokenizer):
    """The `LlamaConfig` for `config`, with the tokenizer's vocabulary and special-token ids."""
    from transformers import LlamaConfig

    if config.hidden_size % config.num_heads:
        raise ValueError(f"hidden_size {config.hidden_size} is not divisible by num_heads {config.num_heads}")
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_kv_heads or config.num_heads,
        max_position_embeddings=config.max_positions,
        rope_theta=config.rope_theta,  # type: ignore[call-arg]  # transformers 5 takes it as a legacy kwarg (into rope_parameters); the stub lists fields only
        initializer_range=config.init_std,
        tie_word_embeddings=config.tie_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        use_cache=True,
    )


def init_model(config: TinyConfig, tokenizer):
    """A freshly initialised `LlamaForCausalLM` (float32) for `config` and `tokenizer`."""
    import torch
    from transformers import GenerationConfig, LlamaForCausalLM

    torch.manual_seed(config.seed)
    model = LlamaForCausalLM(llama_config(config, tokenizer))
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    return model


def count_parameters(model) -> int:
    """Distinct trainable parameters (a tied embedding counts once)."""
    return sum(p.numel() for p in model.parameters())


def build_tiny_base(
    corpus_lines: Iterable[str] | str | Path,
    out_dir: str | Path,
    config: TinyConfig | None = None,
    pretrain: PretrainConfig | None = None,
    *,
    quiet: bool = False,
) -> Path:
    """Train tokenizer + model from scratch on `corpus_lines` and save them to `out_dir`.

    `corpus_lines` is any iterable of text documents (one training document each) or the path of a
    .txt file (one document per line) or .jsonl file (a "text" field per record). Returns `out_dir`,
    which then holds config.json, model.safetensors, tokenizer files and tiny_meta.json.
    """
    config = config or TinyConfig()
    from scalemath.training.pretrain import PretrainConfig, read_corpus
    from scalemath.training.pretrain import pretrain as run_pretrain
    from scalemath.training.tokenizer import TokenizerConfig, tokens_per_char, train_tokenizer

    pretrain_config = pretrain or PretrainConfig()
    out_dir = Path(out_dir)
    t0 = time.monotonic()
    config.validate()
    check_pretrain(pretrain_config)
    lines = read_corpus(corpus_lines, pretrain_config.max_lines)
    if not lines:
        from scalemath.records import InputError

        where = f"{corpus_lines}: " if isinstance(corpus_lines, (str, Path)) else ""
        raise InputError(f"{where}the pre-training corpus is empty (no non-blank line)")
    tok_cfg = TokenizerConfig(
        vocab_size=config.vocab_size, split_digits=config.split_digits, model_max_length=config.max_positions
    )
    tokenizer = train_tokenizer(lines, tok_cfg)
    tok_seconds = time.monotonic() - t0
    model = init_model(config, tokenizer)
    stats = run_pretrain(model, tokenizer, lines, pretrain_config, quiet=quiet)
    out_dir.mkdir(parents=True, exist_ok=True)
    from scalemath.outputs import save_pretrained

    save_pretrained(out_dir, model, tokenizer)
    from scalemath.training.runtime import versions

    meta = {
        "kind": "scalemath-tiny",
        "tiny_config": dataclasses.asdict(config),
        "pretrain_config": dataclasses.asdict(pretrain_config),
        "parameters": count_parameters(model),
        "vocab_size": len(tokenizer),
        "corpus_lines": len(lines),
        "tokens_per_char": round(tokens_per_char(tokenizer, lines[:2000]), 4),
        "tokenizer_seconds": round(tok_seconds, 2),
        "pretrain": stats,
        "total_seconds": round(time.monotonic() - t0, 2),
        "versions": versions(),
    }
    write_text(out_dir / TINY_META, json.dumps(meta, indent=2) + "\n")
    return out_dir


# ------------------------------------------------------------------------- the shipped base
# The demo's pre-trained base is built once by `scalemath tiny --recipe` and shipped inside the
# package (data/tiny_base/); `recipe.json` beside it records the recipe and the sha256 of each file.

RECIPE_FILE = "recipe.json"
SHIPPED_BASE = Path(__file__).resolve().parent.parent / "data" / "tiny_base"


@dataclass(frozen=True)
class BaseRecipe:
    """Everything that decides the demo's base (with the library versions and the CPU's kernels)."""

    seed: int = field(default=0, metadata={"help": "Seed of the corpus, the weight init and the block order."})
    corpus_lines: int = field(default=60000, metadata={"help": "Lines of the procedural pre-training corpus."})
    corpus_max_number: int = field(default=100, metadata={"help": "Largest operand of the corpus's + and - facts."})
    corpus_max_factor: int = field(default=12, metadata={"help": "Largest factor of the corpus's * and / facts."})
    model_preset: str = field(default="nano", metadata={"help": "Model shape (PRESETS)."})
    pretrain_steps: int = field(default=1200, metadata={"help": "Pre-training optimiser steps."})
    pretrain_batch_size: int = field(default=16, metadata={"help": "Pre-training sequences per step."})
    threads: int = field(
        default=1, metadata={"help": "torch CPU threads (float reduction order: part of what decides the bits)."}
    )


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def base_files(model_dir: Path) -> dict[str, str]:
    """sha256 of the files that make the model (not the recipe or the measured tiny_meta.json)."""
    return {
        f.name: _sha256(f)
        for f in sorted(Path(model_dir).iterdir())
        if f.is_file() and f.name not in (RECIPE_FILE, TINY_META)
    }


def corpus_and_base(recipe: BaseRecipe, out_dir: str | Path, pretrain: PretrainConfig, *, quiet: bool = False) -> Path:
    """`recipe`'s procedural corpus, then `build_tiny_base` on it (tokenizer, model of
    `recipe.model_preset` seeded with `recipe.seed`, pre-training with `pretrain`) into `out_dir`."""
    from scalemath.datasets.pretrain_corpus import PretrainConfig as CorpusConfig
    from scalemath.datasets.pretrain_corpus import pretrain_corpus

    corpus = CorpusConfig(
        seed=recipe.seed,
        n_lines=recipe.corpus_lines,
        max_number=recipe.corpus_max_number,
        max_factor=recipe.corpus_max_factor,
    )
    return build_tiny_base(
        list(pretrain_corpus(config=corpus)),
        out_dir,
        dataclasses.replace(PRESETS[recipe.model_preset], seed=recipe.seed),
        pretrain,
        quiet=quiet,
    )


def build_base(recipe: BaseRecipe, out_dir: str | Path, *, quiet: bool = False) -> Path:
    """Build the base of `recipe` from nothing (corpus, tokenizer, pre-training) into `out_dir`,
    atomically (a temporary directory renamed at the end), with recipe.json recording the recipe
    and the files' sha256."""
    import shutil

    from scalemath.training.pretrain import PretrainConfig

    if recipe.model_preset not in PRESETS:
        raise ValueError(f"unknown model preset {recipe.model_preset!r}; known: {', '.join(PRESETS)}")
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    pretrain = PretrainConfig(
        minutes=None,
        max_steps=recipe.pretrain_steps,
        batch_size=recipe.pretrain_batch_size,
        seed=recipe.seed,
        threads=recipe.threads,
    )
    corpus_and_base(recipe, tmp, pretrain, quiet=quiet)
    from scalemath.training.runtime import versions

    record = {"recipe": dataclasses.asdict(recipe), "files": base_files(tmp), "versions": versions()}
    (tmp / RECIPE_FILE).write_text(json.dumps(record, indent=2) + "\n")
    if out.exists():
        shutil.rmtree(out)
    tmp.replace(out)
    return out


def verify_base(model_dir: str | Path = SHIPPED_BASE, recipe: BaseRecipe | None = None) -> dict:
    """Check a built base against its recipe.json: every recorded file present with its sha256, no
    other model file, and (when given) the recipe it was built with equal to `recipe`. Returns the
    record; raises ValueError naming what differs."""
    d = Path(model_dir)
    try:
        record = json.loads((d / RECIPE_FILE).read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{d}: no readable {RECIPE_FILE} ({e})") from None
    recorded = record.get("files") or {}
    actual = base_files(d)
    if actual != recorded:
        bad = sorted(n for n in set(actual) | set(recorded) if actual.get(n) != recorded.get(n))
        raise ValueError(f"{d}: files differ from {RECIPE_FILE}: {', '.join(bad)}")
    if recipe is not None and record.get("recipe") != dataclasses.asdict(recipe):
        raise ValueError(f"{d}: built with recipe {record.get('recipe')}, expected {dataclasses.asdict(recipe)}")
    return record
