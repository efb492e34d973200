"""The curves a scaling-law fit chooses from (accuracy against data amount n, and the linear one
for another measured x): their functions, parameter names, formulas, analytic Jacobians and inverses
("which n gives this accuracy"). `scaling.fit` fits them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

MODELS = ("loglinear", "segmented", "power")  # data-amount models (fit_auto's candidates)
ALL_MODELS = (*MODELS, "linear")
MIN_POINTS = {"loglinear": 3, "segmented": 5, "power": 4, "linear": 3}


def linear(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """acc = a + b x."""
    return a + b * np.asarray(x, dtype=np.float64)


def loglinear(n: np.ndarray, a: float, b: float) -> np.ndarray:
    """acc = a + b ln n."""
    return a + b * np.log(n)


def segmented(n: np.ndarray, a: float, b1: float, b2: float, t: float) -> np.ndarray:
    """Continuous two-piece log-linear curve with its knee at ln n = t."""
    x = np.log(n)
    return a + b1 * np.minimum(x, t) + b2 * np.maximum(x - t, 0.0)


def power(n: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    """acc = a - b n^(-c)."""
    return a - b * np.power(np.asarray(n, dtype=np.float64), -c)


def jacobian(model: str, n: np.ndarray, theta: Sequence[float] | np.ndarray) -> np.ndarray:
    """Analytic d curve / d params at n, shape (len(n), p). For the segmented model the
    derivative in t at a data point exactly on the knee is the average of its one-sided values."""
    n = np.asarray(n, dtype=np.float64)
    x = np.log(n)
    one = np.ones_like(x)
    if model == "loglinear":
        return np.stack([one, x], 1)
    if model == "linear":
        return np.stack([one, n], 1)
    if model == "segmented":
        _, b1, b2, t = theta
        right = np.where(x > t, 1.0, np.where(x == t, 0.5, 0.0))
        return np.stack([one, np.minimum(x, t), np.maximum(x - t, 0.0), (b1 - b2) * right], 1)
    if model == "power":
        _, b, c = theta
        nc = np.power(n, -c)
        return np.stack([one, -nc, b * x * nc], 1)
    raise ValueError(f"unknown model {model!r}; choose from {MODELS}")


FUNCS: dict[str, Callable[..., np.ndarray]] = {
    "loglinear": loglinear,
    "segmented": segmented,
    "power": power,
    "linear": linear,
}
PARAMS = {"loglinear": ("a", "b"), "segmented": ("a", "b1", "b2", "t"), "power": ("a", "b", "c"), "linear": ("a", "b")}
FORMULAS = {
    "loglinear": "acc = a + b·ln n",
    "linear": "acc = a + b·x",
    "segmented": "acc = a + b1·min(ln n, t) + b2·max(ln n − t, 0)",
    "power": "acc = a − b·n^(−c)",
}


def invert(model: str, theta: Sequence[float] | np.ndarray, target: float) -> float:
    """Smallest n > 0 with curve(n) = target on the increasing part of the curve (inf if none)."""
    with np.errstate(all="ignore"):
        if model == "loglinear":
            a, b = theta
            return float(np.exp((target - a) / b)) if b > 0 else np.inf
        if model == "linear":
            a, b = theta
            return float((target - a) / b) if b != 0 else np.inf
        if model == "segmented":
            a, b1, b2, t = theta
            at_t = a + b1 * t
            if target <= at_t:
                return float(np.exp((target - a) / b1)) if b1 > 0 else (np.exp(t) if target == at_t else np.inf)
            return float(np.exp(t + (target - at_t) / b2)) if b2 > 0 else np.inf
        if model == "power":
            a, b, c = theta
            if b <= 0 or c <= 0 or target >= a:
                return np.inf
            return float((b / (a - target)) ** (1.0 / c))
    raise ValueError(f"unknown model {model!r}; choose from {MODELS}")
