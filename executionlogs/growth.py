"""Growth analytics: fit a sample's confluence series and forecast when it reaches a target.

Pure functions over ``(hours, confluence percent)`` points (numpy, no database). The fit is
logistic with a lag phase, linearised: with confluence ``c`` in percent of a full well,
``logit(c / 100)`` is flat during the lag and then grows linearly at the rate ``r``, so

    logit(c(t)) = a                  for t < lag
    logit(c(t)) = a + r * (t - lag)  after it

is fitted by least squares for every candidate lag on a grid (a segmented regression), keeping
the best; each point is weighted by ``(1 - c)^2``, the inverse of how much a relative error
of the measurement grows on the logit scale. The doubling time of the exponential phase is
``ln 2 / r``; its 95 % confidence interval comes from the slope's standard error (Student's
t). Points above
``FIT_MAX_CONFLUENCE`` are left out: near a full well the logit magnifies measurement noise.
docs/closed-loop.md explains the choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FIT_MIN_POINTS = 3  # points in the growth phase a fit needs
FIT_MIN_CONFLUENCE = 0.5
FIT_MAX_CONFLUENCE = 95.0
LAG_GRID_STEPS = 60
# Two-sided 95 % quantiles of Student's t by degrees of freedom (beyond the table: normal).
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
_T95 |= {11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093}
_T95 |= {20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}


def t95(df: int) -> float:
    """The two-sided 95 % quantile of Student's t with ``df`` degrees of freedom (conservative between rows)."""
    if df <= 0:
        return math.inf
    for row in sorted(_T95):
        if df <= row:
            return _T95[row]
    return 1.96


def logit(confluence_percent):
    c = np.clip(np.asarray(confluence_percent, dtype=float) / 100.0, 1e-6, 1 - 1e-6)
    return np.log(c / (1 - c))


@dataclass(frozen=True)
class GrowthFit:
    """A fitted growth curve: rate per hour, doubling time with its 95 % interval, lag, points used."""

    rate_per_hour: float
    rate_ci: tuple[float, float]
    doubling_hours: float
    doubling_ci: tuple[float, float | None]  # None: the interval reaches no growth at all
    lag_hours: float
    intercept: float  # logit of the confluence during the lag
    points: int
    residual_sd: float

    def confluence_at(self, hours: float) -> float:
        return float(_logistic_percent(self.intercept, self.rate_per_hour, self.lag_hours, hours))

    def hours_to(self, target_percent: float) -> float | None:
        """When the fitted curve reaches ``target_percent`` (None if it never does)."""
        if self.rate_per_hour <= 0 or not 0 < target_percent < 100:
            return None
        goal = float(logit(target_percent))
        if goal <= self.intercept:
            return self.lag_hours
        return self.lag_hours + (goal - self.intercept) / self.rate_per_hour

    def as_dict(self) -> dict:
        return {
            "rate_per_hour": round(self.rate_per_hour, 6),
            "rate_ci": [round(v, 6) for v in self.rate_ci],
            "doubling_hours": round(self.doubling_hours, 3),
            "doubling_ci": [round(v, 3) if v is not None else None for v in self.doubling_ci],
            "lag_hours": round(self.lag_hours, 3),
            "points": self.points,
            "residual_sd": round(self.residual_sd, 5),  # weighted, on the logit scale
            "intercept": round(self.intercept, 6),  # with rate and lag: the curve (fitted_confluence)
        }


def _logistic_percent(intercept: float, rate: float, lag: float, hours):
    """The fitted curve's confluence (percent) at ``hours``, a number or an array of them."""
    value = intercept + rate * np.maximum(0.0, np.asarray(hours, dtype=float) - lag)
    return 100.0 / (1.0 + np.exp(-np.clip(value, -700.0, 700.0)))


def fitted_confluence(fit: dict, hours) -> np.ndarray:
    """The fitted curve of ``GrowthFit.as_dict()`` at ``hours`` (an array of them; percent), for charts."""
    return _logistic_percent(fit["intercept"], fit["rate_per_hour"], fit["lag_hours"], hours)


def _segmented(t: np.ndarray, y: np.ndarray, w: np.ndarray, lags: np.ndarray):
    """Weighted least squares of y = a + r * max(0, t - lag) for every lag at once, in closed form (the normal
    equations of two unknowns; one fit is microseconds, where a solver call per lag made a page of plates slow).

    Arrays over ``lags``: a, r, the weighted sse and the standard error of r; ``ok`` is False where the
    design is singular (every x the same: no slope to fit).
    """
    x = np.maximum(0.0, t[None, :] - lags[:, None])
    sw, sy = float(w.sum()), float(w @ y)
    sx, sxx, sxy = x @ w, (x * x) @ w, x @ (w * y)
    det = sw * sxx - sx * sx  # sw times the weighted spread of x: zero only when x is constant
    ok = det > 1e-12 * sw * np.maximum(sxx, 1e-300)
    safe = np.where(ok, det, 1.0)
    rate = (sw * sxy - sx * sy) / safe
    intercept = (sy - rate * sx) / sw
    residuals = y[None, :] - intercept[:, None] - rate[:, None] * x
    sse = (residuals * residuals) @ w
    df = len(t) - 3  # a, r and the lag
    sigma2 = sse / df if df > 0 else np.full_like(sse, math.inf)
    rate_se = np.sqrt(np.maximum(sigma2 * sw / safe, 0.0))
    return intercept, rate, sse, rate_se, ok


def growth_fit(hours, confluence) -> GrowthFit | None:
    """Fit one passage segment of a confluence series (percent); None with too few usable points."""
    t = np.asarray(hours, dtype=float)
    c = np.asarray(confluence, dtype=float)
    keep = (c >= FIT_MIN_CONFLUENCE) & (c <= FIT_MAX_CONFLUENCE) & np.isfinite(c) & np.isfinite(t)
    t, c = t[keep], c[keep]
    if len(t) < FIT_MIN_POINTS + 1:
        return None
    order = np.argsort(t)
    t, y = t[order], logit(c[order])
    # Relative noise on confluence is (1 - c) times as large on its logit: weigh by the inverse variance.
    w = (1.0 - c[order] / 100.0) ** 2
    # Candidate lags from the first point to the point that still leaves FIT_MIN_POINTS after it.
    lags = np.linspace(t[0], t[-FIT_MIN_POINTS], LAG_GRID_STEPS)
    intercepts, rates, sses, rate_ses, ok = _segmented(t, y, w, lags)
    best = None
    for index in np.flatnonzero(ok):  # the first lag of the least sse (a later one must beat it by 1e-12)
        if best is None or sses[index] < sses[best] - 1e-12:
            best = index
    if best is None:
        return None
    lag, intercept, rate = float(lags[best]), float(intercepts[best]), float(rates[best])
    sse, rate_se = float(sses[best]), float(rate_ses[best])
    if not rate > 0:
        return None
    df = len(t) - 3
    half = t95(df) * rate_se
    low, high = rate - half, rate + half
    return GrowthFit(
        rate_per_hour=rate,
        rate_ci=(low, high),
        doubling_hours=math.log(2) / rate,
        doubling_ci=(math.log(2) / high, math.log(2) / low if low > 0 else None),
        lag_hours=lag,
        intercept=intercept,
        points=len(t),
        residual_sd=math.sqrt(sse / df) if df > 0 else 0.0,
    )


def growth_forecast(hours, confluence, fit: GrowthFit | None, *, target: float) -> dict:
    """When the series reaches ``target`` percent confluence.

    ``reached`` with the first measured time at or above it, once it has; else the fitted curve's
    crossing with the interval the rate's interval gives (``hours`` None without a fit).
    """
    points = sorted(zip(hours, confluence, strict=True))
    for at, value in points:
        if value >= target:
            return {"target": target, "reached": True, "hours": round(at, 3), "hours_ci": [round(at, 3)] * 2}
    if fit is None:
        return {"target": target, "reached": False, "hours": None, "hours_ci": [None, None]}
    estimate = fit.hours_to(target)
    goal = float(logit(target))
    bounds = []
    for rate in (fit.rate_ci[1], fit.rate_ci[0]):
        bounds.append(round(fit.lag_hours + max(0.0, goal - fit.intercept) / rate, 3) if rate > 0 else None)
    last = points[-1][0] if points else 0.0
    estimate = max(estimate, last) if estimate is not None else None
    return {
        "target": target,
        "reached": False,
        "hours": round(estimate, 3) if estimate is not None else None,
        "hours_ci": [max(b, last) if b is not None else None for b in bounds],
    }
