"""API rate limits, counted in the default cache (Redis in production) so every web process
shares them. Rates come from settings, read at request time so they can be changed per
environment: ``LABCORE_API_THROTTLE_RATE`` (per user or token) and
``LABCORE_API_ANON_THROTTLE_RATE`` (per client address), e.g. ``"1200/minute"``; empty
disables.

Counting is a fixed window per (scope, client): one counter per window, created with its
expiry only if absent (Redis ``SET NX EX``) and raised with ``INCR``, so concurrent requests in
any number of processes are all counted. DRF's own throttle reads the history, appends and
writes it back, and loses the hits of requests that overlap (issue 15, item 5). The price of a
fixed window is that a client can spend up to two windows' worth across a window boundary.

When the cache cannot be reached the throttle lets the request through and logs a warning (at
most once a minute per process): rate limiting is protection, not correctness, and an outage
of Redis must not take the API's reads down with it (issue 15, item 2).
"""

import logging
import time

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)

# What "the cache is unreachable" looks like: redis-py's errors, and socket errors beneath them.
CACHE_UNREACHABLE = (RedisError, OSError)
WARNING_INTERVAL_SECONDS = 60.0
_last_warning_at = 0.0


def _warn_unreachable(exc: Exception) -> None:
    global _last_warning_at
    now = time.monotonic()
    if now - _last_warning_at >= WARNING_INTERVAL_SECONDS:
        _last_warning_at = now
        logger.warning("API throttling is off: its cache is unreachable (%s: %s)", type(exc).__name__, exc)


class AtomicRateThrottle(SimpleRateThrottle):
    """A fixed-window counter, counted atomically in the cache; fails open when the cache is down."""

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends_at = (window + 1) * self.duration
        try:
            count = self._count_hit(f"{self.key}:{window}")
        except CACHE_UNREACHABLE as exc:
            _warn_unreachable(exc)
            return True
        return count <= self.num_requests

    def _count_hit(self, key: str) -> int:
        # The counter outlives its window by a second so it cannot expire between add and incr
        # within the window; if it has (a clock at the very edge), it is created again.
        while True:
            self.cache.add(key, 0, self.duration + 1)
            try:
                return self.cache.incr(key)
            except ValueError:
                continue

    def wait(self):
        """Seconds until the window ends (the client's counter starts again then)."""
        return max(self.window_ends_at - self.now, 1.0)


class LabUserRateThrottle(AtomicRateThrottle, UserRateThrottle):
    def get_rate(self):
        return settings.LABCORE_API_THROTTLE_RATE or None


class LabAnonRateThrottle(AtomicRateThrottle, AnonRateThrottle):
    def get_rate(self):
        return settings.LABCORE_API_ANON_THROTTLE_RATE or None
