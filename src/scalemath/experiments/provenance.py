"""Which code made a result: the scalemath source checkout's git sha and dirty flag."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

__all__ = ["git_info"]


def git_info() -> dict[str, Any] | None:
    """sha and dirty flag of the scalemath source checkout (None outside a git checkout)."""
    import scalemath

    src = Path(scalemath.__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return {"sha": sha.stdout.strip(), "dirty": bool(dirty.stdout.strip()), "source": str(src)}
    except (OSError, subprocess.SubprocessError):
        return None
