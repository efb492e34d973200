"""Prompts: template files in this folder, and `PromptFormat`, the one owner of how a question becomes
the text a model sees (template, few-shot exemplars, the tokenizer's chat template, a system prompt).

Templates use `{field}` placeholders (str.format). A template's text is used exactly as written: a
file that ends in a newline renders with it (the built-in files end without one, so "A:" is followed
by the completion's " ..."). `render` fills a template, `prompt_hash` fingerprints it.

Every command that renders prompts (`sample`, `eval`, `train`, studies) builds one `PromptFormat` and
calls `check()` before a model loads, so a bad template fails in a second, not after the load.
"""

from __future__ import annotations

import os
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from scalemath.records import InputError, text_hash

TEMPLATE_DIR = Path(__file__).parent

#: the fields a question template may use
QUESTION_FIELDS = ("question", "exemplars")


@cache
def load(name: str) -> str:
    """Template text, exactly as written, by name ("alpaca", "qa", ...) or by path to a .txt file."""
    p = Path(name)
    if not p.suffix:
        p = TEMPLATE_DIR / f"{name}.txt"
    if not p.exists():
        known = sorted(q.stem for q in TEMPLATE_DIR.glob("*.txt"))
        raise FileNotFoundError(f"no prompt template {name!r}; known: {known}")
    from scalemath.inputs import read_bounded_text
    from scalemath.inputs import template_fields as check_placeholders

    text = read_bounded_text(p, what="template", allow_empty=False)  # FILE:LINE for bad bytes; as written
    check_placeholders(text, p)  # only plain {field} placeholders (FILE:LINE)
    return text


def check(name: str, fields: tuple[str, ...] = QUESTION_FIELDS) -> str:
    """Load template `name` and refuse (InputError FILE:LINE) any placeholder outside `fields`:
    commands call it before loading a model, so `{source}` fails fast."""
    from scalemath.inputs import check_template_fields

    text = load(name)
    p = Path(name) if Path(name).suffix else TEMPLATE_DIR / f"{name}.txt"
    check_template_fields(text, p, fields)
    return text


def render(name: str, **fields: str) -> str:
    return load(name).format(**fields)


def prompt_hash(name: str) -> str:
    """Fingerprint of the template text (recorded on every sample)."""
    return text_hash(load(name))


def template_fields(text: str) -> set[str]:
    """The `{field}` names a template uses (raises ValueError for a malformed one, e.g. a lone "{")."""
    return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}


def exemplar_template(template: str) -> str:
    """The template one few-shot exemplar is written with: `<template>_exemplar` beside the
    template when it exists, else the built-in `fewshot_qa_exemplar`."""
    p = Path(template)
    own = p.with_name(p.stem + "_exemplar.txt") if p.suffix else TEMPLATE_DIR / f"{template}_exemplar.txt"
    return str(own) if own.exists() else "fewshot_qa_exemplar"


def exemplar_block(
    pairs: Sequence[tuple[str, str]], exemplar: str = "fewshot_qa_exemplar", separator: str = "\n\n"
) -> str:
    """The text that fills a few-shot template's `{exemplars}`: each (question, solution) written
    with the `exemplar` template, joined and followed by `separator` ("" for no pairs)."""
    shown = [render(exemplar, question=q, solution=s.strip()) for q, s in pairs]
    return separator.join(shown) + (separator if shown else "")


def load_exemplars(path: str | os.PathLike, shots: int) -> tuple[tuple[str, str], ...]:
    """The first `shots` (question, solution) pairs of a record file (any format
    `scalemath.datasets.load_problems` reads, e.g. the GSM8K train split)."""
    from scalemath.datasets import load_problems

    if shots <= 0:
        raise InputError(f"--shots must be > 0, got {shots}")
    pairs: list[tuple[str, str]] = []
    for p in load_problems(Path(path)):
        if not p.solution.strip():
            continue
        pairs.append((p.question, p.solution.strip()))
        if len(pairs) == shots:
            break
    if not pairs:
        raise InputError(f"{path}: no records with a question and a solution to use as exemplars")
    return tuple(pairs)


@dataclass
class PromptFormat:
    """How a question becomes a prompt.

    template: name or .txt path; its `{question}` (and, few-shot, `{exemplars}`) fields are filled.
    exemplars: (question, solution) pairs written into `{exemplars}` with `exemplar_template`.
    chat: wrap the rendered template as the user message of a chat: with `tokenizer`'s chat template
        (and `add_generation_prompt`), or, with `tokenizer=None`, left to a chat endpoint
        (`--engine openai --chat`: the engine sends `system` and the message).
    system: optional system message (chat only).
    """

    template: str = "qa"
    exemplars: tuple[tuple[str, str], ...] = ()
    chat: bool = False
    system: str | None = None
    tokenizer: Any = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------------ rendering
    @property
    def plain(self) -> bool:
        """A template alone (no exemplars, no chat): its hash is the template's own."""
        return not self.exemplars and not self.chat

    def user_text(self, question: str) -> str:
        """The template filled with the question (and the exemplars)."""
        fields = {"question": question}
        if self.exemplars:
            fields["exemplars"] = exemplar_block(self.exemplars, exemplar_template(self.template))
        return render(self.template, **fields)

    def messages(self, question: str) -> list[dict[str, str]]:
        msgs = [{"role": "system", "content": self.system}] if self.system else []
        return [*msgs, {"role": "user", "content": self.user_text(question)}]

    def render(self, question: str) -> str:
        """The prompt text as the engine receives it."""
        if self.chat and self.tokenizer is not None:
            return str(
                self.tokenizer.apply_chat_template(self.messages(question), tokenize=False, add_generation_prompt=True)
            )
        return self.user_text(question)

    def render_all(self, questions: Iterable[str]) -> list[str]:
        return [self.render(q) for q in questions]

    def completion_prefix(self, question: str = "") -> str:
        """What goes before an SFT target: a space after a prompt that ends in a non-space ("A:"),
        nothing after a chat template's assistant header or a template ending in whitespace."""
        text = self.render(question or "?")
        return "" if not text or text[-1].isspace() else " "

    # ------------------------------------------------------------------ identity
    @property
    def hash(self) -> str:
        """Fingerprint of everything that shapes the prompt text (recorded as Sample.prompt_hash)."""
        if self.plain:
            return prompt_hash(self.template)
        chat_template = getattr(self.tokenizer, "chat_template", None) if self.chat else None
        parts = [
            load(self.template),
            repr(self.exemplars),
            f"chat={self.chat}",
            f"endpoint={self.chat and self.tokenizer is None}",
            f"system={self.system!r}",
            str(chat_template or ""),
        ]
        return text_hash("\x00".join(parts))

    def describe(self) -> dict[str, Any]:
        """What is recorded beside the hash (sample meta, train_meta.json)."""
        d: dict[str, Any] = {"template": self.template}
        if self.exemplars:
            d["shots"] = len(self.exemplars)
        if self.chat:
            d["chat"] = "endpoint" if self.tokenizer is None else "tokenizer"
            if self.system:
                d["system"] = self.system
        return d

    # ------------------------------------------------------------------ checks
    def check(self) -> str:
        """Render a question now (before any model loads); raise InputError saying what is wrong.
        Returns the rendered example."""
        try:
            text = load(self.template)
        except FileNotFoundError as e:
            raise InputError(str(e)) from None
        try:
            used = template_fields(text)
        except ValueError as e:
            raise InputError(
                f"prompt template {self.template!r}: {e} (write a literal brace as {{{{ or }}}})"
            ) from None
        unknown = sorted(used - set(QUESTION_FIELDS))
        if unknown:
            raise InputError(
                f"prompt template {self.template!r} uses unknown field(s) {unknown}; "
                f"a question template may use {{question}} and {{exemplars}}"
            )
        if "question" not in used:
            raise InputError(f"prompt template {self.template!r} has no {{question}} field")
        if "exemplars" in used and not self.exemplars:
            raise InputError(
                f"prompt template {self.template!r} is few-shot: give its worked examples with "
                "--exemplars FILE (question + solution records, e.g. the GSM8K train split) and --shots N"
            )
        if self.exemplars and "exemplars" not in used:
            raise InputError(
                f"--exemplars given but prompt template {self.template!r} has no {{exemplars}} field "
                "(use a few-shot template, e.g. --template fewshot_qa)"
            )
        if self.exemplars:
            ex = exemplar_template(self.template)
            missing = sorted(template_fields(load(ex)) - {"question", "solution"})
            if missing:
                raise InputError(f"exemplar template {ex!r} uses unknown field(s) {missing}")
        if self.system and not self.chat:
            raise InputError("--system needs --chat (a system message is part of a chat)")
        if self.chat and self.tokenizer is not None and not getattr(self.tokenizer, "chat_template", None):
            raise InputError("--chat: this model's tokenizer has no chat template (drop --chat, or use --template)")
        try:
            return self.render("What is 1 + 1?")
        except Exception as e:  # a chat template's own refusal (jinja), a bad format spec, ...
            raise InputError(f"prompt template {self.template!r} does not render: {type(e).__name__}: {e}") from None


def as_format(template: str | PromptFormat) -> PromptFormat:
    """A template name or path as a plain `PromptFormat` (a PromptFormat is returned as is)."""
    return template if isinstance(template, PromptFormat) else PromptFormat(template)


def load_tokenizer(model: str | os.PathLike) -> Any:
    """The model's tokenizer (for its chat template), loaded without the weights."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(model))
    except (OSError, ValueError) as e:
        raise InputError(f"--chat: cannot load the tokenizer of {model}: {e}") from None


def prompt_format(
    template: str = "qa",
    *,
    chat: bool = False,
    system: str | None = None,
    exemplars: str | os.PathLike | None = None,
    shots: int = 4,
    model: str | os.PathLike | None = None,
    tokenizer: Any = None,
    endpoint_chat: bool = False,
) -> PromptFormat:
    """The checked `PromptFormat` of a command's options (what `--template`, `--chat`, `--system`,
    `--exemplars` and `--shots` give): the tokenizer (chat) is loaded from `model` unless given or
    the chat is left to an endpoint (`endpoint_chat`, the openai engine's chat API)."""
    pairs = load_exemplars(exemplars, shots) if exemplars else ()
    if chat and tokenizer is None and not endpoint_chat:
        if model is None:
            raise InputError("--chat needs a model (its tokenizer's chat template)")
        tokenizer = load_tokenizer(model)
    fmt = PromptFormat(template, pairs, chat, system or None, tokenizer if chat and not endpoint_chat else None)
    fmt.check()
    return fmt


__all__: Sequence[str] = (
    "PromptFormat",
    "as_format",
    "exemplar_block",
    "exemplar_template",
    "load",
    "load_exemplars",
    "load_tokenizer",
    "prompt_format",
    "prompt_hash",
    "render",
    "template_fields",
)
