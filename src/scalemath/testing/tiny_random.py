"""A throwaway random-weight Llama with a character tokenizer, for engine tests and benchmarks.

Not a trained model (see `scalemath.training` for that): it only has to exercise the same code
paths as a real checkpoint — `from_pretrained` loading, padding, eos, multi-character stop strings.
"""

from __future__ import annotations

import string
from pathlib import Path

SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")
CHARS = "\n" + string.printable[:95]  # digits, letters, punctuation, space


def char_tokenizer():
    """A PreTrainedTokenizerFast with one token per printable ASCII character (+ pad/bos/eos/unk)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIALS + tuple(dict.fromkeys(CHARS)))}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


def tiny_llama(hidden: int = 16, layers: int = 2, heads: int = 2, intermediate: int | None = None, seed: int = 0):
    """A random LlamaForCausalLM over the char vocabulary (hidden=16, layers=2: ~7k params)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = char_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=intermediate or 4 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=2048,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    return model, tok


#: a small chat template (ChatML-like, one line per message), for tests of `--chat` / `chat: true`
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def save_tiny_llama(out_dir: str | Path, chat_template: str | None = None, **kw) -> Path:
    """Build a tiny random Llama + tokenizer and save both to out_dir (loadable by from_pretrained);
    `chat_template` (e.g. `CHAT_TEMPLATE`) gives the tokenizer a chat template, as an instruct model has."""
    from scalemath.outputs import save_pretrained

    model, tok = tiny_llama(**kw)
    if chat_template is not None:
        tok.chat_template = chat_template
    return save_pretrained(Path(out_dir), model, tok)
