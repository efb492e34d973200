"""Shared training plumbing: CPU threads, precision, a time-or-step cosine schedule, time budget and
progress logging callbacks, version stamps. Used by both pre-training and SFT."""

from __future__ import annotations

import math
import os
import time
import warnings
from typing import TYPE_CHECKING, Any

import torch
from transformers import TrainerCallback

if TYPE_CHECKING:
    from transformers import Trainer

    _TrainerMixinBase = Trainer  # the mixin's methods use (and call up to) the Trainer's
else:
    _TrainerMixinBase = object


def setup_threads(threads: int | None = None) -> int:
    """Use `threads` intra-op threads (None or 0: `scalemath.threads.default_threads()`, the one
    default of every command); returns the number set."""
    from scalemath.threads import resolve_threads
    from scalemath.training import OMP_PASSIVE

    n = resolve_threads(threads)
    if n > 1 and not OMP_PASSIVE:
        warnings.warn(
            "torch was imported before scalemath.training without OMP_WAIT_POLICY=PASSIVE: on a "
            "busy CPU, several busy-waiting threads can train 10-40x slower than one; set the "
            "variable before starting Python, or use threads=1",
            RuntimeWarning,
            stacklevel=2,
        )
    torch.set_num_threads(n)
    return n


def use_bf16(setting: bool | str | None = "auto") -> bool:
    """bf16 mixed precision: "auto" = on a CUDA GPU that supports it, never on CPU."""
    if setting in (None, "auto"):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return bool(setting)


def in_process_args() -> dict[str, Any]:
    """TrainingArguments every scalemath trainer shares: no checkpoints, evaluation, reporting or
    progress bars (ProgressLog prints), data loaded in the main process, the CPU unless CUDA is there."""
    cuda = torch.cuda.is_available()
    return dict(
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        dataloader_pin_memory=cuda,
        use_cpu=not cuda,
    )


def versions() -> dict[str, str]:
    """Library versions recorded beside every trained model."""
    import tokenizers
    import transformers
    import trl

    import scalemath

    return {
        "scalemath": getattr(scalemath, "__version__", "?"),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "trl": trl.__version__,
        "tokenizers": tokenizers.__version__,
    }


def quiet_trainer(trainer) -> None:
    """Drop the Trainer's raw dict printer (ProgressLog prints a readable line instead)."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)


CLOCKS = {"wall": time.monotonic, "cpu": time.process_time}


def clock(name: str):
    """The time source of a budget: "wall" (elapsed time) or "cpu" (this process's CPU time, which
    a shared, busy machine does not inflate: use it to compare runs fairly there)."""
    if name not in CLOCKS:
        raise ValueError(f"unknown clock {name!r}; known: {', '.join(CLOCKS)}")
    return CLOCKS[name]


class BudgetCosine:
    """LR multiplier for LambdaLR: linear warmup then cosine decay to `min_ratio`, where progress is
    the larger of step/total_steps and elapsed/budget_s, so a wall-clock budget anneals the LR
    properly even when the number of steps it will allow is unknown in advance."""

    def __init__(
        self,
        total_steps: int,
        warmup: float = 0.03,
        min_ratio: float = 0.0,
        budget_s: float | None = None,
        clock_name: str = "wall",
    ):
        self.total_steps, self.warmup, self.min_ratio, self.budget_s = total_steps, warmup, min_ratio, budget_s
        self.now = clock(clock_name)
        self.t0: float | None = None

    def progress(self, step: int) -> float:
        p = step / max(self.total_steps, 1)
        if self.budget_s:
            if self.t0 is None:
                self.t0 = self.now()
            p = max(p, (self.now() - self.t0) / self.budget_s)
        return min(p, 1.0)

    def __call__(self, step: int) -> float:
        p = self.progress(step)
        if p < self.warmup:
            return max(p / self.warmup, 1e-3)
        q = (p - self.warmup) / max(1.0 - self.warmup, 1e-9)
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * q))


class BudgetScheduleMixin(_TrainerMixinBase):
    """Trainer mixin: use `BudgetCosine` when `self.budget` (a dict with warmup, min_ratio, budget_s)
    is set; otherwise the Trainer's own scheduler."""

    budget: dict[str, Any] | None = None

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None):
        if self.lr_scheduler is None and self.budget is not None:
            opt = optimizer or self.optimizer
            if opt is None:  # the error LambdaLR raises for it
                raise TypeError("NoneType is not an Optimizer")
            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(opt, BudgetCosine(num_training_steps, **self.budget))
            return self.lr_scheduler
        return super().create_scheduler(num_training_steps, optimizer)


class TimeBudget(TrainerCallback):
    """Stop training once `seconds` have passed on `clock_name` ("wall" or "cpu") since training began;
    log the last step whatever stops the run."""

    def __init__(self, seconds: float | None, clock_name: str = "wall"):
        self.seconds, self.now, self.t0 = seconds, clock(clock_name), 0.0

    def on_train_begin(self, args, state, control, **kw):
        self.t0 = self.now()

    def on_step_end(self, args, state, control, **kw):
        if self.seconds and self.now() - self.t0 >= self.seconds:
            control.should_training_stop = True
        if control.should_training_stop or state.global_step >= state.max_steps:
            control.should_log = True  # always log the last step, so the final loss is known


def malloc_trim() -> bool:
    """Hand the C heap's free pages back to the system (glibc `malloc_trim(0)`); False where
    there is no glibc. PyTorch's CPU tensors come from malloc: between training steps glibc keeps
    the freed activations and logit tiles of the last step, so the resident size stays about
    twice the live memory (measured on SmolLM2-135M LoRA: 2.3 GB resident, 1.2 GB live)."""
    import ctypes
    import ctypes.util

    global _LIBC
    if _LIBC is None:
        name = ctypes.util.find_library("c")
        try:
            lib = ctypes.CDLL(name) if name else None
            _LIBC = lib if lib is not None and hasattr(lib, "malloc_trim") else False
        except OSError:
            _LIBC = False
    if not _LIBC:
        return False
    _LIBC.malloc_trim(0)
    return True


_LIBC: Any = None


class ReleaseMemory(TrainerCallback):
    """`malloc_trim` after every optimizer step on CPU, so resident memory stays at the live
    memory and does not creep up with the fragments of steps of different sequence lengths."""

    def on_step_end(self, args, state, control, **kw):
        malloc_trim()


# Decoder layers run between two heap trims inside a step (forward and gradient-checkpointing
# recompute both count); docs/scale.md has the measurements that chose 10.
TRIM_EVERY_LAYERS = 10


def trim_heap_within_steps(model: Any, every: int = TRIM_EVERY_LAYERS) -> int:
    """`malloc_trim` before every `every`-th decoder layer call, so one step's peak resident
    memory stays near its live memory: glibc keeps the holes of the activation-sized blocks a step
    frees until a trim, and a trim at the step's end comes after the peak (docs/scale.md, "Where a
    step's extra ~1 GB went"). The layers are the model's `_no_split_modules` classes (Hugging
    Face's name for its repeated blocks). Returns the number of layers hooked (0: none found, or
    no glibc)."""
    if not malloc_trim():  # no glibc: nothing to trim with
        return 0
    names = set(getattr(model, "_no_split_modules", None) or ())
    layers = [m for m in model.modules() if type(m).__name__ in names]
    calls = [0]

    def trim(module: Any, args: Any) -> None:
        calls[0] += 1
        if calls[0] % every == 0:
            malloc_trim()

    for layer in layers:
        layer.register_forward_pre_hook(trim)
    return len(layers)


# SFTRunConfig.bound_memory=None bounds memory when one device batch's float32 logits pass this.
BOUND_MEMORY_LOGITS_BYTES = 64 << 20


def logits_bytes(model: Any, batch: int, length: int) -> int:
    """Bytes of one batch's float32 logits at `length` tokens (0 when the vocabulary is unknown)."""
    vocab = getattr(getattr(model, "config", None), "vocab_size", None)
    return 4 * batch * length * vocab if isinstance(vocab, int) else 0


# TRL's fused LM head folds the logits in tiles of (tokens x this many vocabulary columns) and
# keeps ~6 float32 tile-sized temporaries alive (exp, log-probs, gradient): its default 32768
# columns is ~1 GB at batch 4 x 256 tokens. benchmarks/bench_train.py --model compares both.
CPU_LM_HEAD_COLUMNS = 4096


def bound_lm_head_tiles(columns: int = CPU_LM_HEAD_COLUMNS) -> bool:
    """Make TRL's fused LM head use tiles of `columns` vocabulary columns (a module constant of
    trl.trainer.utils, read on every forward). False when this TRL has no such constant."""
    import trl.trainer.utils as trl_utils

    if not isinstance(getattr(trl_utils, "_CHUNKED_LOGPROB_CHUNK_SIZE", None), int):
        return False
    trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE = min(columns, trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE)
    return True


ENV_VERBOSE = "SCALEMATH_VERBOSE"


def verbose() -> bool:
    """Per-step log lines instead of one progress bar per stage (`scalemath demo --verbose`, or
    SCALEMATH_VERBOSE=1; worker processes inherit it)."""
    return os.environ.get(ENV_VERBOSE, "").strip().lower() in ("1", "true", "yes", "on")


class ProgressLog(TrainerCallback):
    """Training progress on stderr: on a terminal, one rich progress bar (steps, loss, steps/s,
    tokens/s, ETA; transient) and one line when training ends; with `verbose()` a line per logging
    event (step, loss, lr, tokens/s) instead. When stderr is not a terminal (a log file, a pipe, CI)
    it prints a progress line (step/total, loss, tokens/s, elapsed, ETA) at most every
    `line_every_s` seconds and at least when that long has passed at a step's end, so a long run
    is never silent. Keeps the last logged loss and the step count for the run's metadata.
    `tokens_per_step` gives the token rate for fixed-size batches; otherwise TRL's `num_tokens` log
    is used when present. `quiet`: print nothing."""

    def __init__(self, name: str, tokens_per_step: int | None = None, quiet: bool = False, line_every_s: float = 30.0):
        from rich.console import Console

        self.name, self.tokens_per_step, self.quiet = name, tokens_per_step, quiet
        self.verbose = verbose()
        self.console = Console(stderr=True)
        self.line_every_s = line_every_s
        self.last_line = 0.0
        self.t0 = 0.0
        self.last_loss: float | None = None
        self.losses: list[tuple[int, float]] = []
        self.tokens = 0
        self.bar: Any = None
        self.task: Any = None

    def _rate(self) -> float:
        return self.tokens / max(time.monotonic() - self.t0, 1e-9)

    def on_train_begin(self, args, state, control, **kw):
        self.t0 = self.last_line = time.monotonic()
        if self.quiet or self.verbose or not self.console.is_terminal:
            return  # (a bar is for a terminal; a log file gets the line at the end)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn(f"[{self.name}]"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("steps {task.fields[note]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.bar.start()
        total = state.max_steps if 0 < state.max_steps < 10**8 else None
        self.task = self.bar.add_task(self.name, total=total, note="")

    def _lines(self) -> bool:
        """Plain progress lines: not quiet, not verbose, and no terminal to draw a bar on."""
        return not self.quiet and not self.verbose and not self.console.is_terminal

    def _line(self, state) -> None:
        now = time.monotonic()
        self.last_line = now
        dt = max(now - self.t0, 1e-9)
        bounded = 0 < state.max_steps < 10**8
        total = f"/{state.max_steps}" if bounded else ""
        loss = f"  loss {self.last_loss:.4f}" if self.last_loss is not None else ""
        tok = f"  {self._rate():,.0f} tok/s" if self.tokens else ""
        eta = ""
        if bounded and state.global_step:
            eta = f"  ETA {dt / state.global_step * (state.max_steps - state.global_step):.0f}s"
        self.console.print(
            f"[{self.name}] step {state.global_step}{total}{loss}{tok}  {dt:.0f}s{eta}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )

    def on_step_end(self, args, state, control, **kw):
        if self._lines() and time.monotonic() - self.last_line >= self.line_every_s:
            self._line(state)
        if self.bar is not None:
            dt = max(time.monotonic() - self.t0, 1e-9)
            loss = f"loss {self.last_loss:.3f}  " if self.last_loss is not None else ""
            tok = f"  {self._rate():,.0f} tok/s" if self.tokens else ""
            self.bar.update(
                self.task, completed=state.global_step, note=f"{loss}{state.global_step / dt:.1f} it/s{tok}"
            )

    def on_train_end(self, args, state, control, **kw):
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        if not self.quiet and not self.verbose:
            dt = time.monotonic() - self.t0
            loss = f", loss {self.last_loss:.4f}" if self.last_loss is not None else ""
            tok = f", {self._rate():,.0f} tok/s" if self.tokens else ""
            self.console.print(
                f"[{self.name}] {state.global_step} steps in {dt:.0f}s{loss}{tok}", highlight=False, markup=False
            )

    def on_log(self, args, state, control, logs=None, **kw):
        logs = logs or {}
        if "loss" not in logs:
            return
        self.last_loss = float(logs["loss"])
        self.losses.append((state.global_step, self.last_loss))
        if self.tokens_per_step:
            self.tokens = state.global_step * self.tokens_per_step
        elif "num_tokens" in logs:
            self.tokens = int(logs["num_tokens"])
        dt = max(time.monotonic() - self.t0, 1e-9)
        if self._lines() and time.monotonic() - self.last_line >= self.line_every_s:
            self._line(state)
        if not self.quiet and self.verbose:
            total = f"/{state.max_steps}" if state.max_steps < 10**8 else ""
            self.console.print(
                f"[{self.name}] step {state.global_step}{total}  loss {self.last_loss:.4f}  "
                f"lr {logs.get('learning_rate', float('nan')):.2e}  {self.tokens / dt:,.0f} tok/s  {dt:.0f}s",
                highlight=False,
                markup=False,
            )
