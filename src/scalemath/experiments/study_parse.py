"""A study mapping (read from YAML) into typed dataclasses, each error naming the key it is about
(`study.rft.ablations[0].k[1]: expected an integer, got 'x'`), and such a name placed at its file
line (`located`); `field_docs` lists the fields with their defaults and help."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from fractions import Fraction
from typing import Any

from scalemath.inputs import help_of
from scalemath.records import InputError


class StudyError(InputError):
    """A study file or mapping that does not describe a valid study; names the offending key."""


_KEY_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def located(message: str, prefix: str, lines: dict[tuple, int]) -> str:
    """`PREFIX.a.b[0].c: what` as `PREFIX:LINE: a.b[0].c: what`, LINE being where the deepest of
    those keys that the file writes is (study errors name their key; the file's lines say where).
    `PREFIX: unknown key 'x'` (a top-level key) as `PREFIX:LINE: unknown key 'x'`."""
    top = re.match(r": unknown key '([^']+)'", message[len(prefix) :]) if message.startswith(prefix) else None
    if top and (line := lines.get((top.group(1),))) is not None:
        return f"{prefix}:{line}{message[len(prefix) :]}"
    if not message.startswith(prefix + "."):
        return message
    rest, pos = message[len(prefix) :], 0
    path: tuple[str | int, ...] = ()
    best = None
    while m := _KEY_PART.match(rest, pos):
        path = (*path, m.group(1) if m.group(1) is not None else int(m.group(2)))
        best = lines.get(path, best)
        pos = m.end()
    if best is None or not rest.startswith(": ", pos):
        return message
    return f"{prefix}:{best}: {rest[1:pos]}{rest[pos:]}"


# ---------------------------------------------------------------------------------- parsing


def parse_fraction(v: Any, where: str) -> float:
    """A data fraction in (0, 1]: a number or a string such as "1/8"."""
    try:
        x = float(Fraction(v)) if isinstance(v, str) else float(v)
    except (ValueError, ZeroDivisionError, TypeError):
        raise StudyError(f'{where}: expected a fraction such as 0.25 or "1/4", got {v!r}') from None
    if isinstance(v, bool) or not 0 < x <= 1:
        raise StudyError(f"{where}: a fraction must be in (0, 1], got {v!r}")
    return x


_FRACTION_FIELDS = {"fractions", "source_fraction"}


def build(cls: type, d: Any, where: str) -> Any:
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise StudyError(f"{where}: expected a mapping of {cls.__name__} fields, got {type(d).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in d:
        if key not in fields:
            raise StudyError(f"{where}: unknown key {key!r}; known: {', '.join(fields)}")
    kw = {name: _convert(hints[name], d[name], f"{where}.{name}", name) for name in d}
    return cls(**kw)


def _convert(tp: Any, v: Any, where: str, name: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if v is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _convert(options[0], v, where, name)
        for a in options:  # e.g. float | str: the first that accepts the value
            try:
                return _convert(a, v, where, name)
            except StudyError:
                continue
        raise StudyError(f"{where}: unexpected value {v!r}")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):  # a section class (hints hold no instances)
        return build(tp, v, where)
    if origin is list:
        if not isinstance(v, list):
            raise StudyError(f"{where}: expected a list, got {v!r}")
        return [_convert(args[0], x, f"{where}[{i}]", name) for i, x in enumerate(v)]
    if origin is tuple:
        if not isinstance(v, (list, tuple)) or len(v) != len(args):
            raise StudyError(f"{where}: expected a list of {len(args)} values, got {v!r}")
        return tuple(_convert(a, x, f"{where}[{i}]", name) for i, (a, x) in enumerate(zip(args, v)))
    if origin is dict:
        if not isinstance(v, dict):
            raise StudyError(f"{where}: expected a mapping, got {v!r}")
        return {str(k): (x if args[1] is Any else _convert(args[1], x, f"{where}.{k}", name)) for k, x in v.items()}
    if tp is Any:
        return v
    if tp is bool:
        if not isinstance(v, bool):
            raise StudyError(f"{where}: expected true or false, got {v!r}")
        return v
    if tp is int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise StudyError(f"{where}: expected an integer, got {v!r}")
        return v
    if tp is float:
        if name in _FRACTION_FIELDS:
            return parse_fraction(v, where)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise StudyError(f"{where}: expected a number, got {v!r}")
        return float(v)
    if tp is str:
        if not isinstance(v, str):
            raise StudyError(f"{where}: expected a string, got {v!r}")
        return v
    raise StudyError(f"{where}: unsupported field type {tp}")  # a bug in the dataclasses above


def field_docs(cls: type, prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted key, default, help) of every study field, nested sections expanded."""
    out = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        tp = hints[f.name]
        inner = typing.get_args(tp)[0] if typing.get_origin(tp) is list and typing.get_args(tp) else None
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):  # a section class (hints hold no instances)
            out.append((key, "", help_of(f)))
            out += field_docs(tp, key + ".")
        elif isinstance(inner, type) and dataclasses.is_dataclass(inner):
            out.append((key + "[]", "", help_of(f)))
            out += field_docs(inner, key + "[].")
        else:
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            out.append((key, repr(default), help_of(f)))
    return out
