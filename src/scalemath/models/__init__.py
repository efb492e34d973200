"""Deprecated name of `scalemath.teacher` (the offline teacher: SmolLM2 set-up, a served
subprocess, the teacher demo); it is removed in the next release.

`import scalemath.models.smollm2` and the other submodules still work: they are the
`scalemath.teacher` modules themselves."""

import sys
import warnings

from scalemath import teacher as _teacher
from scalemath.teacher import *  # noqa: F403
from scalemath.teacher import serve_process, smollm2, teacher_demo

warnings.warn(
    "scalemath.models is renamed scalemath.teacher; the old name goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)

for _m in (serve_process, smollm2, teacher_demo):
    sys.modules[f"{__name__}.{_m.__name__.rpartition('.')[2]}"] = _m

__all__ = _teacher.__all__
