"""Closed-loop benchmark: the loop protocol on 12 plates with real workers, and the forecast's error.

Usage (PostgreSQL and Redis on 127.0.0.1; a scratch database is created anew and seeded):

    .venv/bin/python bench/closed_loop.py                     # 12 plates, time scale 0.0001
    .venv/bin/python bench/closed_loop.py --plates 4 --time-scale 0.00003 --images 6

The campaign runs "MSC expansion to 80% confluence" (seed_demo: image + analyse every 12 h
until confluence >= 80 on all samples, 20 times at most, then passage). Afterwards, per plate:

- the actual time to 80 %: the simulated hours of the imaging whose results made the ``until``
  decision hold (the last sample's result of that imaging), checked against the decision log;
- the forecast: each sample's series cut after its first ``--images`` images (the results a
  scheduler had at that point), fitted and forecast by ``executionlogs.growth``; the plate's
  forecast is its last sample's (the condition's ``all``), as ``workflows.growth`` does;
- the doubling time: the mean of its samples' doubling times fitted on their whole series.

The forecast error is forecast minus actual in simulated hours. The actual time is measured
only every 12 h (an imaging), so it is late by 0-12 h against the true crossing by design.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/labcore_bench_closed_loop")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/12")

from bench.campaign import lab_fresh  # noqa: E402 - sets the mock-hardware environment too
from bench.executor import worker_start, worker_stop  # noqa: E402

PROTOCOL = "MSC expansion to 80% confluence"
TARGET = 80.0


def campaign_run(plates: int, timeout: float):
    from samples.models import Plate
    from workflows.choices import FINISHED_WORKFLOW_STATUSES
    from workflows.models import Protocol
    from workflows.services.campaigns import campaign_create

    protocol = Protocol.objects.filter(name=PROTOCOL, status="published").latest("version_major", "version_minor")
    chosen = list(Plate.objects.filter(barcode__startswith="PLATE-").order_by("barcode")[:plates])
    if len(chosen) < plates:
        raise SystemExit(f"only {len(chosen)} plates in the demo lab")
    began = time.monotonic()
    campaign = campaign_create(name="closed loop", protocol=protocol, plates=chosen, priority=1, user=None)
    while time.monotonic() - began < timeout:
        if not campaign.workflows.exclude(status__in=FINISHED_WORKFLOW_STATUSES).exists():
            return campaign, round(time.monotonic() - began, 1)
        time.sleep(1)
    raise SystemExit(f"campaign not finished after {timeout} s")


def plate_figures(run, samples: dict[str, dict], images: int) -> dict:
    """Actual and forecast hours to the target, and the doubling time, for one plate's run."""
    from executionlogs.growth import growth_fit, growth_forecast
    from executionlogs.models import ExecutionLog
    from workflows.growth import run_forecast_hours

    decisions = list(
        ExecutionLog.objects.filter(workflow=run, action_type="decision", request__condition="until").order_by("pk")
    )
    held = decisions[-1] if decisions else None
    assert held is not None and held.response["outcome"], f"{run.name}: the loop did not stop on a decision"

    def imaged_at(decision) -> float:
        read = set(decision.response["result_ids"])
        return max(p["hours"] for s in samples.values() for p in s["series"] if p["result"] in read)

    actual = imaged_at(held)
    previous = imaged_at(decisions[-2]) if len(decisions) > 1 else 0.0
    forecasts, doublings = {}, []
    for barcode, growth in samples.items():
        points = growth["series"]
        early = points[:images]
        hours, values = [p["hours"] for p in early], [p["confluence"] for p in early]
        fit = growth_fit(hours, values)
        forecasts[barcode] = {"forecast": growth_forecast(hours, values, fit, target=TARGET)}
        whole = growth_fit([p["hours"] for p in points], [p["confluence"] for p in points])
        if whole is not None:
            doublings.append(whole.doubling_hours)
    forecast = run_forecast_hours(forecasts, quantifier="all")
    return {
        "plate": run.name.rsplit(" / ", 1)[-1],
        "samples": len(samples),
        "images": held.request["iteration"],
        "doubling_h": round(statistics.mean(doublings), 1) if doublings else None,
        "actual_h": round(actual, 1),
        "previous_h": round(previous, 1),
        "forecast_h": round(forecast, 1) if forecast is not None else None,
        # The crossing happened between the previous imaging and this one: a forecast in there
        # predicts the right imaging (the one the scheduler plans the passage after).
        "right_imaging": forecast is not None and previous < forecast <= actual,
        "error_h": round(forecast - actual, 1) if forecast is not None else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plates", type=int, default=12)
    parser.add_argument("--time-scale", type=float, default=0.0001)
    parser.add_argument(
        "--images",
        type=int,
        nargs="+",
        default=[8, 6, 10],
        help="images per sample the forecast is computed from (the table uses the first; a summary line for each)",
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes (concurrency)")
    parser.add_argument("--timeout", type=float, default=1200)
    args = parser.parse_args()
    os.environ["LABCORE_TIME_SCALE"] = str(args.time_scale)  # the workers and this process alike

    lab_fresh()
    worker = worker_start(concurrency=args.workers, beat=True)
    try:
        campaign, wall = campaign_run(args.plates, args.timeout)
    finally:
        worker_stop(worker)
    from workflows.growth import runs_growth

    runs = list(campaign.workflows.order_by("pk"))
    statuses = sorted({run.status for run in runs})
    growth = runs_growth(runs, target=TARGET)
    print(f"closed loop: {args.plates} plates, time scale {args.time_scale}, wall {wall} s, runs {statuses}")
    for n, images in enumerate(args.images):
        rows = [plate_figures(run, growth[run.pk], images) for run in runs]
        if n == 0:
            print(f"forecast from each sample's first {images} images; hours are simulated")
            header = ("plate", "samples", "images", "doubling h", "previous h", "actual h", "forecast h", "error h")
            print("{:10} {:>7} {:>6} {:>10} {:>10} {:>8} {:>10} {:>7}".format(*header))
            for row in rows:
                print(
                    f"{row['plate']:10} {row['samples']:>7} {row['images']:>6} {row['doubling_h']!s:>10} "
                    f"{row['previous_h']:>10} {row['actual_h']:>8} {row['forecast_h']!s:>10} {row['error_h']!s:>7}"
                )
        errors = [abs(row["error_h"]) for row in rows if row["error_h"] is not None]
        missing = sum(row["error_h"] is None for row in rows)
        if errors:
            signed = statistics.mean(row["error_h"] for row in rows if row["error_h"] is not None)
            print(
                f"forecast from {images} images, absolute error (h): mean {statistics.mean(errors):.1f}, "
                f"median {statistics.median(errors):.1f}, max {max(errors):.1f}; signed mean {signed:.1f}; "
                f"forecast in (previous imaging, actual]: {sum(r['right_imaging'] for r in rows)} of {len(rows)}; "
                f"plates without a forecast: {missing}",
                flush=True,
            )


if __name__ == "__main__":
    main()
