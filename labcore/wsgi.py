"""WSGI entry point (gunicorn labcore.wsgi)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labcore.settings.dev")
application = get_wsgi_application()

# What Django and the apps built at start-up lives as long as the process: move it out of the
# cyclic collector's reach, so the full collections that pages building thousands of model
# instances trigger walk only what requests made (bench/README.md, "Admin pages at scale").
gc.freeze()
