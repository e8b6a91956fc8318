"""Local development (make run): embedded PostgreSQL unless DATABASE_URL says otherwise."""

import os

os.environ.setdefault("LABCORE_DATABASE_FALLBACK", "embedded")

from labcore.settings.base import *  # noqa: E402,F403

DEBUG = env_bool("DJANGO_DEBUG", True)  # noqa: F405
