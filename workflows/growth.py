"""Growth of samples in their runs: series over time in culture, fit, forecast (reads only).

Time in culture is simulated hours since the run started: real seconds / ``LABCORE_TIME_SCALE``
(``units.time_scale``, 1 with real instruments) / 3600, the same clock the mock's growth model
uses (docs/closed-loop.md). A passage (a succeeded step the growth model counts as one,
``biology.culture_event_kind``) starts a new segment: the fit and the forecast use the points
after the run's last passage. The arithmetic is ``executionlogs.growth``.
"""

from datetime import timedelta

from devices.adapters.biology import PASSAGE, culture_event_kind
from executionlogs.growth import growth_fit, growth_forecast
from executionlogs.models import CellAnalysisResult
from workflows.choices import RunStepStatus
from workflows.models import RunStep, Workflow, WorkflowSample
from workflows.selectors import workflow_plate_barcode
from workflows.services.units import time_scale

DEFAULT_TARGET = 80.0


def _hours(run: Workflow, at) -> float:
    return max(0.0, (at - run.started_at).total_seconds() / time_scale() / 3600.0)


def _at(run: Workflow, hours: float | None):
    if hours is None or run.started_at is None:
        return None
    return run.started_at + timedelta(seconds=hours * 3600.0 * time_scale())


def _passages(workflow_ids) -> dict[int, list]:
    """Finish times of each run's passages (succeeded steps the growth model counts as one)."""
    rows = (
        RunStep.objects.filter(workflow_id__in=workflow_ids, status=RunStepStatus.SUCCEEDED, finished_at__isnull=False)
        .filter(parameters__has_key="reagent")
        .order_by("finished_at", "pk")
        .values_list("workflow_id", "parameters", "finished_at")
    )
    passages: dict[int, list] = {}
    for workflow_id, parameters, finished_at in rows:
        if culture_event_kind(parameters) == PASSAGE:
            passages.setdefault(workflow_id, []).append(finished_at)
    return passages


def runs_growth(runs: list[Workflow], *, target: float = DEFAULT_TARGET) -> dict[int, dict[str, dict]]:
    """Per run, per sample barcode (in well order): its growth in that run. Three queries for any number of runs."""
    runs = [run for run in runs if run.started_at is not None]
    ids = [run.pk for run in runs]
    by_id = {run.pk: run for run in runs}
    passages = _passages(ids)
    growth: dict[int, dict[str, dict]] = {run.pk: {} for run in runs}
    series: dict[tuple[int, str], list] = {}
    for workflow_id, barcode in (
        WorkflowSample.objects.filter(workflow_id__in=ids).order_by("workflow_id", "position")
    ).values_list("workflow_id", "sample__barcode"):
        series[(workflow_id, barcode)] = []
    results = (
        CellAnalysisResult.objects.filter(workflow_id__in=ids)
        .order_by("measured_at", "id")
        .values_list("id", "workflow_id", "sample__barcode", "measured_at", "cell_count", "confluence", "viability")
    )
    for result_id, workflow_id, barcode, measured_at, cell_count, confluence, viability in results:
        series.setdefault((workflow_id, barcode), []).append(
            {
                "result": result_id,
                "measured_at": measured_at,
                "hours": round(_hours(by_id[workflow_id], measured_at), 3),
                "cell_count": cell_count,
                "confluence": confluence,
                "viability": viability,
            }
        )
    for (workflow_id, barcode), points in series.items():
        run = by_id[workflow_id]
        passage_hours = [round(_hours(run, at), 3) for at in passages.get(workflow_id, [])]
        last = passage_hours[-1] if passage_hours else None
        segment = [p for p in points if last is None or p["hours"] >= last]
        hours = [p["hours"] for p in segment]
        values = [p["confluence"] for p in segment]
        fit = growth_fit(hours, values)
        forecast = growth_forecast(hours, values, fit, target=target)
        forecast["at"] = _at(run, forecast["hours"])
        growth[workflow_id][barcode] = {
            "sample": barcode,
            "workflow": workflow_id,
            "started_at": run.started_at,
            "passages_hours": passage_hours,
            "series": points,
            "fit": fit.as_dict() if fit is not None else None,
            "forecast": forecast,
        }
    return growth


def run_forecast_hours(samples: dict[str, dict], *, quantifier: str = "all") -> float | None:
    """When a run's samples reach the target: the last of them ("all") or the first ("any"); None
    when a sample needed for the answer has no forecast."""
    hours = [growth["forecast"]["hours"] for growth in samples.values()]
    if not hours:
        return None
    if quantifier == "any":
        known = [h for h in hours if h is not None]
        return min(known) if known else None
    return None if any(h is None for h in hours) else max(hours)


def sample_growth(barcode: str, *, target: float = DEFAULT_TARGET) -> dict | None:
    """The growth of ``barcode`` in its latest started run with a measurement (None: never measured)."""
    run = (
        Workflow.objects.filter(cell_analysis_results__sample__barcode=barcode, started_at__isnull=False)
        .order_by("-started_at", "-pk")
        .first()
    )
    if run is None:
        return None
    return runs_growth([run], target=target)[run.pk].get(barcode)


def plates_growth(runs: list[Workflow], *, target: float = DEFAULT_TARGET) -> list[dict]:
    """Per run (one plate of a campaign): its samples' growth, when the plate reaches ``target``
    and its samples' mean fitted doubling time (the campaign growth API and ``run_campaign``)."""
    growth = runs_growth(runs, target=target)
    plates = []
    for run in runs:
        samples = growth.get(run.pk, {})
        doublings = [g["fit"]["doubling_hours"] for g in samples.values() if g["fit"] is not None]
        plates.append(
            {
                "workflow": run.pk,
                "plate": workflow_plate_barcode(run),
                "status": run.status,
                "forecast_hours": run_forecast_hours(samples) if samples else None,
                "doubling_hours": round(sum(doublings) / len(doublings), 3) if doublings else None,
                "samples": list(samples.values()),
            }
        )
    return plates
