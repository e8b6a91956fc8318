"""docker/compose.yml runs every role from one image, reading the same environment.

There is no Docker engine on CI machines, so the file is checked structurally here, and with
`docker compose config` (or `docker-compose config`) wherever a compose client is installed.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker" / "compose.yml"


def test_compose_defines_database_broker_web_worker_and_beat():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    assert "gunicorn" in (Path(COMPOSE.parent / "Dockerfile").read_text())
    assert services["worker"]["command"][:4] == ["celery", "-A", "labcore", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "labcore", "beat"]


def test_web_worker_and_beat_share_one_environment():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    environments = [services[name]["environment"] for name in ("web", "worker", "beat")]
    assert environments[0] == environments[1] == environments[2]
    for variable in ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SECRET_KEY", "LABCORE_MOCK_HARDWARE"):
        assert variable in environments[0]


def _compose_command() -> list[str] | None:
    """``docker compose`` (v2 plugin) or ``docker-compose`` (v1), whichever this machine has."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_compose_file_passes_docker_compose_config():
    command = _compose_command()
    if command is None:
        pytest.skip("no docker compose client on this machine; the structural tests above still ran")
    completed = subprocess.run(
        [*command, "-f", str(COMPOSE), "config", "--quiet"],
        env={**os.environ, "DJANGO_SECRET_KEY": "compose-config-check"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
