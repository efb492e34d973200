"""Prompt templates live as files in this folder; `render` fills them, `prompt_hash` fingerprints them.

Templates use `{field}` placeholders (str.format); a file ending in a newline has it stripped so the
completion starts right after the template's last character (e.g. "A:" then " ...").
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from scalemath.records import text_hash

TEMPLATE_DIR = Path(__file__).parent


@cache
def load(name: str) -> str:
    """Template text by name ("alpaca", "qa", ...) or by path to a .txt file."""
    p = Path(name)
    if not p.suffix:
        p = TEMPLATE_DIR / f"{name}.txt"
    if not p.exists():
        known = sorted(q.stem for q in TEMPLATE_DIR.glob("*.txt"))
        raise FileNotFoundError(f"no prompt template {name!r}; known: {known}")
    from scalemath.inputs import read_bounded_text, template_fields

    text = read_bounded_text(p, what="template", allow_empty=False).rstrip("\n")  # FILE:LINE for bad bytes
    template_fields(text, p)  # only plain {field} placeholders (FILE:LINE)
    return text


def check(name: str, fields: tuple[str, ...] = ("question",)) -> str:
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
