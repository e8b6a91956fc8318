"""``manage.py resolve_workflow ID --step N --decision retry|mark_succeeded|mark_failed``.

Records an operator's decision on a step whose outcome is unknown (the same service as
``POST /api/workflows/{id}/resolve`` and the admin actions); then ``resume_workflow ID``.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from labcore.exceptions import ApplicationError
from workflows.models import Workflow
from workflows.services.recovery import RESOLVE_DECISIONS, workflow_resolve


class Command(BaseCommand):
    help = "Record an operator's decision on a run-step whose outcome is unknown."

    def add_arguments(self, parser):
        parser.add_argument("workflow", type=int, help="workflow id")
        parser.add_argument("--step", type=int, required=True, help="position of the unknown run-step")
        parser.add_argument("--decision", choices=RESOLVE_DECISIONS, required=True)
        parser.add_argument("--user", default="", help="username recorded as the one who decided")

    def handle(self, *args, **options):
        workflow = Workflow.objects.filter(pk=options["workflow"]).first()
        if workflow is None:
            raise CommandError(f"no workflow {options['workflow']}")
        user = get_user_model().objects.filter(username=options["user"]).first() if options["user"] else None
        if options["user"] and user is None:
            raise CommandError(f"no user {options['user']!r}")
        try:
            workflow = workflow_resolve(
                workflow=workflow, step=options["step"], decision=options["decision"], user=user
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"workflow {workflow.pk}: {workflow.status} ({workflow.status_reason})")
