"""The last, slow stage: symbolic equivalence with Math-Verify (SymPy) in a worker process.

Only answers our own parser cannot read reach this stage. `symbolic_equal` never blocks longer
than its timeout: the check runs in a `timeout.WorkerPool` subprocess that is killed when late.
"""

from __future__ import annotations

import os

from .timeout import WorkerError, WorkerPool, WorkerPoolConfig

_POOL: WorkerPool | None = None


def pool() -> WorkerPool:
    """The process-wide pool of symbolic workers (SCALEMATH_SYMBOLIC_WORKERS, default 1)."""
    global _POOL
    if _POOL is None:
        n = int(os.environ.get("SCALEMATH_SYMBOLIC_WORKERS", "1"))
        _POOL = WorkerPool(WorkerPoolConfig(module="scalemath.answers._symworker", max_workers=max(1, n)))
    return _POOL


def symbolic_equal(pred: str, ref: str, timeout_s: float) -> bool | None:
    """True/False from Math-Verify on two answer strings, or None when past `timeout_s`."""
    try:
        reply = pool().call({"pred": pred, "ref": ref, "timeout": timeout_s}, timeout_s)
    except WorkerError:
        return False
    if reply is None or reply.get("timeout"):
        return None
    return bool(reply.get("equal", False))


def check_in_process(pred: str, ref: str) -> bool:
    """Math-Verify's verdict, computed in this process (only call it inside the worker)."""
    from math_verify import parse, verify
    from math_verify.parser import ExprExtractionConfig, LatexExtractionConfig

    config = (LatexExtractionConfig(), ExprExtractionConfig())
    gold = parse(f"$\\boxed{{{ref}}}$", extraction_config=config, parsing_timeout=None)
    target = parse(f"$\\boxed{{{pred}}}$", extraction_config=config, parsing_timeout=None)
    if not gold or not target:
        return False
    return verify(gold, target, timeout_seconds=None)
