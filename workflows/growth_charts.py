"""What the growth charts of the admin draw: a sample's curves per run, a campaign's per plate (reads only).

The numbers are ``workflows.growth``'s (series in hours in culture, the fit of the latest
passage segment, the forecast to the target), so a chart agrees with the growth API. On top
of them this module samples the fitted curves into points a chart can draw, fits the earlier
passage segments of a sample for display (after the final passage of a finished run the
latest segment is empty: its curve is the segment before it), and names the threshold: the
confluence value of the run's closed-loop ``until`` decision, else the default target.
"""

import numpy as np
from django.urls import reverse

from executionlogs.growth import FIT_MIN_POINTS, fitted_confluence, growth_fit
from samples.models import Sample
from workflows.growth import DEFAULT_TARGET, plates_growth, runs_growth
from workflows.models import Campaign, RunUnit, Workflow

CURVE_STEPS = 40
FORECAST_STEPS = 20
SAMPLE_RUN_LIMIT = 5  # a sample's latest measured runs that get a chart
METRICS = ("confluence", "viability", "cell_count")


def run_thresholds(run_ids) -> dict[int, dict]:
    """Per run, the threshold line: its first ``until`` on confluence (the closed-loop decision), else the
    default target. ``{"value", "op", "samples", "decision", "label"}``; one query."""
    decisions: dict[int, dict] = {}
    for workflow_id, until in (
        RunUnit.objects.filter(workflow_id__in=run_ids, until__metric="confluence")
        .order_by("workflow_id", "position")
        .values_list("workflow_id", "until")
    ):
        decisions.setdefault(workflow_id, until)
    thresholds = {}
    for run_id in run_ids:
        until = decisions.get(run_id)
        value = until.get("value") if until else None
        if isinstance(value, int | float) and 0 < value < 100:
            op, samples = until.get("op", ">="), until.get("samples", "all")
            label = f"threshold: confluence {op} {value:g} % on {samples} samples (closed-loop decision)"
            thresholds[run_id] = {"value": float(value), "op": op, "samples": samples, "decision": True, "label": label}
        else:
            thresholds[run_id] = default_threshold()
    return thresholds


def default_threshold() -> dict:
    """The line of a run without a confluence decision: the forecast's default target."""
    label = f"target: confluence {DEFAULT_TARGET:g} % (forecast)"
    return {"value": DEFAULT_TARGET, "op": ">=", "samples": "all", "decision": False, "label": label}


def _grid(start: float, end: float, steps: int) -> list[float]:
    if end <= start:
        return [start]
    return [start + (end - start) * k / steps for k in range(steps + 1)]


def _segments(growth: dict) -> list[tuple[float, list[dict]]]:
    """The series cut at each passage: ``(segment start hours, points)`` for the segments with points."""
    bounds = [0.0, *growth["passages_hours"]]
    segments = []
    for index, start in enumerate(bounds):
        end = bounds[index + 1] if index + 1 < len(bounds) else None
        points = [p for p in growth["series"] if p["hours"] >= start and (end is None or p["hours"] < end)]
        if points:
            segments.append((start, points))
    return segments


def _segment_fits(growth: dict, *, every_segment: bool) -> list[dict]:
    """``{"start", "end", "fit"}`` per passage segment with a fit: the latest segment with points (reusing
    ``workflows.growth``'s fit when that segment is the open one), and with ``every_segment`` the earlier ones."""
    segments = _segments(growth)
    last_passage = growth["passages_hours"][-1] if growth["passages_hours"] else None
    chosen = segments if every_segment else segments[-1:]
    fits = []
    for start, points in chosen:
        open_segment = last_passage is None or start >= last_passage
        if open_segment:
            fit = growth["fit"]
        elif len(points) > FIT_MIN_POINTS:
            fitted = growth_fit([p["hours"] for p in points], [p["confluence"] for p in points])
            fit = fitted.as_dict() if fitted is not None else None
        else:
            fit = None
        if fit is not None:
            fits.append({"start": points[0]["hours"], "end": points[-1]["hours"], "fit": fit, "open": open_segment})
    return fits


def _pairs(hours: list[float], values) -> list[list[float]]:
    return np.column_stack([np.round(hours, 3), np.round(values, 3)]).tolist()


def _curve(fit: dict, hours: list[float]) -> list[list[float]]:
    return _pairs(hours, fitted_confluence(fit, hours))


def _forecast_curve(fits: list[dict], growth_forecast: dict, last_hours: float) -> list[list[float]]:
    """The open segment's fit from the last measurement to the forecast crossing (empty: reached, no forecast,
    or passaged since: the culture the forecast was about is gone)."""
    if not fits or not fits[-1]["open"] or growth_forecast["reached"] or growth_forecast["hours"] is None:
        return []
    end = growth_forecast["hours"]
    if end <= last_hours:
        return []
    return _curve(fits[-1]["fit"], _grid(last_hours, end, FORECAST_STEPS))


def _points(series: list[dict]) -> list[dict]:
    return [{"hours": p["hours"], **{m: p[m] for m in METRICS}} for p in series]


def _reached_hours(points: list[dict], threshold: float) -> float | None:
    """The first imaging at or above the threshold (a finished run's, whose open segment is empty)."""
    return next((p["hours"] for p in points if p["confluence"] >= threshold), None)


def _summary(fits: list[dict], forecast: dict, points: list[dict]) -> dict:
    """The latest segment's fit (the one before the final passage of a finished run), the forecast, and when
    the threshold was first measured."""
    fit = fits[-1]["fit"] if fits else None
    reached = forecast["hours"] if forecast.get("reached") else _reached_hours(points, forecast["target"])
    return {
        "reached_hours": reached,
        "doubling_hours": fit["doubling_hours"] if fit else None,
        "doubling_ci": fit["doubling_ci"] if fit else None,
        "lag_hours": fit["lag_hours"] if fit else None,
        "forecast_hours": forecast.get("hours"),
        "forecast_ci": forecast.get("hours_ci"),
        "reached": forecast.get("reached", False),
    }


def sample_growth_charts(sample: Sample, *, limit: int = SAMPLE_RUN_LIMIT) -> list[dict]:
    """One chart per run that measured ``sample`` (the latest ``limit``, newest first): its points, the fitted
    curve of each passage segment, the forecast curve to the run's threshold and the threshold. Queries: two,
    plus three per distinct threshold among those runs (one in practice)."""
    runs = list(
        Workflow.objects.filter(pk__in=sample.cell_analysis_results.values("workflow_id"), started_at__isnull=False)
        .order_by("-started_at", "-pk")
        .only("pk", "name", "status", "started_at")[:limit]
    )
    thresholds = run_thresholds([run.pk for run in runs])
    by_target: dict[float, list[Workflow]] = {}
    for run in runs:
        by_target.setdefault(thresholds[run.pk]["value"], []).append(run)
    growth = {}
    for target, target_runs in by_target.items():
        growth |= runs_growth(target_runs, target=target)
    charts = []
    for run in runs:
        sample_growth = growth.get(run.pk, {}).get(sample.barcode)
        if sample_growth is None or not sample_growth["series"]:
            continue
        fits = _segment_fits(sample_growth, every_segment=True)
        forecast = sample_growth["forecast"]
        last = sample_growth["series"][-1]["hours"]
        charts.append(
            {
                "id": f"growth-run-{run.pk}",
                "run": run.pk,
                "name": run.name,
                "status": run.status,
                "url": reverse("admin:workflows_workflow_change", args=[run.pk]),
                "threshold": thresholds[run.pk],
                "points": _points(sample_growth["series"]),
                "passages": sample_growth["passages_hours"],
                "fits": [_curve(f["fit"], _grid(f["start"], f["end"], CURVE_STEPS)) for f in fits],
                "forecast": _forecast_curve(fits, forecast, last),
                "summary": _summary(fits, forecast, sample_growth["series"]),
                "forecast_at": forecast.get("at"),
            }
        )
    return charts


def _plate_points(samples: list[dict]) -> list[dict]:
    """The mean of the plate's samples at each imaging (its samples are imaged by one action: same hours)."""
    by_hours: dict[float, list[dict]] = {}
    for growth in samples:
        for point in growth["series"]:
            by_hours.setdefault(point["hours"], []).append(point)
    return [
        {"hours": hours, "n": len(points), **{m: round(sum(p[m] for p in points) / len(points), 3) for m in METRICS}}
        for hours, points in sorted(by_hours.items())
    ]


def _mean_curve(fits: list[dict], hours: list[float]) -> list[list[float]]:
    return _pairs(hours, np.mean([fitted_confluence(f, hours) for f in fits], axis=0))


def campaign_growth_charts(campaign: Campaign) -> dict:
    """Per plate (run) of ``campaign``: its samples' mean confluence, viability and count at each imaging, the
    mean of their fitted curves over the latest segment, the forecast to when every sample reaches the
    threshold (``plates_growth``) and the threshold. A fixed number of queries for any number of plates."""
    runs = list(
        campaign.workflows.filter(started_at__isnull=False)
        .prefetch_related("workflow_samples__sample__plate")
        .order_by("pk")
    )
    thresholds = run_thresholds([run.pk for run in runs])
    threshold = thresholds[runs[0].pk] if runs else default_threshold()
    plates = []
    for plate in plates_growth(runs, target=threshold["value"]):
        samples = [g for g in plate["samples"] if g["series"]]
        points = _plate_points(samples)
        segment_fits = [fit for g in samples for fit in _segment_fits(g, every_segment=False)]
        fit_curve, forecast_curve, doubling = [], [], plate["doubling_hours"]
        if segment_fits:
            start = max(f["start"] for f in segment_fits)
            end = max(f["end"] for f in segment_fits)
            fits = [f["fit"] for f in segment_fits]
            if doubling is None:  # after the final passage: the segment before it, as drawn
                doubling = round(sum(f["doubling_hours"] for f in fits) / len(fits), 3)
            fit_curve = _mean_curve(fits, _grid(start, end, CURVE_STEPS))
            forecast_hours = plate["forecast_hours"]
            if (
                all(f["open"] for f in segment_fits)
                and forecast_hours is not None
                and points
                and forecast_hours > points[-1]["hours"]
            ):
                forecast_curve = _mean_curve(fits, _grid(points[-1]["hours"], forecast_hours, FORECAST_STEPS))
        plates.append(
            {
                "plate": plate["plate"] or f"run {plate['workflow']}",
                "run": plate["workflow"],
                "url": reverse("admin:workflows_workflow_change", args=[plate["workflow"]]),
                "status": plate["status"],
                "samples": len(samples),
                "points": points,
                "fit": fit_curve,
                "forecast": forecast_curve,
                "forecast_hours": plate["forecast_hours"],
                "reached": bool(samples) and all(g["forecast"]["reached"] for g in samples),
                "doubling_hours": doubling,
                "passages": samples[0]["passages_hours"] if samples else [],
            }
        )
    return {"threshold": threshold, "plates": plates}
