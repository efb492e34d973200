"""scalemath: scale math fine-tuning data and measure what each piece buys."""

import logging
import os
import sys

# torch's OpenMP threads busy-wait between parallel regions by default; on a CPU shared with other
# processes that makes 2 threads several times slower than 1 (measured: 0.7k vs 2.7k tok/s). Passive
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
