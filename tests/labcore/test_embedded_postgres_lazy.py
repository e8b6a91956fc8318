"""Without DATABASE_URL the embedded PostgreSQL starts only when a connection is needed, and
commands print none of its chatter (issue 15, item 12).

Each test gives the embedded server a data folder of its own (LABCORE_EMBEDDED_POSTGRES_DIR in
a temp dir) and stops whatever server it started there.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHATTER = ("XDG_RUNTIME_DIR", "embedded_postgres", "exiting")


@pytest.fixture
def embedded_dir(tmp_path):
    folder = tmp_path / "postgres"
    yield folder
    if (folder / "postmaster.pid").exists():  # this test's own server: stop it
        stop = (
            "from embedded_postgres._commands import pg_ctl; from pathlib import Path; import os, sys; "
            "pg_ctl(['-w', 'stop', '-m', 'fast'], pgdata=Path(sys.argv[1]), "
            "user='embedded_postgres' if os.geteuid() == 0 else None)"
        )
        subprocess.run([sys.executable, "-c", stop, str(folder)], capture_output=True, timeout=60)


def manage(embedded_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="labcore.settings.dev",
        LABCORE_DATABASE_FALLBACK="embedded",
        LABCORE_EMBEDDED_POSTGRES_DIR=str(embedded_dir),
        CELERY_BROKER_URL="memory://",
    )
    env.pop("CI", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def test_manage_py_help_starts_no_database_and_prints_no_server_chatter(embedded_dir):
    completed = manage(embedded_dir, "--help")
    assert completed.returncode == 0, completed.stderr
    assert not (embedded_dir / "PG_VERSION").exists(), "--help initialised the embedded PostgreSQL"
    assert not any(word in completed.stdout + completed.stderr for word in CHATTER), completed.stderr


def test_a_command_that_needs_the_database_starts_it_on_first_connection(embedded_dir):
    query = "from django.db import connection; print(connection.cursor().execute('SELECT 41 + 1').fetchone()[0])"
    completed = manage(embedded_dir, "shell", "-c", query)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().splitlines()[-1] == "42"
    assert (embedded_dir / "postmaster.pid").exists()
    assert not any(word in completed.stderr for word in CHATTER), completed.stderr
