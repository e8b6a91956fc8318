"""Cell-analysis results from a vision response: one CellAnalysisResult per sample, linked to its log entry.

A vision device answers with per-sample measurements. Accepted shapes (the mock and the http
contract use the first; docs/executor.md):

- ``{"samples": [{"barcode": "SAMPLE001", "cell_count": 51200, "confluence": 63.5, "viability": 94.1}, ...]}``
  (``results`` is accepted for ``samples``, ``sample`` for ``barcode``);
- ``{"samples": {"SAMPLE001": {"cell_count": ..., "confluence": ..., "viability": ...}, ...}}``.

Any other response (every non-vision action) yields nothing. Barcodes that name no sample of
the workflow are skipped and logged: a device cannot attach results to somebody else's sample.
"""

import logging

from django.db import transaction

from executionlogs.models import CellAnalysisResult
from samples.models import Sample

logger = logging.getLogger(__name__)

METRICS = ("cell_count", "confluence", "viability")


def cell_analysis_measurements(response) -> list[dict]:
    """``[{"barcode", "cell_count", "confluence", "viability"}]`` found in a device response."""
    if not isinstance(response, dict):
        return []
    entries = response.get("samples", response.get("results"))
    if isinstance(entries, dict):
        entries = [{"barcode": barcode, **(values or {})} for barcode, values in entries.items()]
    if not isinstance(entries, list):
        return []
    measurements = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        barcode = entry.get("barcode", entry.get("sample"))
        if not isinstance(barcode, str) or not all(isinstance(entry.get(m), int | float) for m in METRICS):
            continue
        measurements.append(
            {
                "barcode": barcode,
                "cell_count": max(0, int(entry["cell_count"])),
                "confluence": min(100.0, max(0.0, float(entry["confluence"]))),
                "viability": min(100.0, max(0.0, float(entry["viability"]))),
            }
        )
    return measurements


def cell_analysis_results_create(*, execution_log, workflow, response) -> list[CellAnalysisResult]:
    """Store the per-sample measurements of ``response``, each linked to ``execution_log``."""
    measurements = cell_analysis_measurements(response)
    if not measurements:
        return []  # most actions: no transaction, no query
    with transaction.atomic():
        return _results_write(measurements, execution_log=execution_log, workflow=workflow)


def _results_write(measurements, *, execution_log, workflow) -> list[CellAnalysisResult]:
    samples = Sample.objects.filter(barcode__in=[m["barcode"] for m in measurements])
    if workflow is not None:
        samples = samples.filter(workflows=workflow)
    by_barcode = {sample.barcode: sample for sample in samples}
    results = []
    for measurement in measurements:
        sample = by_barcode.get(measurement["barcode"])
        if sample is None:
            logger.warning(
                "log %s: cell analysis for unknown sample %r skipped", execution_log.pk, measurement["barcode"]
            )
            continue
        results.append(
            CellAnalysisResult(
                sample=sample,
                workflow=workflow,
                execution_log=execution_log,
                cell_count=measurement["cell_count"],
                confluence=measurement["confluence"],
                viability=measurement["viability"],
                measured_at=execution_log.finished_at or execution_log.started_at,
            )
        )
    return CellAnalysisResult.objects.bulk_create(results)
