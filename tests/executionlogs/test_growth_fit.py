"""The growth fit and forecast (executionlogs/growth.py) on synthetic series with known rates."""

import math
import random

import numpy as np
import pytest

from executionlogs.growth import FIT_MIN_POINTS, LAG_GRID_STEPS, growth_fit, growth_forecast, logit


def synthetic(doubling: float, *, lag: float = 8.0, seed_confluence: float = 12.0, noise: float = 0.03, seed=0):
    """Every 12 h for 10 days: logistic after a lag, multiplicative noise of ``noise`` (sd)."""
    rng = random.Random(seed)
    rate = math.log(2) / doubling
    start = math.log(seed_confluence / (100 - seed_confluence))
    hours, values = [], []
    for at in range(0, 240, 12):
        c = 100 / (1 + math.exp(-(start + rate * max(0, at - lag))))
        hours.append(float(at))
        values.append(min(100.0, c * math.exp(rng.gauss(0, noise))))
    return hours, values


@pytest.mark.parametrize("doubling", [24.0, 30.0, 36.0, 40.0])
@pytest.mark.parametrize("seed", range(5))
def test_doubling_time_is_recovered_within_5_percent_at_realistic_noise(doubling, seed):
    hours, values = synthetic(doubling, seed=seed)
    fit = growth_fit(hours, values)
    assert fit is not None
    assert fit.doubling_hours == pytest.approx(doubling, rel=0.05)
    low, high = fit.doubling_ci
    assert low < fit.doubling_hours < high


def test_without_noise_the_fit_is_exact():
    hours, values = synthetic(30.0, noise=0.0, lag=12.0)
    fit = growth_fit(hours, values)
    assert fit.doubling_hours == pytest.approx(30.0, rel=0.01)
    assert fit.lag_hours == pytest.approx(12.0, abs=4.0)


def test_too_few_points_give_no_fit_and_no_forecast():
    assert growth_fit([0, 12], [10, 20]) is None
    forecast = growth_forecast([0, 12], [10, 20], None, target=80)
    assert forecast == {"target": 80, "reached": False, "hours": None, "hours_ci": [None, None]}


def test_forecast_of_80_percent_from_the_first_four_days_is_close_to_the_truth():
    doubling, lag, seed_confluence = 32.0, 8.0, 12.0
    truth = lag + (math.log(80 / 20) - math.log(seed_confluence / 88)) / (math.log(2) / doubling)
    hours, values = synthetic(doubling, lag=lag, seed_confluence=seed_confluence, seed=3)
    early = [(h, v) for h, v in zip(hours, values, strict=True) if h <= 96]
    fit = growth_fit([h for h, _ in early], [v for _, v in early])
    forecast = growth_forecast([h for h, _ in early], [v for _, v in early], fit, target=80)
    assert forecast["reached"] is False
    assert forecast["hours"] == pytest.approx(truth, rel=0.1)
    low, high = forecast["hours_ci"]
    assert low <= forecast["hours"] <= high


def test_a_series_past_the_target_reports_its_first_point_at_or_above_it():
    hours, values = [0, 12, 24, 36], [40.0, 60.0, 81.0, 79.0]
    forecast = growth_forecast(hours, values, growth_fit(hours, values), target=80)
    assert forecast["reached"] is True and forecast["hours"] == 24


def test_over_many_noisy_series_nine_in_ten_doubling_times_are_within_5_percent():
    errors = []
    for doubling in (24.0, 32.0, 40.0):
        for seed in range(40):
            hours, values = synthetic(doubling, seed=100 + seed)
            errors.append(abs(growth_fit(hours, values).doubling_hours / doubling - 1))
    errors.sort()
    assert errors[len(errors) // 2] < 0.02
    assert errors[int(len(errors) * 0.9)] < 0.05


@pytest.mark.parametrize("seed", range(6))
def test_the_closed_form_fit_equals_a_least_squares_solve_at_each_lag(seed):
    """The vectorised normal equations pick the same lag and slope as a solver run per lag (the reference)."""
    hours, values = synthetic(24.0 + 3 * seed, lag=4.0 + seed, seed=seed)
    t = np.asarray(hours)
    c = np.asarray(values)
    keep = c <= 95.0
    t, c = t[keep], c[keep]
    y, w = logit(c), (1.0 - c / 100.0) ** 2
    best = None
    for lag in np.linspace(t[0], t[-FIT_MIN_POINTS], LAG_GRID_STEPS):
        design = np.column_stack([np.ones_like(t), np.maximum(0.0, t - lag)])
        coef = np.linalg.lstsq(design * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)[0]
        sse = float(((y - design @ coef) ** 2) @ w)
        if best is None or sse < best[0] - 1e-12:
            best = (sse, float(lag), coef)
    fit = growth_fit(hours, values)
    assert fit.lag_hours == pytest.approx(best[1], abs=1e-9)
    assert fit.rate_per_hour == pytest.approx(best[2][1], rel=1e-9)
    assert fit.intercept == pytest.approx(best[2][0], rel=1e-9)
