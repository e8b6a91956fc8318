"""Production: secrets and hosts must come from the environment; HTTPS everywhere."""

import os

os.environ.setdefault("LABCORE_DATABASE_FALLBACK", "none")

from labcore.settings.base import *  # noqa: E402,F403

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)  # noqa: F405
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", 31536000))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# WhiteNoise serves the collected static files right after the security middleware.
MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")  # noqa: F405
STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}  # noqa: F405
LABCORE_MOCK_HARDWARE = env_bool("LABCORE_MOCK_HARDWARE", False)  # noqa: F405
# Web processes keep their database connection this long (seconds) instead of opening one per
# request: a new PostgreSQL connection (a backend process, then its cold catalog caches) cost
# more than a small request's whole SQL (bench/README.md, "Load"). A connection broken by a
# database restart is noticed before it is used (health check) and replaced, never a 500.
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("LABCORE_DB_CONN_MAX_AGE", 60))  # noqa: F405
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405

# Synthetic measurement data (seed_logs) never goes into a production database.
LABCORE_ALLOW_SEED = False
