"""Worker process for the symbolic stage (run as `python -m scalemath.answers._symworker`).

Reads one JSON request per line from stdin: {"pred": str, "ref": str, "timeout": float} and writes
one reply per line: {"equal": bool} or {"timeout": true} or {"error": str}. The parent enforces the
hard limit by killing this process; the soft SIGALRM limit here (main thread of our own process)
only lets most slow checks end without a restart.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time


class _SoftTimeout(Exception):
    pass


def _watch_parent(ppid: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != ppid:
            os._exit(0)


def _on_alarm(signum, frame):
    raise _SoftTimeout()


def main() -> None:
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    logging.disable(logging.CRITICAL)
    from scalemath.answers.symbolic import check_in_process

    check_in_process("1", "1")  # import and warm SymPy/Math-Verify before saying READY
    signal.signal(signal.SIGALRM, _on_alarm)
    out = sys.stdout.buffer
    out.write(b"READY\n")
    out.flush()
    for line in sys.stdin.buffer:
        try:
            req = json.loads(line)
            soft = max(0.05, float(req.get("timeout", 5.0)) * 0.9)
            signal.setitimer(signal.ITIMER_REAL, soft)
            try:
                reply: dict[str, bool | str] = {"equal": bool(check_in_process(req["pred"], req["ref"]))}
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _SoftTimeout:
            reply = {"timeout": True}
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        out.write(json.dumps(reply).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
