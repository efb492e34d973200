"""What model made a sample: the resolved absolute path and a content fingerprint of its files.

A sample or evaluation is resumed only when the model's *content* matches (`sampling.run`), not its
path string: a checkpoint retrained into the same folder has another fingerprint. The fingerprint
hashes the bytes of the files that define the model (weights, config, tokenizer, adapter); file
hashes are cached by (absolute path, size, mtime_ns, ctime_ns, inode) in memory and in
$SCALEMATH_CACHE_DIR/fingerprints.json (default ~/.cache/scalemath), so re-running on a large
unchanged model costs a stat per file. ctime and inode cannot be carried over by a copy that keeps
mtimes (`cp -p`, `rsync -t`), so a rewritten file is always hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

#: files (by suffix, or by exact name) that define a model folder's behaviour
MODEL_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".model", ".jinja", ".tiktoken")
MODEL_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "adapter_config.json",
    "chat_template.json",
)

_lock = threading.Lock()
_memory: dict[str, tuple[list[int], str]] = {}


def cache_path() -> Path:
    root = os.environ.get("SCALEMATH_CACHE_DIR") or Path.home() / ".cache" / "scalemath"
    return Path(root) / "fingerprints.json"


def model_files(folder: Path) -> list[Path]:
    """The files of a model folder that take part in its fingerprint (top level, sorted)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and (p.suffix in MODEL_SUFFIXES or p.name in MODEL_FILES))


def _key(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _read_cache() -> dict[str, Any]:
    try:
        data = json.loads(cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(entries: dict[str, Any]) -> None:
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        merged = {k: v for k, v in {**_read_cache(), **entries}.items() if os.path.exists(k)}  # gone: dropped
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".fingerprints.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(merged, f)
        os.replace(tmp, path)
    except OSError:  # a read-only home: the in-memory cache still holds
        pass


def file_digest(path: Path) -> str:
    """blake2b of a file's bytes (cached by path, size, mtime_ns, ctime_ns and inode)."""
    path = path.resolve()
    key = _key(path.stat())
    name = str(path)
    with _lock:
        hit = _memory.get(name)
        if hit is None:
            disk = _read_cache().get(name)
            if isinstance(disk, list) and len(disk) == 2:
                hit = (list(disk[0]), str(disk[1]))
        if hit is not None and hit[0] == key:
            _memory[name] = hit
            return hit[1]
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    digest = h.hexdigest()
    if _key(path.stat()) == key:  # not rewritten while we read it
        with _lock:
            _memory[name] = (key, digest)
        _write_cache({name: [key, digest]})
    return digest


def model_fingerprint(model: str | os.PathLike) -> str | None:
    """Content fingerprint of a local model (folder or single file); None for a name that is not a
    local path (a hub id, a served model's name: its name is its identity)."""
    p = Path(model).expanduser()
    if p.is_file():
        files = [p]
    elif p.is_dir():
        files = model_files(p)
        if not files:
            return None
    else:
        return None
    h = hashlib.blake2b(digest_size=12)
    for f in files:
        h.update(f"{f.name}\x00{file_digest(f)}\n".encode())
    return h.hexdigest()


def model_identity(model: Any) -> dict[str, str | None]:
    """{"model_path": absolute path or None, "model_fingerprint": content hash or None} of a model
    given as a path, a hub id or an engine (its `model_path` or `model_id`)."""
    if isinstance(model, str | os.PathLike):
        ref: Any = model
    else:
        ref = getattr(model, "model_path", None) or getattr(model, "model_id", None)
    if ref is None or getattr(model, "name", "") in ("openai", "fake"):
        return {"model_path": None, "model_fingerprint": None}
    p = Path(str(ref)).expanduser()
    if not p.exists():
        return {"model_path": None, "model_fingerprint": None}
    return {"model_path": str(p.resolve()), "model_fingerprint": model_fingerprint(p)}
