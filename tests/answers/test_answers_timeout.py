"""Timeouts that work anywhere: a hung check never hangs the caller (threads, worker processes)."""

import multiprocessing as mp
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from scalemath.answers import grade
from scalemath.answers.timeout import WorkerPool, WorkerPoolConfig

# A stand-in worker: answers {"echo": x} at once, or never answers for {"hang": true}.
WORKER = """
import json, sys, time
sys.stdout.write("READY\\n"); sys.stdout.flush()
for line in sys.stdin:
    req = json.loads(line)
    if req.get("hang"):
        while True:
            time.sleep(1)
    sys.stdout.write(json.dumps({"echo": req["x"]}) + "\\n"); sys.stdout.flush()
"""


@pytest.fixture()
def fake_pool(tmp_path):
    (tmp_path / "fake_worker.py").write_text(WORKER)
    pool = WorkerPool(
        WorkerPoolConfig(module="fake_worker", max_workers=2, env={"PYTHONPATH": str(tmp_path)}, startup_timeout_s=30)
    )
    pool.warm(1)
    yield pool
    pool.close()


def _call_in_fresh_pool(tmp: str, hang: bool) -> tuple:
    pool = WorkerPool(WorkerPoolConfig(module="fake_worker", env={"PYTHONPATH": tmp}))
    pool.warm(1)
    t = time.perf_counter()
    reply = pool.call({"x": 1, "hang": hang}, timeout=0.5)
    return reply, time.perf_counter() - t


def test_reply_and_timeout(fake_pool):
    assert fake_pool.call({"x": 3}, timeout=5) == {"echo": 3}
    t = time.perf_counter()
    assert fake_pool.call({"x": 1, "hang": True}, timeout=0.5) is None
    assert time.perf_counter() - t < 2.0
    assert fake_pool.call({"x": 4}, timeout=30) == {"echo": 4}  # a fresh worker replaced the killed one


def test_timeout_off_the_main_thread(fake_pool):
    with ThreadPoolExecutor(4) as ex:
        # the hanging calls get 0.5 s; the others may first wait for a free worker, so allow more
        futures = [ex.submit(fake_pool.call, {"x": i, "hang": i % 2 == 0}, 0.5 if i % 2 == 0 else 30) for i in range(4)]
        results = [f.result(timeout=60) for f in futures]
    assert results[1] == {"echo": 1} and results[3] == {"echo": 3}
    assert results[0] is None and results[2] is None


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
@pytest.mark.parametrize("kind", ["executor", "daemonic"])
def test_timeout_inside_worker_processes(tmp_path, kind):
    (tmp_path / "fake_worker.py").write_text(WORKER)
    args = [(str(tmp_path), True), (str(tmp_path), False)]
    if kind == "executor":
        with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as ex:
            out = list(ex.map(_call_in_fresh_pool, *zip(*args)))
    else:  # multiprocessing.Pool workers are daemonic: they may not start multiprocessing children
        with mp.get_context("fork").Pool(2) as p:
            out = p.starmap(_call_in_fresh_pool, args)
    (hung, t_hung), (ok, _) = out
    assert hung is None and t_hung < 2.0
    assert ok == {"echo": 1}


def test_symbolic_timeout_end_to_end():
    # our parser does not read \prod, so this reaches Math-Verify, which needs ~40 s for it
    ref = "\\prod_{k=1}^{2000000} k"
    grade("\\boxed{\\sqrt{\\operatorname{foo}}}", "2", "math", timeout_s=30)  # start the worker first
    t = time.perf_counter()
    v = grade("\\boxed{5}", ref, "math", timeout_s=1.0)
    elapsed = time.perf_counter() - t
    assert v.reason == "timeout" and not v.correct
    assert elapsed < 3.0
    done = []
    th = threading.Thread(target=lambda: done.append(grade("\\boxed{6}", ref, "math", timeout_s=1.0)))
    th.start()
    th.join(30)
    assert done and done[0].reason == "timeout"
