"""Fixtures for the execution-log tests: entries are always written through the service."""

from datetime import timedelta

import pytest
from django.utils import timezone

from executionlogs.services import execution_log_create
from tests.factories import DeviceFactory


def append_log(device, *, started_at=None, **overrides):
    """Append one entry through the service (the chain's only door)."""
    values = {
        "action_type": "robot.aspirate",
        "request": {"volume_ul": 50},
        "response": {"ok": True},
        "status": "success",
        "latency_ms": 120.0,
    }
    values.update(overrides)
    return execution_log_create(device=device, started_at=started_at, **values)


def append_logs(device, count, *, start=None, step=timedelta(seconds=1), **overrides):
    start = start or timezone.now() - timedelta(days=1)
    return [append_log(device, started_at=start + index * step, **overrides) for index in range(count)]


@pytest.fixture
def device(db):
    return DeviceFactory(id="liquid-handler-9")
