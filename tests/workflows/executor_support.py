"""Helpers for the executor tests: building runnable workflows, and real Celery worker processes.

A worker is started as ``celery -A labcore worker`` in its own process group, against this
test run's database (DATABASE_URL of the test database) and broker (CELERY_BROKER_URL, a Redis
database of its own per session); it is killed at teardown. Only the hardware is simulated
(the mock adapter, through settings).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings

from devices.choices import DeviceKind
from tests.factories import ActionTypeFactory, DeviceFactory, SampleFactory, UserFactory
from tests.utils import test_database_url
from workflows.choices import WorkflowMode
from workflows.models import RunStep, Workflow, WorkflowSample
from workflows.services.execution import workflow_action_run

ROOT = Path(__file__).resolve().parents[2]


def action_type_make(name: str, **fields):
    """An action type on liquid handlers answering ``{"ok": true}`` (latency in seconds, unscaled)."""
    fields.setdefault("device_kind", DeviceKind.LIQUID_HANDLER)
    fields.setdefault("mock_response", {"ok": True, "volume_ul": "{volume_ul}"})
    fields.setdefault("mock_latency_seconds", 0)
    fields.setdefault("mock_latency_jitter", 0)
    fields.setdefault("timeout_seconds", 30)
    fields.setdefault("max_retries", 2)
    return ActionTypeFactory(name=name, **fields)


def workflow_make(steps, *, samples: int = 1, mode: str = WorkflowMode.AUTO, name: str = "run", **fields) -> Workflow:
    """A created workflow whose plan is ``steps``: a list of (action type, device[, parameters])."""
    workflow = Workflow.objects.create(name=name, mode=mode, **fields)
    for position, spec in enumerate(steps, start=1):
        action_type, device = spec[0], spec[1]
        parameters = spec[2] if len(spec) > 2 else {"volume_ul": 10 * position}
        RunStep.objects.create(
            workflow=workflow,
            position=position,
            step_name=f"step {position}",
            action_type=action_type,
            device=device,
            parameters=parameters,
        )
    for position in range(1, samples + 1):
        WorkflowSample.objects.create(workflow=workflow, sample=SampleFactory(), position=position)
    return workflow


def run_until_idle(workflow, limit: int = 50) -> int:
    """Run actions in this process (as the Celery task would) until nothing is left to dispatch."""
    ran = 0
    while workflow_action_run(workflow_id=workflow.pk) is not None:
        ran += 1
        assert ran < limit, "the run did not settle"
    return ran


def device_make(device_id: str, **fields):
    fields.setdefault("kind", DeviceKind.LIQUID_HANDLER)
    return DeviceFactory(id=device_id, **fields)


def operator_make():
    return UserFactory(username="operator-1")


def wait_for(predicate, *, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def broker_purge() -> None:
    """Empty this session's broker: queued, unacked and scheduled messages alike."""
    if settings.CELERY_BROKER_URL.startswith("redis"):
        redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    else:  # the embedded filesystem transport (no Redis on this machine)
        from labcore.celery import app

        app.control.purge()


class CeleryWorker:
    """A real ``celery worker`` process (optionally with embedded beat) on the test database."""

    def __init__(
        self,
        *,
        name: str = "w1",
        concurrency: int = 1,
        beat: bool = False,
        env: dict | None = None,
        settings_module: str = "labcore.settings.test",
    ):
        self.name, self.concurrency, self.beat = name, concurrency, beat
        self.settings_module = settings_module
        self.extra_env = env or {}
        self.process: subprocess.Popen | None = None
        self.folder = tempfile.mkdtemp(prefix=f"labcore-worker-{name}-")
        self.log_path = Path(self.folder) / "worker.log"

    def environment(self) -> dict:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE=self.settings_module,
            DATABASE_URL=test_database_url(),
            CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
            LABCORE_MOCK_HARDWARE="1",
            LABCORE_MOCK_LATENCY_SCALE="1",
            LABCORE_EXECUTOR_STALE_MARGIN_SECONDS="1",
            LABCORE_EXECUTOR_RECOVERY_INTERVAL_SECONDS="2",
            LABCORE_EXECUTOR_RETRY_BACKOFF_SECONDS="0.1",
            LABCORE_LOG_LEVEL="INFO",
        )
        env.update(self.extra_env)
        return env

    def start(self, *, ready_timeout: float = 40) -> CeleryWorker:
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "labcore",
            "worker",
            "--loglevel=INFO",
            f"--concurrency={self.concurrency}",
            "--pool=prefork",
            f"--hostname={self.name}@%h",
            "--without-gossip",
            "--without-mingle",
        ]
        if self.beat:
            command += ["--beat", f"--schedule={self.folder}/beat-schedule"]
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.environment(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        wait_for(self.ready, timeout=ready_timeout, interval=0.1, what=f"worker {self.name} to be ready")
        return self

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"worker {self.name} exited:\n{self.log()}")
        return " ready." in self.log()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children): a crash, no cleanup."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if not self.process or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture(name="workers")
def workers_fixture():
    """Start real workers with ``workers(name=..., concurrency=..., beat=..., env=...)``; all killed after."""
    broker_purge()
    started = []

    def start(**options) -> CeleryWorker:
        worker = CeleryWorker(**options).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()
    broker_purge()


def status_of(workflow) -> str:
    return Workflow.objects.values_list("status", flat=True).get(pk=workflow.pk)


def wait_status(workflow, *statuses, timeout: float = 30, worker=None):
    try:
        return wait_for(lambda: status_of(workflow) in statuses, timeout=timeout, what=f"workflow {statuses}")
    except AssertionError:
        if worker is not None:
            print(worker.log()[-6000:])
        raise
