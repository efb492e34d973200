"""The sample store's writer lock: one writing process at a time per store folder, re-entrant
within a process, with the holder named when another one waits."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from scalemath.records import UserError

_HOST = socket.gethostname().replace(".", "_")  # no dots: tmp names split on "."

# ---------------------------------------------------------------------------------------------
# the writer lock


class StoreLockedError(UserError):
    """Another process holds the store's writer lock (and the wait for it timed out)."""


LOCK_FILE = "writer.lock"
_held: dict[str, list[Any]] = {}  # real path of a lock file -> [file object, depth] (this process)
_held_guard = threading.Lock()


def _holder(lock_path: Path) -> str:
    try:
        info = orjson.loads(lock_path.read_bytes() or b"{}")
    except (OSError, orjson.JSONDecodeError):
        return "another process"
    if not isinstance(info, dict) or not info:
        return "another process"
    since = time.strftime("%H:%M:%S", time.localtime(info.get("since", 0)))
    return f"pid {info.get('pid')} on {info.get('host')} since {since} ({info.get('command', '')[:120]})"


@contextlib.contextmanager
def writer_lock(
    root: str | os.PathLike, timeout: float | None = None, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the store's exclusive writer lock (re-entrant within a process).

    Waits for another holder (calling `on_wait(message)` once), up to `timeout` seconds (None:
    no limit; 0: do not wait) and then raises StoreLockedError naming the holder."""
    with file_lock(Path(root) / LOCK_FILE, f"sample store {root}", timeout, on_wait, other="store"):
        yield


@contextlib.contextmanager
def file_lock(
    path: str | os.PathLike,
    what: str,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
    other: str = "output file",
) -> Iterator[None]:
    """Hold an exclusive `flock` on the lock file `path` (the store's writer lock, and `sample
    --out`'s lock beside its output), re-entrant within a process. The lock file is never followed
    through a symbolic link (`outputs.open_lock`); it names its holder while held. `what` names
    the locked thing in messages, `other` what to use instead."""
    import fcntl

    from scalemath.outputs import open_lock

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(path)
    with _held_guard:
        entry = _held.get(key)
        if entry is not None:
            entry[1] += 1
    if entry is None:
        f = open_lock(path)
        try:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                who = _holder(path)
                if timeout is not None and timeout <= 0:
                    raise StoreLockedError(
                        f"{what} is being written by {who}; wait for it to finish, or use another {other}"
                    ) from None
                if on_wait is not None:
                    on_wait(
                        f"{what} is being written by {who}: waiting for it "
                        "(the samples it draws will not be drawn again)"
                    )
                deadline = None if timeout is None else time.monotonic() + timeout
                while True:
                    time.sleep(0.1)
                    try:
                        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if deadline is not None and time.monotonic() > deadline:
                            raise StoreLockedError(
                                f"{what} is still being written by {_holder(path)} after "
                                f"{timeout:g} s; wait for it to finish, or use another {other}"
                            ) from None
            f.seek(0)
            f.truncate()
            f.write(
                orjson.dumps({"pid": os.getpid(), "host": _HOST, "since": time.time(), "command": " ".join(sys.argv)})
            )
            f.flush()
        except BaseException:
            f.close()
            raise
        with _held_guard:
            _held[key] = entry = [f, 1]
    try:
        yield
    finally:
        with _held_guard:
            entry[1] -= 1
            last = entry[1] == 0
            if last:
                del _held[key]
        if last:
            f = entry[0]
            try:
                f.seek(0)
                f.truncate()
            finally:
                f.close()  # releases the flock


def holds_writer_lock(root: str | os.PathLike) -> bool:
    """Does this process hold the store's writer lock?"""
    return os.path.realpath(Path(root) / LOCK_FILE) in _held
