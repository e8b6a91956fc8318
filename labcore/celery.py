"""The Celery application, configured from Django settings (CELERY_ namespace)."""

import os

from celery import Celery
from celery.signals import task_postrun, worker_init, worker_process_init
from django.conf import settings
from django.db import close_old_connections, connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labcore.settings.dev")

app = Celery("labcore")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect(dispatch_uid="labcore.worker_db_connections_main")
@worker_process_init.connect(dispatch_uid="labcore.worker_db_connections")
def keep_worker_db_connections(**kwargs):
    """Let each process that runs tasks reuse its database connection across tasks (web requests do not).

    The executor runs one short task per action, so reconnecting would dominate its cost.
    ``worker_process_init`` covers prefork children; ``worker_init`` the worker's main process,
    which runs the tasks itself with ``--pool=solo`` or ``threads`` (prefork children inherit it).
    """
    for connection in connections.all():
        connection.settings_dict["CONN_MAX_AGE"] = settings.LABCORE_WORKER_DB_CONN_MAX_AGE


@task_postrun.connect(dispatch_uid="labcore.worker_close_old_connections")
def close_broken_or_old_connections(**kwargs):
    """After each task, drop a connection that broke (database restart) or outlived its age."""
    close_old_connections()
