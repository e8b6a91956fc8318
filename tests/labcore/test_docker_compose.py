"""docker/compose.yml runs every role from one image, reading the same environment.

There is no Docker engine on CI machines, so the file is checked structurally here;
`docker compose -f docker/compose.yml config` checks it where Docker is installed.
"""

from pathlib import Path

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
