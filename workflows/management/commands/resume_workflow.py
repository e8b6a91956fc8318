"""``manage.py resume_workflow ID``: resume a workflow through the same service as the API and admin."""

from workflows.management.lifecycle import LifecycleCommand
from workflows.services.execution import workflow_resume


class Command(LifecycleCommand):
    help = "Resume a workflow (resume takes effect at the next action boundary)."
    service = staticmethod(workflow_resume)
