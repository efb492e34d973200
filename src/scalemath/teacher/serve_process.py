"""`scalemath serve` in a subprocess on a free loopback port: start, wait until it answers, stop.

For demos and tests that want the real HTTP path to a local model (`scalemath teacher demo`).
The child runs this very scalemath (its source folder is put first on PYTHONPATH), writes its
output to a log file, and is stopped with SIGTERM (then SIGKILL) however the caller exits.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import scalemath


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free on `host` a moment ago."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ServeProcess:
    """`scalemath serve --model MODEL` as a child process; use as a context manager.

    Args:
        model: what `--model` gets (a checkpoint folder, or "fake").
        served_name: the model name clients send (`--served-model-name`).
        host: bind address (loopback).
        port: 0 picks a free port.
        log_path: where the server's output goes (default: discarded).
        extra_args: more `scalemath serve` options.
        start_timeout: seconds to wait for /health (loading a model on a busy CPU takes a while).
        threads: torch intra-op threads of the server (OMP_NUM_THREADS; 0 = scalemath.threads). On
            a small CPU shared with other work, 1 is much faster: a small model's many tiny
            matmuls otherwise wait on threads that are not scheduled (docs/teacher.md).
    """

    def __init__(
        self,
        model: str,
        *,
        served_name: str = "teacher",
        host: str = "127.0.0.1",
        port: int = 0,
        log_path: str | os.PathLike | None = None,
        extra_args: Sequence[str] = (),
        start_timeout: float = 600.0,
        threads: int = 0,
    ):
        self.model, self.served_name, self.host = model, served_name, host
        self.port = port or free_port(host)
        self.log_path = Path(log_path) if log_path else None
        self.extra_args = list(extra_args)
        self.start_timeout = start_timeout
        self.threads = threads
        self.proc: subprocess.Popen | None = None
        self.start_seconds = 0.0

    @property
    def url(self) -> str:
        """Base URL of the API, e.g. http://127.0.0.1:PORT/v1."""
        return f"http://{self.host}:{self.port}/v1"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-c",
            "from scalemath.cli import main; main()",
            "serve",
            "--model",
            self.model,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--served-model-name",
            self.served_name,
            *self.extra_args,
        ]

    def start(self) -> ServeProcess:
        src = str(Path(scalemath.__file__).resolve().parents[1])
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([src] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
        }
        if self.threads > 0:
            env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(self.threads)
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        t0 = time.perf_counter()
        try:
            # own session: a Ctrl-C meant for the caller does not kill the server mid-request;
            # stop() ends it.
            self.proc = subprocess.Popen(
                self.command(),
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            if not isinstance(out, int):  # an opened log file, not subprocess.DEVNULL
                out.close()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.perf_counter() - t0
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        health = f"http://{self.host}:{self.port}/health"
        proc = self.proc
        if proc is None:
            raise AttributeError("ServeProcess._wait_ready() called before start() launched the server")
        while True:
            try:
                with urllib.request.urlopen(health, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(
                    f"`scalemath serve --model {self.model}` exited with code "
                    f"{proc.returncode} before answering{self._log_tail()}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"`scalemath serve --model {self.model}` did not answer {health} "
                    f"within {self.start_timeout:.0f} s{self._log_tail()}"
                )
            time.sleep(0.25)

    def _log_tail(self, chars: int = 2000) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace")[-chars:]
        return f"; its log ({self.log_path}) ends with:\n{text}"

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout)

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


__all__ = ["ServeProcess", "free_port"]
