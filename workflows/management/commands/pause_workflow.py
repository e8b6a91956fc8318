"""``manage.py pause_workflow ID``: pause a workflow through the same service as the API and admin."""

from workflows.management.lifecycle import LifecycleCommand
from workflows.services.execution import workflow_pause


class Command(LifecycleCommand):
    help = "Pause a workflow (pause takes effect at the next action boundary)."
    service = staticmethod(workflow_pause)
