"""Deprecated name of `scalemath.answers.numeric` (numeric evaluation of LaTeX ASTs); it is
removed in the next release. "Evaluate a model" is `scalemath.sampling.evaluate`."""

import warnings

from scalemath.answers import numeric as _numeric
from scalemath.answers.numeric import *  # noqa: F403

warnings.warn(
    "scalemath.answers.evaluate is renamed scalemath.answers.numeric; the old name goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str):
    return getattr(_numeric, name)
