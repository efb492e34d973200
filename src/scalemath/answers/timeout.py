"""Timeouts that work anywhere: run slow checks in persistent worker subprocesses, kill on timeout.

`signal.alarm` only works on the main thread of the main interpreter, so it fails in threads,
thread pools, many web servers and Ray actors. Here the slow work runs in a child *subprocess*
(started with `subprocess.Popen`, so it works from threads, from daemonic multiprocessing workers
and under Ray) speaking one JSON object per line over pipes. The caller waits on the pipe with
`select` and a deadline; a worker that misses it is killed (SIGKILL) and replaced on the next call,
so a hung SymPy computation can never hang the caller.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

READY = b"READY\n"


class WorkerError(RuntimeError):
    """The worker process died or answered garbage (not a timeout)."""


@dataclass
class WorkerPoolConfig:
    """Settings of a `WorkerPool`.

    Attributes:
        module: the Python module run as `python -m module` for each worker.
        max_workers: most workers alive at once (concurrent callers beyond it wait, within their
            own deadline).
        startup_timeout_s: how long a new worker may take to import and print READY (not counted
            against a call's own timeout).
        env: extra environment variables for workers.
    """

    module: str
    max_workers: int = 2
    startup_timeout_s: float = 120.0
    env: dict = field(default_factory=dict)


class _Worker:
    def __init__(self, cfg: WorkerPoolConfig):
        env = dict(os.environ)
        env.update(cfg.env)
        # make our own package importable in the child even when it is run from a source tree
        src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", cfg.module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
            start_new_session=True,
        )
        self.buf = b""
        self.ready = False
        self.startup_timeout = cfg.startup_timeout_s

    def _read_line(self, deadline: float) -> bytes | None:
        stdout = self.proc.stdout
        if stdout is None:  # never: Popen(stdout=PIPE)
            raise WorkerError("worker has no stdout pipe")
        fd = stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise WorkerError("worker exited")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def wait_ready(self) -> None:
        if self.ready:
            return
        line = self._read_line(time.monotonic() + self.startup_timeout)
        if line != READY:
            self.kill()
            raise WorkerError(f"worker failed to start: {line!r}")
        self.ready = True

    def call(self, request: dict, timeout: float) -> dict | None:
        self.wait_ready()
        deadline = time.monotonic() + timeout
        stdin = self.proc.stdin
        if stdin is None:  # never: Popen(stdin=PIPE)
            raise WorkerError("worker pipe closed")
        try:
            stdin.write(json.dumps(request).encode() + b"\n")
            stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise WorkerError("worker pipe closed") from exc
        line = self._read_line(deadline)
        if line is None:
            return None
        try:
            return json.loads(line)
        except ValueError as exc:
            raise WorkerError(f"bad worker reply {line[:100]!r}") from exc

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            if f is None:  # never: both are pipes
                continue
            try:
                f.close()
            except OSError:
                pass


class WorkerPool:
    """A few persistent worker subprocesses shared by all threads of this process.

    `call(request, timeout)` returns the worker's reply (a dict), or None when it took longer than
    `timeout` seconds (the worker is then killed). Safe to use from any thread; after `os.fork()`
    the child starts its own workers and leaves the parent's alone.
    """

    def __init__(self, cfg: WorkerPoolConfig):
        self.cfg = cfg
        self._reset()
        atexit.register(self.close)

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._idle: list[_Worker] = []
        self._count = 0
        self._starting = 0  # replacements starting in the background
        self._starting_until = 0.0
        self._closed = False
        self._cond = threading.Condition()

    def _check_fork(self) -> None:
        if self._pid != os.getpid():  # inherited across fork: those workers are the parent's
            self._reset()

    def _acquire(self, deadline: float) -> _Worker | None:
        """An idle worker, a new one (started here: its start-up is not counted against
        `deadline`), or None when every slot stayed busy past `deadline`. A slot whose replacement
        worker is starting counts as one that will be free soon: waiting for it is start-up too."""
        with self._cond:
            while True:
                while self._idle:
                    w = self._idle.pop()
                    if w.alive():
                        return w
                    w.kill()
                    self._count -= 1
                if self._count < self.cfg.max_workers:
                    self._count += 1
                    break
                now = time.monotonic()
                until = max(deadline, self._starting_until) if self._starting else deadline
                if until - now <= 0:
                    return None
                self._cond.wait(until - now)
        try:
            return _Worker(self.cfg)
        except Exception:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _release(self, w: _Worker, keep: bool) -> None:
        with self._cond:
            if keep and w.alive():
                self._idle.append(w)
            else:
                self._count -= 1
            self._cond.notify()
        if not keep:
            w.kill()
            self._replace()

    def _replace(self) -> None:
        """Start a replacement for a killed worker in the background, so that the next call does
        not wait for a whole start-up."""
        with self._cond:
            if self._count >= self.cfg.max_workers or self._closed:
                return
            self._count += 1
            self._starting += 1
            self._starting_until = time.monotonic() + self.cfg.startup_timeout_s

        def start():
            w = None
            try:
                w = _Worker(self.cfg)
                w.wait_ready()
            except Exception:
                if w is not None:
                    w.kill()
                w = None
            with self._cond:
                self._starting -= 1
                if w is not None and not self._closed:
                    self._idle.append(w)
                else:
                    self._count -= 1
                self._cond.notify_all()
            if w is not None and self._closed:
                w.kill()

        threading.Thread(target=start, name="worker-restart", daemon=True).start()

    def ensure_capacity(self, n: int) -> None:
        """Allow at least `n` workers at once (bulk grading runs that many checks in parallel)."""
        with self._cond:
            if n > self.cfg.max_workers:
                self.cfg.max_workers = n
                self._cond.notify_all()

    def warm(self, n: int = 1) -> None:
        """Start up to `n` workers now and wait until they are ready (e.g. before timing)."""
        self._check_fork()
        started = []
        for _ in range(min(n, self.cfg.max_workers)):
            w = self._acquire(time.monotonic() + self.cfg.startup_timeout_s)
            if w is None:
                break
            w.wait_ready()
            started.append(w)
        for w in started:
            self._release(w, True)

    def call(self, request: dict, timeout: float) -> dict | None:
        self._check_fork()
        w = self._acquire(time.monotonic() + timeout)
        if w is None:
            return None
        try:
            reply = w.call(request, timeout)
        except WorkerError:
            self._release(w, False)
            raise
        except BaseException:
            self._release(w, False)
            raise
        self._release(w, reply is not None)
        return reply

    def close(self) -> None:
        """Kill every idle worker of this process."""
        if self._pid != os.getpid():
            return
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for w in idle:
            w.kill()
