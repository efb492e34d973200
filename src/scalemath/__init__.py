"""scalemath: scale math fine-tuning data and measure what each piece buys.

`from scalemath import load_problems, sample, grade, collect_rft, train, evaluate, compare, fit`
gives the pipeline's verbs and records (defined in `scalemath.api`, imported on first use so that
`import scalemath` stays fast); README.md has a worked example.
"""

import logging
import os
import sys
from typing import TYPE_CHECKING, Any

# torch's OpenMP threads busy-wait between parallel regions by default; on a CPU shared with other
# processes that makes 2 threads several times slower than 1 (docs/modules.md, `scalemath`). Passive
# waiting removes the collapse. Only effective if set before torch is first imported (hence here,
# at the package root); a user's own setting wins.
# OMP_PASSIVE is False when torch was loaded before scalemath without a passive policy (then
# training.runtime.setup_threads warns).
OMP_PASSIVE = "torch" not in sys.modules or os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE"
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

# bitsandbytes (the QLoRA extra; transformers/TRL import it whenever it is installed) warns on
# CPUs with AVX512-bf16 that an optional kernels package is missing; its fallback works, so keep
# that line out of every command's output. Its errors still show.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)

# ruff: noqa: F405 (the names below come from scalemath.api, star-imported for type checkers only)
# the public API (scalemath.api), loaded on first access
__all__ = [
    "Engine",
    "Problem",
    "RFTConfig",
    "RFTStats",
    "Sample",
    "SamplingParams",
    "Verdict",
    "__version__",
    "collect_rft",
    "compare",
    "evaluate",
    "fit",
    "generate_problems",
    "grade",
    "grade_samples",
    "load_engine",
    "load_problems",
    "read_samples",
    "sample",
    "summarize_samples",
    "train",
    "write_jsonl",
]

if TYPE_CHECKING:
    from scalemath.api import *  # noqa: F403 (the names of __all__ above)


def __getattr__(name: str) -> Any:
    if name in __all__:
        from scalemath import api

        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
