"""CPU threads: the one default for torch's intra-op threads, whichever command runs torch.

`sample`, `eval`, `serve`, `train`, `tiny`, studies and the library's engines and trainers all
resolve "not given" (`--threads 0`, `threads=None`) here, so every command computes on the same
number of threads unless told otherwise:

- `SCALEMATH_THREADS` when set (a positive integer), else
- `OMP_NUM_THREADS` when set (what torch itself would take; `teacher demo` starts its server so),
- else the CPUs this process may run on (its affinity mask: a container's or `taskset`'s limit,
  not the machine's count).

Why all of them, and when to give `--threads 1`: docs/scale.md ("Threads"). Two commands run
several torch processes at once and give each 1 thread instead: `demo` (parallel jobs; part of
its recorded recipe) and `teacher demo` (a server beside its own client commands). OpenMP's busy-waiting between parallel
regions (what made extra threads collapse on a shared CPU) is off: the package root sets
OMP_WAIT_POLICY=PASSIVE before torch loads.
"""

from __future__ import annotations

import os

from scalemath.errors import InputError

ENV = "SCALEMATH_THREADS"


def available_cpus() -> int:
    """CPUs this process may run on (affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """The thread count every command uses when none is given (see the module docstring)."""
    env = os.environ.get(ENV, "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n < 1:
            raise InputError(f"{ENV}={env!r}: expected a positive number of threads")
        return n
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) > 0:  # torch's own reading (a list such as "4,2" is left to it)
        return int(omp)
    return available_cpus()


HELP = (
    "torch CPU threads (0 or unset: the one default of every command, scalemath.threads: "
    "$SCALEMATH_THREADS, else $OMP_NUM_THREADS, else every CPU this process may use; "
    "1 on a CPU shared with other heavy work: docs/scale.md)."
)
"""What a `threads` setting means: the help of every config field and option that sets one."""


def resolve_threads(threads: int | None) -> int:
    """`threads` when it is a positive number, else `default_threads()` (None and 0 mean "the
    default", as `--threads 0` does)."""
    return threads if threads is not None and threads > 0 else default_threads()


__all__ = ["ENV", "HELP", "available_cpus", "default_threads", "resolve_threads"]
