"""Scaling-law fits: accuracy against data amount.

How it works, in full: docs/modules.md (`scalemath.scaling.fit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalemath.scaling.curves import ALL_MODELS, FORMULAS, FUNCS, MIN_POINTS, MODELS, PARAMS, invert, jacobian, power

# -- result ---------------------------------------------------------------------------------------


@dataclass
class FitResult:
    """A fitted scaling curve with its uncertainty."""

    model: str
    params: dict[str, float]
    stderr: dict[str, float]
    lo: dict[str, float]
    hi: dict[str, float]
    cov: np.ndarray
    x: np.ndarray
    y: np.ndarray
    sigma: np.ndarray | None
    rss: float
    r2: float
    rmse: float
    aic: float
    aicc: float
    bic: float
    ci: float = 0.95
    draws: np.ndarray | None = None  # parameter draws (bootstrap fits), if made
    interval: str = "cov"
    ceiling: float = np.inf  # cap on the power law's asymptote
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def theta(self) -> np.ndarray:
        return np.array([self.params[p] for p in PARAMS[self.model]])

    def predict(self, n: Any) -> np.ndarray:
        """The fitted curve at data amounts n."""
        return FUNCS[self.model](np.asarray(n, dtype=np.float64), *self.theta)

    def param_draws(self, draws: int = 2000, seed: int = 0) -> np.ndarray:
        """Parameter vectors reflecting the fit's uncertainty, shape (draws, p)."""
        if self.draws is not None:
            return self.draws
        rng = np.random.default_rng(seed)
        cov = np.nan_to_num(self.cov)
        th = rng.multivariate_normal(self.theta, cov, size=draws, method="svd")
        if self.model == "power":
            th[:, 0] = np.minimum(th[:, 0], self.ceiling)
            th[:, 2] = np.maximum(th[:, 2], 1e-6)
        return th

    def band(self, n: Any, ci: float | None = None, draws: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise confidence band of the mean curve at n."""
        ci = self.ci if ci is None else ci
        n = np.asarray(n, dtype=np.float64)
        th = self.param_draws(draws, seed)
        f = FUNCS[self.model]
        curves = np.stack([f(n, *t) for t in th])
        lo, hi = np.nanquantile(curves, [(1 - ci) / 2, 1 - (1 - ci) / 2], axis=0)
        return lo, hi

    def data_needed(self, target: float, ci: float | None = None, draws: int = 2000, seed: int = 0) -> dict[str, Any]:
        """Data amount at which the curve reaches `target` accuracy, with an interval.

        `value` is inf when the fitted curve never reaches the target (e.g. above a power law's
        asymptote); `unreachable` is the share of parameter draws for which that happens."""
        ci = self.ci if ci is None else ci
        point = float(invert(self.model, self.theta, target))
        th = self.param_draws(draws, seed)
        ns = np.array([invert(self.model, t, target) for t in th])
        finite = np.isfinite(ns)
        lo, hi = np.quantile(np.where(finite, ns, np.inf), [(1 - ci) / 2, 1 - (1 - ci) / 2], method="inverted_cdf")
        return {
            "target": target,
            "value": point,
            "lo": float(lo),
            "hi": float(hi),
            "unreachable": float(1 - finite.mean()),
            "ci": ci,
        }

    def to_dict(self) -> dict[str, Any]:
        d = {
            "model": self.model,
            "formula": FORMULAS[self.model],
            "params": self.params,
            "stderr": self.stderr,
            "lo": self.lo,
            "hi": self.hi,
            "ci": self.ci,
            "interval": self.interval,
            "n_points": int(len(self.x)),
            "rss": self.rss,
            "r2": self.r2,
            "rmse": self.rmse,
            "aic": self.aic,
            "aicc": self.aicc,
            "bic": self.bic,
        }
        if self.model == "segmented":
            t = self.params["t"]
            d["breakpoint_n"] = {
                "value": float(np.exp(t)),
                "lo": float(np.exp(self.lo["t"])),
                "hi": float(np.exp(self.hi["t"])),
            }
        d.update(self.extra)
        return to_jsonable(d)


# -- fitting --------------------------------------------------------------------------------------


def _weighted_lstsq(A: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float]:
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)
    r = (A @ coef - y) * sw
    return coef, float(r @ r)


def _initial(model: str, x: np.ndarray, y: np.ndarray, w: np.ndarray, ceiling: float = np.inf) -> np.ndarray:
    """Starting values: profile the linear parameters over a grid of the nonlinear one."""
    lx = np.log(x)
    if model == "loglinear":
        coef, _ = _weighted_lstsq(np.stack([np.ones_like(lx), lx], 1), y, w)
        return coef
    if model == "linear":
        coef, _ = _weighted_lstsq(np.stack([np.ones_like(x), x], 1), y, w)
        return coef
    if model == "segmented":
        u = np.unique(lx)
        grid = np.linspace(u[1], u[-2], 60) if len(u) >= 4 else np.array([np.median(u)])
        best: tuple[float, np.ndarray] | None = None
        for t in grid:
            A = np.stack([np.ones_like(lx), np.minimum(lx, t), np.maximum(lx - t, 0.0)], 1)
            coef, rss = _weighted_lstsq(A, y, w)
            if best is None or rss < best[0]:
                best = (rss, np.append(coef, t))
        if best is None:  # the grid has at least one knee; as `None[1]` would
            raise TypeError("segmented: no knee to start from")
        return best[1]
    if model == "power":
        best = None
        for c in np.geomspace(1e-3, 3.0, 80):
            A = np.stack([np.ones_like(x), -np.power(x, -c)], 1)
            coef, rss = _weighted_lstsq(A, y, w)
            if coef[0] > ceiling:  # asymptote above the ceiling: pin it there, refit b
                coef = np.array(
                    [ceiling, float(np.sum(w * (ceiling - y) * np.power(x, -c)) / np.sum(w * np.power(x, -2 * c)))]
                )
                rss = float((w * (power(x, coef[0], coef[1], c) - y) ** 2).sum())
            if best is None or rss < best[0]:
                best = (rss, np.append(coef, c))
        if best is None:  # 80 exponents are tried; as `None[1]` would
            raise TypeError("power: no exponent to start from")
        return best[1]
    raise ValueError(f"unknown model {model!r}; choose from {MODELS}")


def accuracy_ceiling(y: np.ndarray) -> float:
    """Largest possible accuracy on the scale of y: 1 for fractions, 100 for percentages."""
    top = float(np.max(y))
    return 1.0 if top <= 1.0 else 100.0 if top <= 100.0 else np.inf


def _bounds(model: str, x: np.ndarray, ceiling: float) -> tuple[list[float], list[float]]:
    lx = np.log(x)
    if model == "segmented":  # at least two distinct data amounts on each side (knee included)
        u = np.unique(lx)
        return [-np.inf, -np.inf, -np.inf, float(u[1])], [np.inf, np.inf, np.inf, float(u[-2])]
    if model == "power":
        return [-np.inf, -np.inf, 1e-6], [ceiling, np.inf, 20.0]
    return [-np.inf] * 2, [np.inf] * 2


def _profile_rss(lx: np.ndarray, y: np.ndarray, w: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RSS and (a, b1, b2) of the segmented model for each knee t in ts (batched normal equations)."""
    A = np.stack(
        np.broadcast_arrays(
            np.ones((len(ts), len(lx))),
            np.minimum(lx[None, :], ts[:, None]),
            np.maximum(lx[None, :] - ts[:, None], 0.0),
        ),
        -1,
    )  # (T, n, 3)
    Aw = A * w[None, :, None]
    coef = np.linalg.solve(
        np.einsum("tni,tnj->tij", Aw, A) + 1e-12 * np.eye(3), np.einsum("tni,n->ti", Aw, y)[..., None]
    )[..., 0]
    r = np.einsum("tni,ti->tn", A, coef) - y[None, :]
    return (r * r * w[None, :]).sum(1), coef


def _solve_segmented(x: np.ndarray, y: np.ndarray, w: np.ndarray):
    """Segmented fit by profiling: (a, b1, b2) are linear given t, so minimize the profile RSS
    over t: a grid that includes every data point, then three zooms around the best point."""
    lx = np.log(x)
    u = np.unique(lx)
    lo_t, hi_t = float(u[1]), float(u[-2])
    sw = np.sqrt(w)
    ts = np.unique(np.concatenate([np.linspace(lo_t, hi_t, 61), u[(u >= lo_t) & (u <= hi_t)]]))
    rss, coef = _profile_rss(lx, y, w, ts)
    i = int(np.argmin(rss))
    best_t, best_rss, best_coef = float(ts[i]), float(rss[i]), coef[i]
    step = (hi_t - lo_t) / 60 if hi_t > lo_t else 0.0
    for _ in range(4):
        if step <= 0:
            break
        ts = np.clip(np.linspace(best_t - step, best_t + step, 21), lo_t, hi_t)
        rss, coef = _profile_rss(lx, y, w, ts)
        i = int(np.argmin(rss))
        if rss[i] < best_rss:
            best_t, best_rss, best_coef = float(ts[i]), float(rss[i]), coef[i]
        step /= 10
    theta = np.append(best_coef, best_t)
    jac = jacobian("segmented", x, theta) * sw[:, None]
    at_bound = ["t"] if best_t <= lo_t + 1e-9 or best_t >= hi_t - 1e-9 else []
    return theta, jac, best_rss, at_bound


def _solve(
    model: str,
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    p0: np.ndarray | None = None,
    ceiling: float = np.inf,
    max_nfev: int = 2000,
    converge: bool = False,
):
    """(theta, jacobian, rss, parameters at a bound); with `converge`, ValueError when the solver
    stops at `max_nfev` evaluations without converging."""
    if model == "segmented":
        return _solve_segmented(x, y, w)
    f = FUNCS[model]
    sw = np.sqrt(w)
    p0 = _initial(model, x, y, w, ceiling) if p0 is None else p0
    lb, ub = _bounds(model, x, ceiling)
    p0 = np.clip(p0, np.array(lb) + 1e-12, np.array(ub) - 1e-12)

    def resid(th: np.ndarray) -> np.ndarray:
        return (f(x, *th) - y) * sw

    def jac(th: np.ndarray) -> np.ndarray:
        return jacobian(model, x, th) * sw[:, None]

    from scipy import optimize

    sol = optimize.least_squares(
        resid,
        p0,
        jac=jac,
        bounds=(lb, ub),
        method="trf",
        x_scale="jac",
        xtol=1e-12,
        ftol=1e-12,
        gtol=1e-12,
        max_nfev=max_nfev,
    )
    if converge and sol.status == 0:
        raise ValueError(f"{model}: the fit did not converge in {max_nfev:,} evaluations")
    at_bound = [
        PARAMS[model][i] for i in np.flatnonzero((sol.x <= np.array(lb) + 1e-9) | (sol.x >= np.array(ub) - 1e-9))
    ]
    return sol.x, jac(sol.x), float(sol.fun @ sol.fun), at_bound


def fit(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    model: str = "loglinear",
    sigma: Sequence[float] | None = None,
    ci: float = 0.95,
    interval: str = "auto",
    bootstrap: int = 1000,
    seed: int = 0,
    cap: bool = True,
) -> FitResult:
    """Fit one scaling model to (data amount, accuracy) points.

    sigma: optional standard errors of y (weighted least squares; intervals are still scaled by
      the residual variance, as scipy's curve_fit does by default).
    interval: "cov" (covariance, t quantiles), "bootstrap" (residual bootstrap, `bootstrap`
      refits) or "auto": covariance, unless it is degenerate (a rank-deficient Jacobian, or a
      segmented knee sitting exactly on a data point, where the derivative in t is one-sided),
      then bootstrap (their coverage in simulations: docs/modules.md, `scalemath.scaling.fit`).
    cap: keep the power law's asymptote a at most the accuracy ceiling (1, or 100 when y looks
      like percentages). A parameter that ends on a bound is listed in `extra["at_bound"]`; its
      covariance interval is then only indicative.
    """
    if model not in ALL_MODELS:
        raise ValueError(f"unknown model {model!r}; choose from {ALL_MODELS}")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("x and y must be 1-D and of equal length")
    if np.any(~np.isfinite(x)) or np.any(~np.isfinite(y)) or (model != "linear" and np.any(x <= 0)):
        raise ValueError("data amounts must be positive and accuracies finite")
    check_points(x, y)
    need = MIN_POINTS[model]
    if len(np.unique(x)) < len(PARAMS[model]) or len(x) < need:
        raise ValueError(f"{model} needs at least {need} points (with enough distinct data amounts); got {len(x)}")
    s = None if sigma is None else np.asarray(sigma, dtype=np.float64)
    if s is not None and (s.shape != x.shape or np.any(s <= 0)):
        raise ValueError("sigma must be positive and match x")
    w = np.ones_like(x) if s is None else 1.0 / s**2
    ceiling = accuracy_ceiling(y) if cap else np.inf
    theta, jac, rss, at_bound = _solve(model, x, y, w, ceiling=ceiling, converge=True)
    n, p = len(x), len(theta)
    dof = max(n - p, 1)
    s2 = rss / dof
    try:
        cov = np.linalg.pinv(jac.T @ jac) * s2
    except np.linalg.LinAlgError:
        cov = np.full((p, p), np.nan)
    names = PARAMS[model]
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    from scipy.special import stdtrit  # Student t quantile (lighter than scipy.stats)

    tq = float(stdtrit(dof, 1 - (1 - ci) / 2))
    lo, hi = theta - tq * se, theta + tq * se
    draws = None
    degenerate = np.linalg.matrix_rank(jac, tol=1e-8 * np.abs(jac).max()) < p
    if model == "segmented":  # knee on a data point: the derivative in t is one-sided there
        degenerate = degenerate or bool(np.any(np.abs(np.log(x) - theta[3]) < 1e-6))
    if interval == "auto":
        interval = "bootstrap" if degenerate else "cov"
    if degenerate:
        lo, hi = np.full(p, -np.inf), np.full(p, np.inf)  # not identified from the covariance
    if interval == "bootstrap":
        draws = _residual_bootstrap(model, x, y, w, theta, bootstrap, seed, ceiling)
        lo, hi = np.nanquantile(draws, [(1 - ci) / 2, 1 - (1 - ci) / 2], axis=0)
        se = np.nanstd(draws, axis=0, ddof=1)
    elif interval != "cov":
        raise ValueError("interval must be 'auto', 'cov' or 'bootstrap'")
    yhat = FUNCS[model](x, *theta)
    ybar = np.average(y, weights=w)
    ss_tot = float((w * (y - ybar) ** 2).sum())
    r2 = 1 - rss / ss_tot if ss_tot > 0 else float("nan")
    k = p + 1  # + noise variance
    aic = n * np.log(max(rss, 1e-300) / n) + 2 * k
    aicc = aic + (2 * k * (k + 1) / (n - k - 1) if n - k - 1 > 0 else np.inf)
    bic = n * np.log(max(rss, 1e-300) / n) + k * np.log(n)
    return FitResult(
        model=model,
        params=dict(zip(names, map(float, theta))),
        stderr=dict(zip(names, map(float, se))),
        lo=dict(zip(names, map(float, lo))),
        hi=dict(zip(names, map(float, hi))),
        cov=cov,
        x=x,
        y=y,
        sigma=s,
        rss=rss,
        r2=float(r2),
        rmse=float(np.sqrt(np.mean((yhat - y) ** 2))),
        aic=float(aic),
        aicc=float(aicc),
        bic=float(bic),
        ci=ci,
        draws=draws,
        interval=interval,
        ceiling=ceiling,
        extra={"at_bound": at_bound} if at_bound else {},
    )


BOOTSTRAP_NFEV = 200
"""Residual evaluations one bootstrap refit may take (it starts at the fit's estimate)."""

BOOTSTRAP_FAILURES = 50
"""Refits that may fail to converge before the bootstrap gives up (intervals NaN): bounds the
time a series the model cannot describe costs."""


def _residual_bootstrap(
    model: str, x: np.ndarray, y: np.ndarray, w: np.ndarray, theta: np.ndarray, B: int, seed: int, ceiling: float
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    f = FUNCS[model]
    yhat = f(x, *theta)
    sw = np.sqrt(w)
    r = (y - yhat) * sw  # standardized residuals
    r = (r - r.mean()) * np.sqrt(len(x) / max(len(x) - len(theta), 1))
    Y = yhat[None, :] + rng.choice(r, size=(B, len(r)), replace=True) / sw[None, :]
    if model == "segmented":
        return _segmented_many(x, Y, w)
    out = np.full((B, len(theta)), np.nan)
    failed = 0
    for i in range(B):
        try:
            # from the fit's own estimate, with a tenth of its evaluations: a series no model
            # describes (accuracy falling with data) made 1,000 refits of 2,000 evaluations each
            out[i] = _solve(model, x, Y[i], w, p0=theta, ceiling=ceiling, max_nfev=BOOTSTRAP_NFEV, converge=True)[0]
        except (ValueError, np.linalg.LinAlgError):
            failed += 1
            if failed > BOOTSTRAP_FAILURES:  # the model does not describe these data: no interval
                out[:] = np.nan
                break
            continue
    return out


def _segmented_many(x: np.ndarray, Y: np.ndarray, w: np.ndarray, n_grid: int = 801) -> np.ndarray:
    """Segmented fits of many response vectors Y (B, n) sharing x and weights, vectorized.

    The knee is chosen on a fine grid (plus every data point) by the profile RSS, computed for all
    rows at once through each grid point's residual projector; this approximates `_solve_segmented`
    to the grid spacing ((range of ln n) / 800), plenty for bootstrap percentiles."""
    lx = np.log(x)
    u = np.unique(lx)
    ts = np.unique(np.concatenate([np.linspace(u[1], u[-2], n_grid), u[(u >= u[1]) & (u <= u[-2])]]))
    sw = np.sqrt(w)
    A = (
        np.stack(
            np.broadcast_arrays(
                np.ones((len(ts), len(lx))),
                np.minimum(lx[None, :], ts[:, None]),
                np.maximum(lx[None, :] - ts[:, None], 0.0),
            ),
            -1,
        )
        * sw[None, :, None]
    )
    pinv = np.linalg.pinv(A)  # (T, 3, n): weighted LS solutions
    Yw = Y * sw[None, :]  # (B, n)
    out = np.empty((len(Y), 4))
    step = max(1, 4_000_000 // max(len(ts) * len(x), 1))  # bound the (T, n, rows) temporaries
    for s0 in range(0, len(Y), step):
        yb = Yw[s0 : s0 + step].T  # (n, b)
        coef = pinv @ yb  # (T, 3, b)
        resid = A @ coef - yb[None]  # (T, n, b)
        rss = np.einsum("tnb,tnb->tb", resid, resid)
        best = np.argmin(rss, axis=0)  # (b,)
        cols = np.arange(len(best))
        out[s0 : s0 + step, :3] = coef[best, :, cols]
        out[s0 : s0 + step, 3] = ts[best]
    return out


MAX_POINTS = 500
"""Most points one fit takes: a scaling curve has a few data amounts x seeds (dozens), and the
segmented fit costs points x knee grid x replicates (20,000 points: 2.5 GB; 500: 0.27 GB, 38 s)."""

MAX_MAGNITUDE = 1e15
"""Largest |data amount| or |accuracy| a fit takes (1e300 overflows the power law: the solver
never converges)."""


def check_points(x: np.ndarray, y: np.ndarray) -> None:
    """Refuse (ValueError) more than MAX_POINTS points or values past MAX_MAGNITUDE, before fitting."""
    if len(x) > MAX_POINTS:
        raise ValueError(
            f"{len(x):,} points; a scaling fit takes at most {MAX_POINTS:,} (average the seeds of each "
            "data amount first, or pass --sigma with the averages)"
        )
    big = max(float(np.max(np.abs(x), initial=0.0)), float(np.max(np.abs(y), initial=0.0)))
    if big > MAX_MAGNITUDE:
        raise ValueError(f"a value of {big:g}; data amounts and accuracies must be within ±{MAX_MAGNITUDE:g}")


def fit_auto(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    models: Sequence[str] = MODELS,
    criterion: str = "aicc",
    **kw: Any,
) -> tuple[FitResult, dict[str, FitResult]]:
    """Fit every model with enough points and pick the one with the lowest criterion
    ("aicc", "aic" or "bic"). Returns (best, all fits); each fit's `extra` holds its Akaike
    weight among the candidates."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    check_points(x, y)  # once, with its own message (each model's fit would refuse it silently)
    fits: dict[str, FitResult] = {}
    errors: dict[str, str] = {}
    for m in models:
        if len(x) >= MIN_POINTS[m]:
            try:
                fits[m] = fit(x, y, m, **kw)
            except ValueError as e:
                errors[m] = str(e)
                continue
    if not fits:
        why = "; ".join(f"{m}: {e}" for m, e in errors.items()) or f"every model needs more than {len(x)} points"
        raise ValueError(f"no model can be fitted to {len(x)} points ({why})")
    scores = {m: getattr(f, criterion) for m, f in fits.items()}
    finite = {m: s for m, s in scores.items() if np.isfinite(s)}
    pool = finite or scores
    best = min(pool, key=lambda m: pool[m])
    base = min(finite.values()) if finite else 0.0
    wts = {m: float(np.exp(-(s - base) / 2)) if np.isfinite(s) else 0.0 for m, s in scores.items()}
    tot = sum(wts.values()) or 1.0
    for m, f in fits.items():
        f.extra["weight"] = wts[m] / tot
        f.extra["criterion"] = criterion
    return fits[best], fits


def to_jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if np.isfinite(v) else (None if np.isnan(v) else ("inf" if v > 0 else "-inf"))
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
