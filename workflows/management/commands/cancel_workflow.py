"""``manage.py cancel_workflow ID``: cancel a workflow through the same service as the API and admin."""

from workflows.management.lifecycle import LifecycleCommand
from workflows.services.execution import workflow_cancel


class Command(LifecycleCommand):
    help = "Cancel a workflow (cancel takes effect at the next action boundary)."
    service = staticmethod(workflow_cancel)
