"""scalemath.training: the from-scratch tiny model and supervised fine-tuning.

- `tokenizer.train_tokenizer(lines, TokenizerConfig)`: byte-level BPE, digits split.
- `tiny.build_tiny_base(corpus_lines, out_dir, TinyConfig, PretrainConfig) -> Path`: tokenizer +
  Llama init + pre-training, saved for `AutoModelForCausalLM/AutoTokenizer.from_pretrained(dir)`.
- `sft.train_sft(SFTRunConfig) -> Path`: TRL SFTTrainer on Problem/Sample JSONL, completion-only loss.

Heavy libraries (torch, transformers, trl) are imported by the submodules, not here.
"""
import os

# torch's OpenMP threads busy-wait between parallel regions by default; on a CPU shared with other
# processes that makes 2 threads several times slower than 1 (measured: 0.7k vs 2.7k tok/s). Passive
# waiting removes the collapse. Only effective if set before torch is first imported; a user's own
# setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
