"""Deprecated name of `scalemath.metrics.store_summary` (everything the metrics stage reports
about one sample store); it is removed in the next release."""

import warnings

from scalemath.metrics import store_summary as _store_summary
from scalemath.metrics.store_summary import *  # noqa: F403

warnings.warn(
    "scalemath.metrics.analyze is renamed scalemath.metrics.store_summary; the old name goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str):
    return getattr(_store_summary, name)
