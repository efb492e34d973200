"""Reliability matrix of `scalemath serve` and the teacher client (issue 13 items 2-3, issue 10 item 3).

    PYTHONPATH=src python benchmarks/bench_reliability_server.py [--model PATH] [--json OUT]

Server: `scalemath serve` runs as its own process on 127.0.0.1 (a free port) over the transformers
engine (a tiny random-weight Llama with a character tokenizer and 2048 positions, or --model PATH,
e.g. the demo's SFT model, runs/demo/cells/sft/tiny/f1/s0/model), once open and once with
--api-key. Each hostile request is sent once; the row gives the HTTP status, the latency, and the server's peak resident memory during the
request minus its idle size (the kernel's peak-RSS counter is reset before each request through
/proc/PID/clear_refs, so the figure is the peak of that request alone). A normal request is the
baseline row. Targets: the 5 MB prompt and max_tokens=1e9 answer 400 within a second and the
server stays within 100 MB of its idle size; without the key, 401.

Teacher: the real OpenAIEngine against a loopback stub that answers 200 with bodies of the wrong
shape (and a few error statuses and a timeout); each kind must come back as exactly one recorded
error for its request, the run must finish, and the run's breakdown by kind is printed.

`rows()` returns both tables as dicts (for the lead's combined bench_reliability.py); `main()`
prints them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
KEY = "bench-key-8f3a"


# ------------------------------------------------------------------------------ the server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


class ServeProcess:
    """`scalemath serve` in a subprocess, on a free loopback port."""

    def __init__(self, model: str, api_key: str | None = None, extra: tuple[str, ...] = (), nofile: int = 0):
        self.port = _free_port()
        args = [
            sys.executable,
            "-c",
            "from scalemath.cli import main; main()",
            "serve",
            "--model",
            model,
            "--engine",
            "hf",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--port",
            str(self.port),
            "--served-model-name",
            "m",
            *extra,
        ]
        env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
        env.pop("SCALEMATH_API_KEY", None)
        if api_key:
            env["SCALEMATH_API_KEY"] = api_key  # the option's environment variable

        def limits() -> None:  # a lower file limit, to probe the server at it
            if nofile:
                import resource

                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=limits)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 180
        while True:
            try:
                urllib.request.urlopen(self.url + "/health", timeout=2).read()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("server did not start:\n" + self.proc.stdout.read().decode()) from None
                time.sleep(0.2)

    def rss_mb(self) -> float:
        return _status_kb(self.proc.pid, "VmRSS") / 1024

    def post(self, path: str, raw: bytes, headers: dict | None = None) -> dict:
        """One request: status, seconds, peak RSS over idle (MB), the reply's message."""
        idle = self.rss_mb()
        exact = _reset_peak(self.proc.pid)
        req = urllib.request.Request(
            self.url + path, data=raw, headers={"Content-Type": "application/json", **(headers or {})}
        )
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        except OSError as e:
            status, body = None, str(e).encode()
        secs = time.perf_counter() - t0
        peak = _status_kb(self.proc.pid, "VmHWM") / 1024
        try:
            d = json.loads(body)
            msg = (
                d["error"]["message"]
                if isinstance(d, dict) and "error" in d
                else (f"{len(d.get('choices', []))} choices" if isinstance(d, dict) else "")
            )
        except (ValueError, KeyError, TypeError):
            text = body.decode("utf-8", "replace")
            msg = f"{text.count('data: ') - 1} SSE chunks + [DONE]" if text.startswith("data: ") else text[:80]
        return {
            "status": status,
            "seconds": secs,
            "rss_delta_mb": max(0.0, peak - idle) if exact else None,
            "idle_mb": idle,
            "message": msg,
        }

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _j(d) -> bytes:
    return json.dumps(d).encode()


def hostile_requests() -> list[tuple[str, str, bytes, int]]:
    """(name, path, body, expected status) of each request sent to the open server."""
    five_mb = "x" * (5 << 20)
    c, ch = "/v1/completions", "/v1/chat/completions"
    return [
        ("baseline: normal request", c, _j({"prompt": "Q: 1+1?\nA:", "max_tokens": 16, "seed": 1}), 200),
        ("prompt of 5 MB", c, _j({"prompt": five_mb, "max_tokens": 16}), 400),
        ("chat message of 5 MB", ch, _j({"messages": [{"role": "user", "content": five_mb}]}), 400),
        ("max_tokens=1e9", c, b'{"prompt": "Q: 1+1?", "max_tokens": 1e9}', 400),
        ("prompt of 2048 tokens (= context)", c, _j({"prompt": "y" * 2048, "max_tokens": 1}), 400),
        ("prompt + max_tokens = context + 1", c, _j({"prompt": "y" * 1000, "max_tokens": 1049}), 400),
        ("prompt + max_tokens = context", c, _j({"prompt": "y" * 1000, "max_tokens": 1048, "stop": ["y"]}), 200),
        ("max_tokens=0", c, _j({"prompt": "Q", "max_tokens": 0}), 400),
        ("600 prompts in one request", c, _j({"prompt": ["Q"] * 600, "max_tokens": 4}), 400),
        ("n x prompts = 8 x 128", c, _j({"prompt": ["Q"] * 128, "n": 8, "max_tokens": 4}), 400),
        ("n=100000", c, _j({"prompt": "Q", "n": 100000}), 400),
        ("temperature=3", c, _j({"prompt": "Q", "temperature": 3}), 400),
        ("stop=['']", c, _j({"prompt": "Q", "stop": [""]}), 400),
        ("20 stop strings", c, _j({"prompt": "Q", "stop": [str(i) for i in range(20)]}), 400),
        (
            "chat image part",
            ch,
            _j({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}]}),
            400,
        ),
        ("body of 9 MB", c, _j({"prompt": "x" * (9 << 20)}), 413),
        ("malformed JSON", c, b'{"prompt": "Q", ', 400),
        ("body nested 100,000 deep", c, b'{"prompt": "Q", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400),
        ("temperature of 401 digits", c, b'{"prompt": "Q", "temperature": 1' + b"0" * 400 + b"}", 400),
        ("temperature=1e401", c, b'{"prompt": "Q", "temperature": 1e401}', 400),
        ("temperature=NaN", c, b'{"prompt": "Q", "temperature": NaN}', 400),
        ("seed of 5,000 digits", c, b'{"prompt": "Q", "seed": ' + b"7" * 5000 + b"}", 400),
        ("JSON list body", c, b"[1, 2]", 400),
        (
            "n=4 at temperature 0 (repeated greedy)",
            c,
            _j({"prompt": "Q: 2+2?\nA:", "n": 4, "temperature": 0, "max_tokens": 16}),
            200,
        ),
        (
            "stream=true",
            c,
            _j(
                {
                    "prompt": "Q: 2+2?\nA:",
                    "n": 2,
                    "max_tokens": 16,
                    "stream": True,
                    "stream_options": {"include_usage": True},
                }
            ),
            200,
        ),
        (
            "chat text parts + max_completion_tokens",
            ch,
            _j(
                {
                    "messages": [{"role": "user", "content": [{"type": "text", "text": "Q: 2+2?"}]}],
                    "max_completion_tokens": 8,
                }
            ),
            200,
        ),
    ]


def server_rows(model: str | None = None) -> list[dict]:
    """One row per hostile request (open server) and per key case (server with --api-key)."""
    tmp = None
    if model is None:
        from scalemath.testing.tiny_random import save_tiny_llama

        tmp = tempfile.TemporaryDirectory()
        model = str(save_tiny_llama(Path(tmp.name) / "tiny"))
    rows = []
    srv = ServeProcess(model)
    try:
        srv.post("/v1/completions", _j({"prompt": "warm up", "max_tokens": 8}))  # first-call costs
        for name, path, raw, expected in hostile_requests():
            r = srv.post(path, raw)
            rows.append({"server": "open", "request": name, "expected": expected, **r})
    finally:
        srv.close()
    srv = ServeProcess(model, api_key=KEY)
    try:
        body = _j({"prompt": "Q: 1+1?\nA:", "max_tokens": 8})
        for name, headers, expected in [
            ("no Authorization header", {}, 401),
            ("wrong key", {"Authorization": "Bearer wrong"}, 401),
            ("key one character short", {"Authorization": f"Bearer {KEY[:-1]}"}, 401),
            ("right key", {"Authorization": f"Bearer {KEY}"}, 200),
        ]:
            r = srv.post("/v1/completions", body, headers)
            rows.append({"server": "--api-key", "request": name, "expected": expected, **r})
        r = srv.post("/v1/models", b"", {})
        # /v1/models is a GET; a POST without a key is still refused before routing
        rows.append({"server": "--api-key", "request": "POST /v1/models without key", "expected": 401, **r})
        h = urllib.request.urlopen(srv.url + "/health", timeout=10).status
        rows.append(
            {
                "server": "--api-key",
                "request": "GET /health without key",
                "expected": 200,
                "status": h,
                "seconds": 0.0,
                "rss_delta_mb": 0.0,
                "idle_mb": srv.rss_mb(),
                "message": "open",
            }
        )
    finally:
        srv.close()
        if tmp is not None:
            tmp.cleanup()
    for r in rows:
        r["ok"] = r["status"] == r["expected"]
    return rows


# ------------------------------------------------------------------ a server that lets go

READ_TIMEOUT = 2.0  # --read-timeout of the let-go probes' server


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _raw_post(port: int, path: str, body: bytes) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return s


def _health_ms(url: str) -> float | None:
    t = time.perf_counter()
    try:
        urllib.request.urlopen(url + "/health", timeout=5).read()
    except OSError:
        return None
    return 1000 * (time.perf_counter() - t)


def _still_open(socks: list[socket.socket]) -> list[socket.socket]:
    """The sockets the server has not closed (nor answered with a 408) yet."""
    import select

    gone = set()
    for i in range(0, len(socks), 256):  # select() takes at most FD_SETSIZE descriptors
        readable, _, _ = select.select(socks[i : i + 256], [], [], 0)
        for s in readable:
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if data == b"" or data.startswith(b"HTTP/1.1 408"):
                gone.add(s)
    return [s for s in socks if s not in gone]


def _abandon(srv: ServeProcess, stream: bool) -> dict:
    """10 long requests, abandoned 0.5 s in: the server's CPU in the second after it could notice."""
    body = _j({"prompt": "Q: 1+1?\nA:", "max_tokens": 1500, "n": 4, "temperature": 1.0, "stream": stream})
    socks = [_raw_post(srv.port, "/v1/completions", body) for _ in range(10)]
    c0 = _cpu_s(srv.proc.pid)
    time.sleep(0.5)
    busy = _cpu_s(srv.proc.pid) - c0  # CPU while the clients waited (generation is running)
    for s in socks:
        s.close()
    time.sleep(1.0)  # the target: stopped within a second
    c1 = _cpu_s(srv.proc.pid)
    time.sleep(1.0)
    after = _cpu_s(srv.proc.pid) - c1  # CPU in the following second
    t = time.perf_counter()
    r = srv.post("/v1/completions", _j({"prompt": "Q: 1+1?\nA:", "max_tokens": 16, "seed": 1}))
    nxt = time.perf_counter() - t
    return {
        "probe": f"10 abandoned requests ({'stream' if stream else 'JSON'}): server CPU 1-2 s after",
        "measured": f"{after:.2f} CPU-s (was {busy / 0.5:.2f}/s while running); next request {1000 * nxt:.0f} ms",
        "target": "< 0.1 CPU-s; next request < 1 s",
        # busy > 0: generation was running (on a shared machine the server may get a small share)
        "ok": busy > 0.0 and after < 0.1 and nxt < 1.0 and r["status"] == 200,
    }


def _stalled(srv: ServeProcess, n: int, label: str) -> dict:
    """n connections that never finish their request (half stop inside the headers, half inside the
    body): /health latency while they are open, and when the last one is closed."""
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        if i % 2:
            s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        else:
            s.sendall(b"GET /health HTTP/1.1\r\nHo")
        socks.append(s)
    t0 = time.perf_counter()
    health: list[float | None] = []
    open_ = list(socks)
    while open_ and time.perf_counter() - t0 < 30:  # bounded
        health.append(_health_ms(srv.url))
        open_ = _still_open(open_)
        time.sleep(0.1)
    took = time.perf_counter() - t0
    for s in socks:
        s.close()
    answered = [h for h in health if h is not None]
    return {
        "probe": f"{n} stalled connections{label}",
        "measured": f"all closed after {took:.1f} s; /health {len(answered)}/{len(health)} answered, "
        f"worst {max(answered, default=0):.0f} ms",
        "target": f"closed by {READ_TIMEOUT + 1.5:g} s; /health always, < 1000 ms",
        "ok": not open_ and took <= READ_TIMEOUT + 1.5 and len(answered) == len(health) and max(answered) < 1000,
    }


def _big_chat(srv: ServeProcess) -> dict:
    """Chat requests of 230,000 empty messages (8 MB bodies): /health latency while they are handled."""
    body = _j({"model": "m", "messages": [{"role": "user", "content": ""}] * 230_000, "max_tokens": 4})
    results: list[dict] = []

    def send() -> None:
        results.append(srv.post("/v1/chat/completions", body))

    threads = [threading.Thread(target=send) for _ in range(3)]
    for th in threads:
        th.start()
    health = []
    while any(th.is_alive() for th in threads):
        health.append(_health_ms(srv.url))
        time.sleep(0.02)
    for th in threads:
        th.join()
    answered = [h for h in health if h is not None]
    return {
        "probe": "3 chat requests of 230,000 messages (8 MB)",
        "measured": f"status {sorted({r['status'] for r in results})}, {max(r['seconds'] for r in results):.1f} s; "
        f"/health during: {len(answered)}/{len(health)} answered, worst {max(answered, default=0):.0f} ms",
        "target": "4xx, no 500; /health < 1000 ms",
        "ok": all(r["status"] in (400, 413) for r in results)
        and len(answered) == len(health)
        and max(answered, default=0) < 1000,
    }


def _empty_key() -> dict:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run(
        [sys.executable, "-c", "from scalemath.cli import main; main()", "serve", "--model", "fake", "--api-key", ""],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return {
        "probe": "serve --api-key ''",
        "measured": f"exit {r.returncode}: {(r.stderr.strip().splitlines() or [''])[-1][:90]}",
        "target": "exit 2, refused",
        "ok": r.returncode == 2 and "api-key" in r.stderr,
    }


def letgo_rows(model: str | None = None) -> list[dict]:
    """Issue 25 class 5, one row per probe: abandoned requests (JSON and streaming), stalled
    connections (at the default cap, and at a 256-descriptor file limit), a huge chat body, an
    empty API key. `scalemath serve` over the hf engine (tiny random Llama), --read-timeout 2."""
    tmp = None
    if model is None:
        from scalemath.testing.tiny_random import save_tiny_llama

        tmp = tempfile.TemporaryDirectory()
        model = str(save_tiny_llama(Path(tmp.name) / "tiny"))
    rows = []
    try:
        srv = ServeProcess(model, extra=("--read-timeout", str(READ_TIMEOUT)))
        try:
            srv.post("/v1/completions", _j({"prompt": "warm up", "max_tokens": 8}))
            rows.append(_abandon(srv, stream=False))
            rows.append(_abandon(srv, stream=True))
            rows.append(_stalled(srv, 200, ""))
            rows.append(_big_chat(srv))
        finally:
            srv.close()
        srv = ServeProcess(model, extra=("--read-timeout", str(READ_TIMEOUT)), nofile=256)
        try:
            rows.append(_stalled(srv, 400, " at a 256-descriptor file limit"))
        finally:
            srv.close()
        rows.append(_empty_key())
    finally:
        if tmp is not None:
            tmp.cleanup()
    return rows


def print_letgo(rows_: list[dict]) -> None:
    print(f"server lets go (scalemath serve, hf engine, --read-timeout {READ_TIMEOUT:g})")
    print(f"  {'probe':58} {'result':6}  measured (target)")
    for r in rows_:
        print(f"  {r['probe'][:58]:58} {'PASS' if r['ok'] else 'FAIL':6}  {r['measured']} ({r['target']})")


# ------------------------------------------------------------------------------ the teacher


def _malformed_kinds() -> dict[str, bytes]:
    ok = {"index": 0, "finish_reason": "stop", "text": "fine"}
    return {
        "choices not a list": _j({"choices": {"0": ok}}),
        "text a number": _j({"choices": [{"index": 0, "text": 5}]}),
        "usage.prompt_tokens not an int": _j({"choices": [ok], "usage": {"prompt_tokens": "ten"}}),
        "JSON list body": _j([ok]),
        "missing choices": _j({"id": "cmpl-1"}),
        "null body": b"null",
        "choice not an object": _j({"choices": ["fine"]}),
        "usage a list": _j({"choices": [ok], "usage": [1, 2]}),
        "finish_reason a number": _j({"choices": [{"index": 0, "text": "x", "finish_reason": 1}]}),
        "error object in a 200": _j({"error": {"message": "quota exceeded"}}),
        "non-JSON body": b"<html>bad gateway</html>",
        "truncated JSON": b'{"choices": [{"index": 0, "te',
        "HTTP 400": b"status:400",
        "HTTP 422": b"status:422",
        "timeout (every attempt)": b"sleep",
    }


class _Stub:
    """A loopback server answering prompt P with the reply of kind P (see _malformed_kinds)."""

    def __init__(self):
        self.kinds = _malformed_kinds()
        self.attempts: dict[str, int] = {}

    async def handle(self, request):
        from aiohttp import web

        body = await request.json()
        kind = body.get("prompt", "")
        self.attempts[kind] = self.attempts.get(kind, 0) + 1
        raw = self.kinds.get(kind)
        if raw is None:
            return web.json_response(
                {
                    "choices": [{"index": 0, "text": "good", "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 2, "completion_tokens": 1},
                }
            )
        if raw.startswith(b"status:"):
            status = int(raw[7:])
            return web.json_response({"error": {"message": f"rejected with {status}"}}, status=status)
        if raw == b"sleep":
            await asyncio.sleep(1.0)
        return web.Response(body=raw, status=200, content_type="application/json")

    def __enter__(self):
        from aiohttp import web

        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def boot():
            app = web.Application()
            app.router.add_post("/v1/completions", self.handle)
            self.runner = web.AppRunner(app)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", 0).start()
            self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/v1"

        def run():
            self.loop.run_until_complete(boot())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait()
        return self

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()


def teacher_rows() -> tuple[list[dict], str]:
    """One row per malformed-reply kind (recorded as one error or not), and the run's breakdown."""
    from scalemath.sampling.engine import SamplingParams
    from scalemath.sampling.openai_engine import OpenAIEngine, OpenAIEngineConfig

    kinds = list(_malformed_kinds())
    prompts = ["good 1", *kinds, "good 2"]
    cfg = OpenAIEngineConfig(timeout=0.25, max_retries=2, backoff_base=0.01, concurrency=4)
    crashed = None
    with _Stub() as stub, OpenAIEngine(stub.url, "m", cfg) as eng:
        try:
            outs = list(eng.generate(prompts, SamplingParams(max_tokens=4, seed=1)))
        except Exception as e:
            crashed, outs = f"{type(e).__name__}: {e}", []
        attempts = dict(stub.attempts)
    rows = []
    for kind, cs in zip(kinds, outs[1:-1]):
        c = cs[0]
        rows.append(
            {
                "kind": kind,
                "recorded_error": c.finish_reason == "error",
                "status": c.meta.get("status"),
                "attempts": attempts.get(kind, 0),
                "label": c.meta.get("kind", ""),
            }
        )
    good = [cs[0].finish_reason != "error" for cs in (outs[0], outs[-1])] if outs else [False]
    rows.append(
        {
            "kind": "(good replies around them)",
            "recorded_error": not all(good),
            "status": 200,
            "attempts": 1,
            "label": "answered" if all(good) else "LOST",
        }
    )
    summary = crashed or eng.usage.errors.summary(limit=len(kinds))
    return rows, summary


def rows(model: str | None = None) -> dict:
    """Both tables: {"server": [...], "teacher": [...], "teacher_breakdown": str}."""
    t_rows, breakdown = teacher_rows()
    return {"server": server_rows(model), "teacher": t_rows, "teacher_breakdown": breakdown}


def print_server(srv: list[dict]) -> None:
    print(f"server (scalemath serve, hf engine, idle RSS {srv[0]['idle_mb']:.0f} MB)")
    print(f"  {'server':9} {'request':42} {'want':>4} {'got':>4} {'ms':>8} {'ΔRSS MB':>8}  reply")
    for r in srv:
        d = "n/a" if r["rss_delta_mb"] is None else f"{r['rss_delta_mb']:.1f}"
        flag = "" if r["ok"] else "  <-- UNEXPECTED"
        print(
            f"  {r['server']:9} {r['request'][:42]:42} {r['expected']:>4} {r['status']!s:>4} "
            f"{1000 * r['seconds']:8.1f} {d:>8}  {r['message'][:70]}{flag}"
        )
    base = next(r for r in srv if r["request"].startswith("baseline"))
    hostile = [r for r in srv if r["server"] == "open" and r["expected"] >= 400]
    worst_t = max(hostile, key=lambda r: r["seconds"])
    worst_m = max(hostile, key=lambda r: r["rss_delta_mb"] or 0)
    print(
        f"  hostile requests answered as expected: {sum(r['ok'] for r in srv)}/{len(srv)} rows; slowest "
        f"refusal {1000 * worst_t['seconds']:.0f} ms ({worst_t['request']}; "
        f"{worst_t['seconds'] / max(base['seconds'], 1e-9):.1f}x the baseline request), largest ΔRSS "
        f"{worst_m['rss_delta_mb'] or 0:.1f} MB ({worst_m['request']})"
    )


def print_teacher(rows_: list[dict], breakdown: str) -> None:
    print("teacher (OpenAIEngine vs a stub answering each kind; timeout 0.25 s, max_retries 2)")
    print(f"  {'reply kind':32} {'one recorded error':>18} {'status':>6} {'attempts':>8}  label")
    for r in rows_:
        print(f"  {r['kind']:32} {r['recorded_error']!s:>18} {r['status']!s:>6} {r['attempts']:>8}  {r['label'][:90]}")
    print(f"  run breakdown: {breakdown}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="Checkpoint to serve (default: a tiny random Llama).")
    ap.add_argument("--json", default=None, help="Also write the rows as JSON here.")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    res = rows(args.model)
    res["letgo"] = letgo_rows(args.model)
    print_server(res["server"])
    print_teacher(res["teacher"], res["teacher_breakdown"])
    print_letgo(res["letgo"])
    print(f"({time.perf_counter() - t0:.1f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
