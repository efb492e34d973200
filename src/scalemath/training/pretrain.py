"""Causal-LM pre-training of a from-scratch model on a text corpus, with transformers' `Trainer`.

Every document becomes `<s> text </s>`; all documents are concatenated and cut into fixed blocks of
`block_size` tokens (no padding, every token a target). Training stops at `max_steps` or after
`minutes` of wall-clock (or CPU) time, whichever comes first; the cosine schedule follows the same progress
(steps or time), so a time-budgeted run still ends with an annealed learning rate.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer

from scalemath.records import RecordError, iter_jsonl_numbered
from scalemath.training.pretrain_config import PretrainConfig
from scalemath.training.runtime import (
    BudgetScheduleMixin,
    ProgressLog,
    TimeBudget,
    in_process_args,
    quiet_trainer,
    setup_threads,
    use_bf16,
)


def read_corpus(corpus: Iterable[str] | str | Path, max_lines: int | None = None) -> list[str]:
    """Documents of a corpus: an iterable of strings, a .txt file (one per line) or a .jsonl file
    (field "text"). Blank documents are skipped."""
    if isinstance(corpus, (str, Path)) and Path(corpus).suffix in (".txt", ".jsonl", ".json") and Path(corpus).exists():
        corpus = _read_corpus_file(Path(corpus))
    elif isinstance(corpus, (str, Path)):
        raise FileNotFoundError(f"no corpus file {corpus} (expected an existing .txt or .jsonl file)")
    out: list[str] = []
    for doc in corpus:
        if max_lines is not None and len(out) >= max_lines:
            break
        if not isinstance(doc, str):
            raise TypeError(f"corpus documents must be str, got {type(doc).__name__}")
        if doc.strip():
            out.append(doc)
    return out


def _read_corpus_file(path: Path) -> Iterable[str]:
    if path.suffix == ".txt":
        with open(path, encoding="utf-8") as f:
            for line in f:
                yield line.rstrip("\n")
        return
    for lineno, rec in iter_jsonl_numbered(path):
        if not isinstance(rec.get("text"), str):
            raise RecordError(path, lineno, "corpus record needs a string field 'text'")
        yield rec["text"]


def pack_blocks(tokenizer, docs: list[str], block_size: int, max_tokens: int | None = None) -> torch.Tensor:
    """Tokenise `<s> doc </s>` for each doc, concatenate and cut into [n_blocks, block_size] int64.
    The tail shorter than a block is dropped."""
    ids: list[int] = []
    eos = tokenizer.eos_token_id
    for i in range(0, len(docs), 2048):
        for seq in tokenizer(docs[i : i + 2048], add_special_tokens=True)["input_ids"]:
            ids.extend(seq)
            ids.append(eos)
        if max_tokens is not None and len(ids) >= max_tokens:
            break
    n = len(ids) // block_size
    if n == 0:
        raise ValueError(f"corpus has {len(ids)} tokens, fewer than one block of {block_size}")
    return torch.tensor(ids[: n * block_size], dtype=torch.long).view(n, block_size)


class BlockDataset(torch.utils.data.Dataset):
    """Fixed-length token blocks; each item is {input_ids, labels} (the model shifts labels)."""

    def __init__(self, blocks: torch.Tensor):
        self.blocks = blocks

    def __len__(self) -> int:
        return self.blocks.shape[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        b = self.blocks[i]
        return {"input_ids": b, "labels": b}


def pretrain(
    model,
    tokenizer,
    docs: list[str],
    config: PretrainConfig | None = None,
    *,
    out_dir: str | Path | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Pre-train `model` in place on `docs`; returns figures (steps, tokens, tokens/s, losses)."""
    from transformers import TrainingArguments, default_data_collator

    config = config or PretrainConfig()
    if config.minutes is None and config.max_steps is None and not config.epochs:
        raise ValueError("set minutes, max_steps or epochs")
    threads = setup_threads(config.threads)
    t0 = time.monotonic()
    blocks = pack_blocks(tokenizer, docs, config.block_size, config.max_tokens)
    g = torch.Generator().manual_seed(config.seed)
    blocks = blocks[torch.randperm(blocks.shape[0], generator=g)]
    n_held = min(config.heldout_blocks, blocks.shape[0] // 10)
    held, train = blocks[:n_held], blocks[n_held:]
    pack_seconds = time.monotonic() - t0

    steps_per_epoch = math.ceil(train.shape[0] / config.batch_size)
    max_steps = config.max_steps or max(1, int(config.epochs * steps_per_epoch))
    budget_s = config.minutes * 60 if config.minutes else None
    bf16 = use_bf16(config.bf16)
    output_dir = str(out_dir or tempfile.mkdtemp(prefix="scalemath-pretrain-"))
    args = TrainingArguments(
        output_dir=output_dir,
        max_steps=max_steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        adam_beta2=config.adam_beta2,
        max_grad_norm=config.max_grad_norm,
        warmup_steps=config.warmup,
        lr_scheduler_type="cosine",
        logging_steps=config.logging_steps,
        bf16=bf16,
        seed=config.seed,
        data_seed=config.seed,
        **in_process_args(),
    )
    log = ProgressLog("pretrain", tokens_per_step=config.batch_size * config.block_size, quiet=quiet)
    trainer = _PretrainTrainer(
        model=model,
        args=args,
        train_dataset=BlockDataset(train),
        data_collator=default_data_collator,
        callbacks=[log, TimeBudget(budget_s, config.clock)],
    )
    quiet_trainer(trainer)
    trainer.budget = {
        "warmup": config.warmup,
        "min_ratio": config.min_lr_ratio,
        "budget_s": budget_s,
        "clock_name": config.clock,
    }
    t1, c1 = time.monotonic(), time.process_time()
    result = trainer.train()
    train_seconds, cpu_seconds = time.monotonic() - t1, time.process_time() - c1
    if out_dir is None:
        shutil.rmtree(output_dir, ignore_errors=True)  # the temporary dir (args.output_dir)
    steps = trainer.state.global_step
    tokens = steps * config.batch_size * config.block_size
    stats = {
        "steps": steps,
        "tokens": tokens,
        "train_blocks": int(train.shape[0]),
        "epochs": round(steps / steps_per_epoch, 3),
        "train_seconds": round(train_seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "pack_seconds": round(pack_seconds, 2),
        "tokens_per_second": round(tokens / max(train_seconds, 1e-9), 1),
        "train_loss_mean": round(float(result.training_loss), 4),
        "final_loss": None if log.last_loss is None else round(log.last_loss, 4),
        "heldout_loss": round(heldout_loss(model, held), 4) if n_held else None,
        "threads": threads,
        "bf16": bf16,
    }
    model.config.use_cache = True
    return stats


class _PretrainTrainer(BudgetScheduleMixin, Trainer):
    """transformers.Trainer with the step-or-time cosine schedule."""


@torch.no_grad()
def heldout_loss(model, blocks: torch.Tensor, batch_size: int = 16) -> float:
    """Mean next-token loss of `model` on token blocks."""
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    total, n = 0.0, 0
    for i in range(0, blocks.shape[0], batch_size):
        b = blocks[i : i + batch_size].to(dev)
        total += float(model(input_ids=b, labels=b).loss) * b.shape[0]
        n += b.shape[0]
    model.train(was_training)
    return total / max(n, 1)
