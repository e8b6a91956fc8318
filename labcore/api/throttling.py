"""API rate limits, counted in the default cache (Redis in production) so every web process
shares them. Rates come from settings, read at request time so they can be changed per
environment: ``LABCORE_API_THROTTLE_RATE`` (per user or token) and
``LABCORE_API_ANON_THROTTLE_RATE`` (per client address), e.g. ``"1200/minute"``; empty
disables.
"""

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class LabUserRateThrottle(UserRateThrottle):
    def get_rate(self):
        return settings.LABCORE_API_THROTTLE_RATE or None


class LabAnonRateThrottle(AnonRateThrottle):
    def get_rate(self):
        return settings.LABCORE_API_ANON_THROTTLE_RATE or None
