"""scalemath.training: the from-scratch tiny model and supervised fine-tuning.

- `tokenizer.train_tokenizer(lines, TokenizerConfig)`: byte-level BPE, digits split.
- `tiny.build_tiny_base(corpus_lines, out_dir, TinyConfig, PretrainConfig) -> Path`: tokenizer +
  Llama init + pre-training, saved for `AutoModelForCausalLM/AutoTokenizer.from_pretrained(dir)`.
- `sft.train_sft(SFTRunConfig) -> Path`: TRL SFTTrainer on Problem/Sample JSONL, completion-only loss;
  `sft_config.SFTRunConfig` holds the run's settings and profiles, `lora` the LoRA/QLoRA pieces.

Heavy libraries (torch, transformers, trl) are imported by the submodules, not here.
"""

from scalemath import OMP_PASSIVE  # noqa: F401  (decided at package import, before torch loads)
