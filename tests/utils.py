"""Helpers for tests: query counting."""

from django.db import connection
from django.test.utils import CaptureQueriesContext


def queries_for(callable_) -> int:
    """How many SQL queries ``callable_()`` runs, after one warm-up call.

    The warm-up absorbs once-only work (such as a token's last-use stamp) so that two
    measurements differ only by what depends on the data.
    """
    callable_()
    with CaptureQueriesContext(connection) as context:
        callable_()
    return len(context.captured_queries)


def test_database_url() -> str:
    """A URL for the database this test run uses, so a child process sees the same data."""
    params = connection.get_connection_params()
    host = params.get("host") or "127.0.0.1"
    query = f"?host={host}" if host.startswith("/") else ""
    netloc = "" if query else f"{host}:{params.get('port') or 5432}"
    return f"postgres://{params.get('user') or 'postgres'}@{netloc}/{params['dbname']}{query}"


test_database_url.__test__ = False  # a helper, not a test, despite its name
