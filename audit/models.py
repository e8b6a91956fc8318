"""Trigger-based history of every edit to lab definitions and inventory.

django-pghistory installs PostgreSQL triggers on the tracked tables, so inserts, updates and
deletes are recorded whatever made them: the API, the admin, a bulk ``QuerySet.update()`` or
raw SQL. Each event row is a snapshot of the object; consecutive snapshots give the before and
after values, and the request context gives who and where. The event models live in this app
(``app_label="audit"``) so the domain apps carry no history tables or migrations of their own.
"""

import pghistory

from devices.models import ActionType, Device
from samples.models import Plate, Sample
from workflows.models import Action, Project, Protocol, Step

TRACKED_MODELS = [Project, Protocol, Step, Action, ActionType, Device, Plate, Sample]

for tracked in TRACKED_MODELS:
    pghistory.track(
        pghistory.InsertEvent(),
        pghistory.UpdateEvent(),
        pghistory.DeleteEvent(),
        app_label="audit",
        model_name=f"{tracked.__name__}Event",
    )(tracked)
