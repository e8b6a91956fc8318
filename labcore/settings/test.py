"""Test settings: PostgreSQL on 127.0.0.1 if it answers, else the embedded one.

With CI=true a missing PostgreSQL or Redis raises at import: a failure, never a skip.
"""

import os

os.environ.setdefault("LABCORE_DATABASE_FALLBACK", "local-then-embedded")

from labcore.settings.base import *  # noqa: E402,F403

# Several test runs may share one PostgreSQL server (developers' parallel sessions); a suffix
# keeps their test databases apart.
DATABASES["default"]["TEST"] = {  # noqa: F405
    "NAME": "test_labcore"
    + (f"_{os.environ['LABCORE_TEST_DB_SUFFIX']}" if os.environ.get("LABCORE_TEST_DB_SUFFIX") else "")
}
# Each test session gets a Redis database of its own (1-15, by process id), so that the
# worker tests of parallel sessions never take each other's tasks and ``broker_purge`` only
# empties this session's database, never db 0 that ``make run`` uses. An explicit
# CELERY_BROKER_URL is left alone.
if not os.environ.get("CELERY_BROKER_URL") and CELERY_BROKER_URL == LOCAL_REDIS_URL:  # noqa: F405
    CELERY_BROKER_URL = LOCAL_REDIS_URL.rsplit("/", 1)[0] + f"/{os.getpid() % 15 + 1}"  # noqa: F405
    CACHES["default"]["LOCATION"] = CELERY_BROKER_URL  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LABCORE_MOCK_HARDWARE = True
LABCORE_MOCK_LATENCY_SCALE = env_float("LABCORE_MOCK_LATENCY_SCALE", 0.0)  # noqa: F405
# The suite makes thousands of requests; the throttling test turns limits on for itself.
LABCORE_API_THROTTLE_RATE = ""
LABCORE_API_ANON_THROTTLE_RATE = ""
# Django runs tests with DEBUG off; the seed_logs tests need it (one test turns it off again).
LABCORE_ALLOW_SEED = True
