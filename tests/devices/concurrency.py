"""Run callables at the same moment on real threads, each thread with its own database connection."""

import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connection


class Contenders:
    """A pool of threads that start a round of calls together (a barrier) and return the results.

    The threads live across rounds so that a repeated case pays for thread start-up and database
    connections once; ``close()`` has every thread close its own connection.
    """

    def __init__(self, size: int, *, timeout: float = 60):
        self.size, self.timeout = size, timeout
        self.pool = ThreadPoolExecutor(max_workers=size)

    def run(self, callables: list) -> list:
        """Results (or raised exceptions) of ``callables``, all started at once, in order."""
        assert 0 < len(callables) <= self.size
        barrier = threading.Barrier(len(callables))

        def run(callable_):
            try:
                barrier.wait(self.timeout)
                return callable_()
            except Exception as exc:  # noqa: BLE001 - the test inspects it
                return exc

        return list(self.pool.map(run, callables, timeout=self.timeout))

    def close(self) -> None:
        # One task per thread (the barrier keeps any thread from taking two), each closing its own;
        # a lambda, because ``connection.close`` evaluated here would be the main thread's.
        self.run([lambda: connection.close()] * self.size)
        self.pool.shutdown()
