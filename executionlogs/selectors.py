"""Reads of the execution log and of cell-analysis results, with the joins their callers need."""

from datetime import datetime

from django.db.models import Q, QuerySet

from devices.models import Device
from executionlogs.models import CellAnalysisResult, ExecutionLog, LatencyStat
from labcore.exceptions import NotFound


def execution_log_list() -> QuerySet[ExecutionLog]:
    """Entries in (started_at, id) order; the serializer reads only the user through a join."""
    return ExecutionLog.objects.select_related("user").order_by("started_at", "id")


def execution_logs_in_range(
    queryset: QuerySet[ExecutionLog], *, start: datetime | None = None, end: datetime | None = None
) -> QuerySet[ExecutionLog]:
    """Entries that started in ``[start, end)``: a range on the (started_at, id) index."""
    if start is not None:
        queryset = queryset.filter(started_at__gte=start)
    if end is not None:
        queryset = queryset.filter(started_at__lt=end)
    return queryset


def execution_logs_of_device(device_id: str) -> QuerySet[ExecutionLog]:
    """Entries of one device; NotFound (404) for a device that does not exist."""
    if not Device.objects.filter(pk=device_id).exists():
        raise NotFound(f"No device with id {device_id!r}.")
    return execution_log_list().filter(device_id=device_id)


def cell_analysis_result_list() -> QuerySet[CellAnalysisResult]:
    """Results newest first, with the sample the serializer shows by barcode."""
    return CellAnalysisResult.objects.select_related("sample").order_by("-measured_at", "-id")


def latency_medians_seconds(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], float]:
    """Median successful latency in seconds per (action type name, device id) that has history.

    Read from the statistics kept as entries are appended (executionlogs.latency): one indexed
    query on a table of one row per pair, whatever the size of the log.
    """
    if not pairs:
        return {}
    wanted = Q()
    for action_type, device_id in pairs:
        wanted |= Q(action_type=action_type, device_id=device_id)
    rows = LatencyStat.objects.filter(wanted, count__gt=0).only("device_id", "action_type", "histogram")
    return {(row.action_type, row.device_id): row.median_ms / 1000.0 for row in rows}
