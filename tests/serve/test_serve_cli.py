"""`scalemath serve` as a real process on loopback, driven by the real OpenAIEngine."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("aiohttp")

from scalemath.sampling.engine import SamplingParams
from scalemath.sampling.openai_engine import OpenAIEngine
from scalemath.testing.fake_engine import FakeEngine

SRC = str(Path(__file__).resolve().parents[2] / "src")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_command_answers_and_stops_on_sigterm():
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from scalemath.cli import main; main()",
            "serve",
            "--model",
            "fake",
            "--port",
            str(port),
            "--fail-every",
            "2",
        ],
        env={**os.environ, "PYTHONPATH": SRC},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
                break
            except OSError:
                assert proc.poll() is None and time.time() < deadline, proc.stdout.read()
                time.sleep(0.1)
        params = SamplingParams(max_tokens=12, seed=4)
        with OpenAIEngine(f"http://127.0.0.1:{port}/v1", "fake", seed_mode="engine", backoff_base=0.001) as eng:
            outs = list(eng.generate(["Q: 1?", "Q: 2?"], params, n=3))
        assert eng.usage.retries >= 1 and eng.usage.failed == 0
        local = list(FakeEngine().generate(["Q: 1?", "Q: 2?"], params, n=3))
        assert [[c.text for c in cs] for cs in outs] == [[c.text for c in cs] for cs in local]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_serve_command_requires_the_key_from_its_env_var():
    import json
    import urllib.error

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from scalemath.cli import main; main()",
            "serve",
            "--model",
            "fake",
            "--port",
            str(port),
            "--max-prompts",
            "4",
        ],
        env={**os.environ, "PYTHONPATH": SRC, "SCALEMATH_API_KEY": "k-123"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    def post(body, key=None):
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()  # open
                break
            except OSError:
                assert proc.poll() is None and time.time() < deadline, proc.stdout.read()
                time.sleep(0.1)
        status, body = post({"prompt": "x", "max_tokens": 2})
        assert status == 401 and body["error"]["code"] == "invalid_api_key"
        assert post({"prompt": "x", "max_tokens": 2}, key="k-12")[0] == 401
        assert post({"prompt": "x", "max_tokens": 2}, key="k-123")[0] == 200
        status, body = post({"prompt": ["x"] * 5, "max_tokens": 2}, key="k-123")
        assert status == 400 and "at most 4" in body["error"]["message"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
