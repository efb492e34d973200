"""Nothing in the grader hangs: every fuzz and adversarial input finishes under its timeout with the
symbolic (Math-Verify) stage switched on, from threads, from pool worker processes and through the
bulk path (`grade_pairs` with a process pool).

The bound of one grade is its `timeout_s` plus start-up slack: a symbolic check that runs past its
timeout has its worker killed, and a replacement starts in the background at once; the next check
may wait for the rest of that start-up (Math-Verify's import), which the timeout does not count.
"""

import multiprocessing as mp
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest
from test_answers_fuzz import ADVERSARIAL, LATEX_PIECES

from scalemath.answers import REASONS, grade
from scalemath.answers.bulk import BulkConfig, grade_pairs
from scalemath.answers.symbolic import pool

TIMEOUT = 1.0
SLACK = 12.0  # a replacement worker's start-up on a loaded 2-core machine
# our parser does not read \prod, so these reach Math-Verify, which needs ~40 s for them
SLOW = [("\\boxed{5}", "\\prod_{k=1}^{2000000} k"), ("\\boxed{\\prod_{k=1}^{3000000} k}", "7")]


def _pairs() -> list[tuple[str, str]]:
    out = []
    for bad in ADVERSARIAL:
        out += [(bad, "1"), ("\\boxed{1}", bad), (f"\\boxed{{{bad}}}", f"\\boxed{{{bad}}}x")]
    rng = random.Random(7)
    soup = lambda: "".join(rng.choice(LATEX_PIECES) for _ in range(rng.randint(1, 30)))
    out += [(soup(), soup()) for _ in range(40)]
    return out + SLOW


def _timed_grades(pairs):
    """(reason, seconds) for each pair, graded with the symbolic stage on (run in any process)."""
    pool().warm()  # this process's first worker start-up is not what is measured
    out = []
    for p, r in pairs:
        t = time.perf_counter()
        v = grade(p, r, "math", timeout_s=TIMEOUT)
        out.append((v.reason, time.perf_counter() - t))
    return out


def _check(results, pairs):
    for (reason, secs), (p, r) in zip(results, pairs):
        assert reason in REASONS
        assert secs < TIMEOUT + SLACK, (p[:40], r[:40], secs)
    for (reason, _), pair in zip(results, pairs):
        if pair in SLOW:
            assert reason == "timeout"


def test_fuzz_and_adversarial_from_threads():
    pairs = _pairs()
    pool().warm()
    t = time.perf_counter()
    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda pr: _timed_grades([pr])[0], pairs))
    _check(results, pairs)
    assert time.perf_counter() - t < 60


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
@pytest.mark.parametrize("kind", ["executor", "daemonic"])
def test_fuzz_and_adversarial_from_pool_workers(kind):
    pairs = _pairs()
    halves = [pairs[0::2], pairs[1::2]]
    if kind == "executor":
        with ProcessPoolExecutor(2, mp_context=mp.get_context("forkserver")) as ex:
            results = list(ex.map(_timed_grades, halves))
    else:  # multiprocessing.Pool workers are daemonic: they may not start multiprocessing children
        with mp.get_context("fork").Pool(2) as p:
            results = p.map(_timed_grades, halves)
    for res, half in zip(results, halves):
        _check(res, half)


def test_bulk_path_finishes_and_times_out_slow_checks():
    pairs = _pairs()
    t = time.perf_counter()
    stats = {}
    verdicts = list(grade_pairs(pairs, BulkConfig(workers=2, chunk_size=16, policy={"timeout_s": TIMEOUT}), stats))
    elapsed = time.perf_counter() - t
    assert len(verdicts) == len(pairs) and all(v.reason in REASONS for v in verdicts)
    assert [v.reason for v, p in zip(verdicts, pairs) if p in SLOW] == ["timeout"] * len(SLOW)
    assert stats["symbolic"] >= len(SLOW)
    # every deferred check is bounded by its timeout (plus a restart after each timeout)
    assert elapsed < 30 + stats["symbolic"] * TIMEOUT + len(SLOW) * SLACK
