"""scalemath.training: the from-scratch tiny model and supervised fine-tuning.

- `tokenizer.train_tokenizer(lines, TokenizerConfig)`: byte-level BPE, digits split.
- `tiny.build_tiny_base(corpus_lines, out_dir, TinyConfig, PretrainConfig) -> Path`: tokenizer +
  Llama init + pre-training, saved for `AutoModelForCausalLM/AutoTokenizer.from_pretrained(dir)`.
- `sft.train_sft(SFTRunConfig) -> Path`: TRL SFTTrainer on Problem/Sample JSONL, completion-only loss.

Heavy libraries (torch, transformers, trl) are imported by the submodules, not here.
"""
import os
import sys

# torch's OpenMP threads busy-wait between parallel regions by default; on a CPU shared with other
# processes that makes 2 threads far slower than 1 (bench_train.py, nano model, busy 2-core machine:
# 205 tok/s busy-waiting, 9.0k passive, 9.7k with one thread). Passive waiting removes the collapse.
# Only effective if set before torch is first imported; a user's own setting wins.
# OMP_PASSIVE is False when torch was loaded before this ran without a passive policy (then
# runtime.setup_threads warns).
OMP_PASSIVE = "torch" not in sys.modules or os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE"
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
