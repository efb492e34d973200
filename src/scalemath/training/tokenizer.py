"""A small byte-level BPE tokenizer trained on a text corpus, for the from-scratch tiny model.

Digits are always single tokens (" 3", "6" for " 36") so arithmetic stays learnable: a number is
spelled digit by digit, never by a merge the model would have to memorise. Words and runs of
punctuation get BPE merges, which makes sequences shorter than characters (faster training).
Byte-level means every string round-trips exactly, including unseen characters.

The result is a `transformers.PreTrainedTokenizerFast` with `<s>` (prepended to every encoding, like
Llama), `</s>` and `<pad>`, saved with `save_pretrained` and reloaded with `AutoTokenizer`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

BOS, EOS, PAD = "<s>", "</s>", "<pad>"

# GPT-2 style split, except that every digit is a piece of its own and a space before a number is
# its own token, so a digit has one token id wherever it stands (question, text, <<a*b=c>>).
SPLIT_DIGITS = r" ?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
# Same with whole numbers kept together (merges may then join digits); only for comparison.
JOIN_DIGITS = r" ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"


@dataclass
class TokenizerConfig:
    """How to train the tiny model's tokenizer."""

    vocab_size: int = field(
        default=512,
        metadata={
            "help": "Target vocabulary size including the 256 byte tokens and 3 special tokens; 259 means "
            "bytes only (no merges)."
        },
    )
    min_frequency: int = field(default=2, metadata={"help": "A pair must occur this often to be merged."})
    split_digits: bool = field(
        default=True, metadata={"help": "Keep every digit a separate token (recommended for arithmetic)."}
    )
    max_lines: int | None = field(
        default=200_000, metadata={"help": "Train on at most this many corpus lines (the first ones); None = all."}
    )
    model_max_length: int = field(
        default=512,
        metadata={"help": "Longest sequence the tokenizer reports as supported (set to the model's max positions)."},
    )


def train_tokenizer(lines: Iterable[str], config: TokenizerConfig | None = None):
    """Train a byte-level BPE tokenizer on `lines`; returns a `PreTrainedTokenizerFast`."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    config = config or TokenizerConfig()
    if config.vocab_size < 259:
        raise ValueError(f"vocab_size must be >= 259 (256 bytes + 3 special tokens), got {config.vocab_size}")
    tok = Tokenizer(models.BPE())
    pattern = SPLIT_DIGITS if config.split_digits else JOIN_DIGITS
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=config.vocab_size,
        min_frequency=config.min_frequency,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_take(lines, config.max_lines), trainer)
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        model_max_length=config.model_max_length,
        padding_side="right",
    )


def tokens_per_char(tokenizer, lines: Iterable[str]) -> float:
    """Mean tokens per character over `lines` (special tokens not counted)."""
    n_tok = n_char = 0
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == 1024:
            n_tok += _count(tokenizer, batch)
            n_char += sum(map(len, batch))
            batch = []
    if batch:
        n_tok += _count(tokenizer, batch)
        n_char += sum(map(len, batch))
    return n_tok / max(n_char, 1)


def _count(tokenizer, batch: list[str]) -> int:
    return sum(len(ids) for ids in tokenizer(batch, add_special_tokens=False)["input_ids"])


def _take(lines: Iterable[str], n: int | None) -> Iterable[str]:
    for i, line in enumerate(lines):
        if n is not None and i >= n:
            return
        yield line
