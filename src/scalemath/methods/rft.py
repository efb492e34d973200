"""Rejection-sampling fine-tuning (RFT) data collection, as in Yuan et al. 2023: the correct
sampled paths whose calculator annotations hold, one per distinct equation list, after each
question's original. `collect` works on records in memory, `collect_files` on JSONL files.

How it works, in full: docs/modules.md (`scalemath.methods.rft`).
"""

from __future__ import annotations

from typing import Any

from scalemath.methods import rft_config as _config
from scalemath.methods import rft_core as _core
from scalemath.methods import rft_files as _files
from scalemath.methods.rft_config import *  # noqa: F403  (the config's and stats' public names)
from scalemath.methods.rft_config import RFTConfig, RFTStats
from scalemath.methods.rft_core import *  # noqa: F403  (the collector's public names, `rft_core.__all__`)

__all__ = [*_config.__all__, *_core.__all__, "collect_files"]


def collect_files(
    paths: list[str], config: RFTConfig | None = None, problems_path: str | None = None
) -> tuple[list[dict[str, Any]], RFTStats]:
    """RFT over JSONL sample files, processed in the given order (streaming; `config.workers`
    processes). See `scalemath.methods.rft_files`."""
    return _files.collect_files(paths, config or RFTConfig(), problems_path)


def __getattr__(name: str) -> Any:
    """The core's other names (helpers some callers reach for) stay reachable here."""
    return getattr(_core, name)
