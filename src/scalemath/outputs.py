"""Where every command's output goes: the one output layer (records level; any layer may use it).

Rules, each enforced here so no command has to remember them:

- **Atomic.** A file is written to a temp file beside it, `.NAME.tmpPID`, fsynced, renamed over
  the target and the folder fsynced (`atomic_path`, `write_bytes`, `write_text`, `write_json`).
  A full disk or a crash leaves the old file or none, never a truncated one; on any exception the
  temp file is removed.
- **Never through a symlink.** An output path that is a symbolic link is *refused* (`OutputError`,
  exit status 2), not written through and not replaced: writing through would change a file the
  user did not name, and replacing the link would silently turn it into a regular file. Temp files
  are created with `O_EXCL | O_NOFOLLOW`, so a link planted at the temp name is not followed
  either; lock files are opened with `O_NOFOLLOW` (`open_lock`).
- **Never onto an input.** `check_outputs(inputs, outputs)` runs before any work and refuses an
  output that is the same file as one of the command's inputs (same inode once it exists, same
  resolved path otherwise), or two outputs that are the same file.
- **Stale temp files are cleaned.** A process killed with SIGKILL leaves `.NAME.tmpPID`; the next
  atomic write of NAME removes every such file whose PID is no longer alive on this host.
- **The umask's modes**, for models too: `save_pretrained` here fixes safetensors' 0600 weights.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from scalemath.errors import InputError

PathLike = str | os.PathLike


class OutputError(InputError):
    """An output path the command refuses to write (exit status 2, before any work)."""


_WRITE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO, errno.EROFS}  # a failed write
_TMP_RE = re.compile(r"\.tmp(\d+)$")


def tmp_path(path: PathLike, pid: int | None = None) -> Path:
    """The temp file of `path` for process `pid` (default: this one): `.NAME.tmpPID` beside it."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp{os.getpid() if pid is None else pid}")


def pid_alive(pid: int) -> bool:
    """Is process `pid` alive on this host?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def clean_stale_tmp(path: PathLike) -> int:
    """Remove `.NAME.tmpPID` files of `path` left by processes that are gone; returns how many."""
    path = Path(path)
    prefix = f".{path.name}.tmp"
    removed = 0
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return 0
    for e in entries:
        if not e.name.startswith(prefix):
            continue
        m = _TMP_RE.search(e.name)
        if m is None or e.name != prefix + m.group(1):
            continue
        pid = int(m.group(1))
        if pid == os.getpid() or pid_alive(pid):
            continue
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
            os.unlink(e.path)
            removed += 1
    return removed


def refuse_symlink(path: PathLike, what: str = "output") -> None:
    """Raise OutputError when `path` itself is a symbolic link."""
    if os.path.islink(path):
        raise OutputError(
            f"{what} {path} is a symbolic link (to {os.readlink(os.fspath(path))}); refusing to write through it "
            "or replace it: give the real path, or remove the link"
        )


def same_file(a: PathLike, b: PathLike) -> bool:
    """Do `a` and `b` name the same file (same inode when both exist, else same resolved path)?"""
    try:
        return os.path.samestat(os.stat(a), os.stat(b))
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(
    inputs: Iterable[PathLike | None], outputs: Iterable[tuple[str, PathLike | None]] | Iterable[PathLike | None]
) -> None:
    """Refuse (OutputError, exit 2) before any work: an output that is a symlink, an output that is
    one of the inputs, or two outputs that are the same file. `outputs` items are paths or
    (option name, path) pairs; None entries are skipped. (A folder input is compared as the
    folder; callers list the files they read inside it when an output may land there.)"""
    ins = [Path(p) for p in inputs if p is not None]
    outs: list[tuple[str, Path]] = []
    for item in outputs:
        if item is None:
            continue
        if isinstance(item, tuple):
            name, p = item
            if p is not None:
                outs.append((name, Path(p)))
        else:
            outs.append(("output", Path(item)))
    for i, (name, out) in enumerate(outs):
        refuse_symlink(out, name)
        for inp in ins:
            if same_file(out, inp):
                raise OutputError(
                    f"{name} {out} is the input {inp}; refusing to replace an input (write to another path)"
                )
        for name2, other in outs[:i]:
            if same_file(out, other):
                raise OutputError(f"{name} {out} and {name2} {other} are the same file; give two different paths")


def fsync_dir(path: PathLike) -> None:
    """fsync a folder (makes a rename in it durable); a no-op where folders cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: PathLike, fsync: bool = True) -> Iterator[Path]:
    """A temp file beside `path` (`.NAME.tmpPID`, created empty, not through a link) that replaces
    `path` when the block ends normally (after an fsync) and is removed when it raises (any
    exception, Ctrl-C, SystemExit from SIGTERM). Refuses a symlinked `path` (OutputError)."""
    path = Path(path)
    refuse_symlink(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_tmp(path)
    tmp = tmp_path(path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # ours from an earlier block of this process, or planted: never followed
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666))
    try:
        yield tmp
        if fsync:
            fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
        if fsync:
            fsync_dir(path.parent)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno in _WRITE_ERRNOS and e.filename is None:  # say which output
            e.filename = str(path)
        raise


def write_bytes(path: PathLike, data: bytes) -> int:
    """Write `data` to `path` atomically; returns the byte count."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
    return len(data)


def write_text(path: PathLike, text: str, encoding: str = "utf-8") -> int:
    """Write `text` to `path` atomically."""
    return write_bytes(path, text.encode(encoding))


def write_json(path: PathLike, obj: Any, indent: int | None = 2, **dumps_kwargs: Any) -> int:
    """Write `obj` as JSON (a trailing newline) to `path` atomically."""
    import json

    return write_text(path, json.dumps(obj, indent=indent, **dumps_kwargs) + "\n")


def umask() -> int:
    """The process umask, read without changing it (Linux: /proc/self/status) where possible."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not atomic across threads)
    os.umask(mask)
    return mask


def _stats(folder: Path) -> dict[str, tuple[int, int, int]]:
    """(inode, mtime_ns, size) of every entry under `folder` (relative paths; links not followed)."""
    out: dict[str, tuple[int, int, int]] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            full = os.path.join(root, name)
            with contextlib.suppress(OSError):
                st = os.lstat(full)
                out[os.path.relpath(full, folder)] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return out


def normal_modes(path: PathLike, only: Iterable[str] | None = None) -> None:
    """Give `path` (a file, or a folder and everything under it; `only`: just these paths relative
    to the folder) the modes the umask allows: 0666 less the umask for files, 0777 less it for
    folders. Symbolic links are left alone."""
    mask = umask()
    path = Path(path)

    def fix(p: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            if os.path.islink(p):
                return
            os.chmod(p, (0o777 if os.path.isdir(p) else 0o666) & ~mask)

    if only is not None:
        for rel in only:
            fix(os.path.join(path, rel))
        return
    fix(str(path))
    if path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                fix(os.path.join(root, name))


def save_pretrained(folder: PathLike, *objects: Any) -> Path:
    """`obj.save_pretrained(folder)` for each of `objects` (a model, a tokenizer, a PEFT adapter,
    a config), then the files and folders they created or rewrote get the umask's modes
    (`normal_modes`; safetensors writes weights mode 0600). Files that were there and were not
    rewritten keep theirs. The one place scalemath calls `save_pretrained`."""
    folder = Path(folder)
    refuse_symlink(folder)
    existed = folder.is_dir()
    before = _stats(folder) if existed else {}
    for obj in objects:
        obj.save_pretrained(folder)
    after = _stats(folder)
    changed = [rel for rel, st in after.items() if before.get(rel) != st]
    normal_modes(folder, changed if existed else None)
    return folder


def open_lock(path: PathLike, what: str = "lock file") -> IO[bytes]:
    """Open (create) a lock file for reading and writing without following a symbolic link
    (OutputError when `path` is one)."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as e:
        if e.errno == errno.ELOOP or os.path.islink(path):
            raise OutputError(f"{what} {path} is a symbolic link; refusing to follow it (remove the link)") from None
        raise
    return os.fdopen(fd, "r+b")
