"""``manage.py check --deploy`` with production settings reports nothing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.utils import test_database_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_check_deploy_with_production_settings_is_clean():
    env = {
        "DATABASE_URL": test_database_url(),
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "labcore.settings.production",
        "DJANGO_SECRET_KEY": "x7#kP2mQ9$vL4nR8@wT1zY6&bH3cF5jD0gS_aE-uI+oN=rM!qW",
        "DJANGO_ALLOWED_HOSTS": "labcore.example.org",
    }
    completed = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "no issues" in completed.stdout
