"""The input layer's config half: bounded YAML, typed config fields and their help, checked option values.

`records` reads JSONL (bounded lines, values and nesting; known fields checked by type). This module
reads what a person writes by hand, before any model loads:

* `load_yaml(path)`: a YAML file of at most MAX_YAML_BYTES, parsed by PyYAML's safe loader with an
  alias budget — the document as it would be once every alias is expanded may hold at most
  MAX_YAML_NODES nodes (a 471-byte "billion laughs" file is refused after composing a few dozen
  nodes, not after gigabytes). Returns the data and the line of every key, so a later check can
  say `FILE:LINE`.
* `check_fields(cls, data, path, lines)`: a mapping's values against a dataclass's annotations
  (int, float, bool, str, their Optionals, lists, dicts): `epochs: three` is
  `FILE:3: field 'epochs' must be an integer, got string 'three'`.
* `finite`, `in_range`, `int_range`: option checks with one wording, raising InputError.

A small typed validator of our own rather than pydantic or msgspec: the configs are plain
dataclasses already (their types are the annotations), the records a fixed table of field types
(records.FIELD_TYPES), and neither library gives the `FILE:LINE` of a YAML key; pydantic is only
installed as another package's dependency, msgspec not at all.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import types
import typing
from typing import Any

from scalemath.records import LIMITS, InputError, RecordError, empty_error, utf8_error

MAX_YAML_BYTES = 1 << 20
"""Largest YAML file read (1 MiB; a study or config is a few KB)."""

MAX_YAML_NODES = 100_000
"""Most nodes a YAML document may hold with its aliases expanded (a study has a few hundred)."""


def _loader() -> type:
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        """SafeLoader that refuses a document whose alias-expanded size passes MAX_YAML_NODES, and
        reads `1e-4` as the number it is (YAML 1.1 wants `1.0e-4`)."""

        def compose_document(self) -> Any:
            node = super().compose_document()
            _expanded_size(node, self.name)
            return node

    BoundedLoader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    BoundedLoader.add_implicit_resolver("tag:yaml.org,2002:float", _SCI_FLOAT, list("-+0123456789."))
    return BoundedLoader


_SCI_FLOAT = re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+$")


def _expanded_size(root: Any, name: str) -> int:
    """Nodes of the document once aliases are expanded (a shared node counts once per use),
    computed once per distinct node; raises past MAX_YAML_NODES."""
    import yaml

    memo: dict[int, int] = {}
    order: list[Any] = []
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:  # iterative post-order: a deep document does not hit the recursion limit
        node, done = stack.pop()
        if id(node) in memo:
            continue
        kids: list[Any] = []
        if isinstance(node, yaml.SequenceNode):
            kids = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            kids = [x for kv in node.value for x in kv]
        if done or not kids:
            total = 1 + sum(memo[id(k)] for k in kids)
            if total > MAX_YAML_NODES:
                line = node.start_mark.line + 1
                raise InputError(
                    f"{name}:{line}: YAML expands to more than {MAX_YAML_NODES:,} values (aliases "
                    "repeat what they point at; a config holds a few hundred)"
                )
            memo[id(node)] = total
            order.append(node)
            continue
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in memo)
    return memo[id(root)]


def read_bounded_text(
    path: str | os.PathLike, limit: int = MAX_YAML_BYTES, what: str = "content", allow_empty: bool | None = None
) -> str:
    """A small UTF-8 text file read whole, refused past `limit` bytes after reading at most that many
    (also a device or a FIFO: /dev/zero); bad bytes and an empty file name the file (and line)."""
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise RecordError(path, None, f"larger than {limit:,} bytes (a {what} file is a few KB)")
    if LIMITS.max_line_bytes < limit:
        for lineno, line in enumerate(data.split(b"\n"), 1):
            if len(line) > LIMITS.max_line_bytes:
                raise RecordError(path, lineno, f"line longer than {LIMITS.max_line_bytes:,} bytes (the line bound)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        lineno = data[: e.start].count(b"\n") + 1
        line = data.split(b"\n")[lineno - 1]
        raise RecordError(path, lineno, utf8_error(line) or "not valid UTF-8") from None
    if not text.strip() and not (LIMITS.allow_empty if allow_empty is None else allow_empty):
        raise empty_error(path, what)
    return text


def load_yaml(
    path: str | os.PathLike, what: str = "config", allow_empty: bool | None = None
) -> tuple[Any, dict[tuple, int]]:
    """(data, lines) of a YAML file, bounded (MAX_YAML_BYTES, MAX_YAML_NODES); `lines` maps each
    key path (a tuple of keys and list indexes) to its 1-based line. Errors are InputError naming
    the file (and line)."""
    import yaml

    text = read_bounded_text(path, what=what, allow_empty=allow_empty)
    loader = _loader()(text)
    loader.name = str(path)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        data = loader.construct_document(node)
    except yaml.YAMLError as e:
        raise InputError(f"{path}: not valid YAML ({' '.join(str(e).split())})") from None
    except RecursionError:
        raise InputError(f"{path}: YAML nested too deeply") from None
    finally:
        loader.dispose()
    lines: dict[tuple, int] = {}
    stack: list[tuple[Any, tuple]] = [(node, ())]
    seen: set[int] = set()
    while stack:
        n, at = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                key = at + (k.value,)
                lines.setdefault(key, k.start_mark.line + 1)
                stack.append((v, key))
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                lines.setdefault(at + (i,), v.start_mark.line + 1)
                stack.append((v, at + (i,)))
    return data, lines


def where(path: str | os.PathLike, lines: dict[tuple, int], *key: Any) -> str:
    """`FILE:LINE` of a key path (`FILE` when its line is unknown)."""
    line = lines.get(tuple(key))
    return f"{path}:{line}" if line else str(path)


def _value_kind(v: Any) -> str:
    from scalemath.records import json_type_name

    text = repr(v)
    return f"{json_type_name(v)} {text[:40]}" if v is not None else "null"


def _type_ok(tp: Any, v: Any) -> str | None:
    """None if `v` fits the annotation `tp`, else what was expected."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any or tp is object:
        return None
    if origin in (typing.Union, types.UnionType):
        if v is None and type(None) in args:
            return None
        wants = []
        for a in args:
            if a is type(None):
                continue
            w = _type_ok(a, v)
            if w is None:
                return None
            wants.append(w)
        return " or ".join(wants) + (" or null" if type(None) in args else "")
    if origin is typing.Literal:
        return None if v in args else "one of " + ", ".join(repr(a) for a in args)
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple):
        if not isinstance(v, (list, tuple)):
            return "a list"
        inner = args[0] if args and origin is not tuple else None
        if inner is not None:
            for x in v:
                w = _type_ok(inner, x)
                if w is not None:
                    return f"a list of {w.removeprefix('a ').removeprefix('an ')}s"
        return None
    if origin is dict or tp is dict:
        return None if isinstance(v, dict) else "a mapping"
    if tp is bool:
        return None if isinstance(v, bool) else "true or false"
    if tp is int:
        return None if isinstance(v, int) and not isinstance(v, bool) else "an integer"
    if tp is float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return "a number"
        return None if math.isfinite(v) else "a finite number"
    if tp is str:
        return None if isinstance(v, str) else "a string"
    return None  # a type this check does not know: the class's own validation decides


def check_fields(cls: type, data: Any, path: str | os.PathLike, lines: dict[tuple, int], what: str = "") -> dict:
    """`data` as a mapping of `cls`'s dataclass fields, each value of its annotated type; an unknown
    field or a wrong type raises InputError `FILE:LINE: ...` before anything uses them."""
    what = what or f"{cls.__name__} field"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of {what}s, got {_value_kind(data)}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    for key, v in data.items():
        if key not in known:
            raise InputError(f"{where(path, lines, key)}: unknown {what} {key!r}; known: {', '.join(known)}")
        want = _type_ok(hints[key], v)
        if want is not None:
            raise InputError(f"{where(path, lines, key)}: field {key!r} must be {want}, got {_value_kind(v)}")
    return data


def help_of(f: dataclasses.Field) -> str:
    """A dataclass field's description, its `metadata["help"]` ("" when it has none)."""
    return str(f.metadata.get("help", ""))


def field_help(cls: type, name: str) -> str:
    """The description of config field `name` of dataclass `cls`, for the command-line option that
    sets it (`typer.Option(..., help=field_help(SFTRunConfig, "epochs"))`), so the option and the
    field say the same thing. A field without one raises: every field an option sets is described."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            text = help_of(f)
            if not text:
                raise ValueError(f"{cls.__name__}.{name} has no help metadata")
            return text
    raise ValueError(f"{cls.__name__} has no field {name!r}")


# ------------------------------------------------------------------------------ option values


def finite(name: str, v: float) -> float:
    if not math.isfinite(v):
        raise InputError(f"{name} must be a finite number, got {v}")
    return v


def in_range(name: str, v: float, lo: float | None = None, hi: float | None = None, lo_open: bool = False) -> float:
    """`v` if finite and within [lo, hi] ((lo, hi] with lo_open), else InputError naming the option."""
    finite(name, v)
    low_bad = lo is not None and (v <= lo if lo_open else v < lo)
    if low_bad or (hi is not None and v > hi):
        lo_s = "-inf" if lo is None else f"{lo:g}"
        hi_s = "inf" if hi is None else f"{hi:g}"
        raise InputError(f"{name} must be in {'(' if lo_open else '['}{lo_s}, {hi_s}], got {v:g}")
    return v


def int_range(name: str, v: int, lo: int | None = None, hi: int | None = None) -> int:
    """`v` if lo <= v <= hi, else InputError naming the option."""
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        span = f">= {lo:,}" if hi is None else (f"<= {hi:,}" if lo is None else f"in [{lo:,}, {hi:,}]")
        raise InputError(f"{name} must be {span}, got {v:,}")
    return v


# ------------------------------------------------------------------------------------ templates


def template_fields(text: str, path: str | os.PathLike) -> dict[str, int]:
    """The `{field}` placeholders of a str.format template and the line each first appears on.
    Refused (InputError `FILE:LINE`): a bare `{}` (a literal brace, as in `\\boxed{}`, is written
    `{{}}`), an unclosed or stray brace, attribute or index access (`{question.__class__}`), a
    conversion or format spec (`{question:>99999999}` would allocate by the template)."""
    import string

    found: dict[str, int] = {}
    for lineno, line in enumerate(text.split("\n"), 1):
        try:
            parts = list(string.Formatter().parse(line))
        except ValueError as e:
            raise InputError(
                f"{path}:{lineno}: template is not a valid format string ({e}); write a literal brace as {{{{ or }}}}"
            ) from None
        for _, name, spec, conv in parts:
            if name is None:
                continue
            if not name or name.isdigit():
                raise InputError(
                    f"{path}:{lineno}: template has a positional placeholder {{{name}}}; write literal braces as "
                    "{{ }} (e.g. \\boxed{{}})"
                )
            if not name.isidentifier():
                raise InputError(f"{path}:{lineno}: template placeholder {{{name}}} must be a plain field name")
            if spec or conv:
                raise InputError(
                    f"{path}:{lineno}: template placeholder {{{name}}} has a conversion or format spec; "
                    "only plain {field} placeholders are filled"
                )
            found.setdefault(name, lineno)
    return found


def check_template_fields(text: str, path: str | os.PathLike, allowed: typing.Iterable[str]) -> None:
    """Refuse a template (InputError `FILE:LINE`) using a placeholder outside `allowed`."""
    allowed = tuple(allowed)
    for name, lineno in template_fields(text, path).items():
        if name not in allowed:
            raise InputError(
                f"{path}:{lineno}: template placeholder {{{name}}} is not filled here; it may use "
                + ", ".join(f"{{{a}}}" for a in allowed)
            )
