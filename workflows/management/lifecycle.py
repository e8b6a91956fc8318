"""The shared shape of the ``pause_workflow``, ``resume_workflow`` and ``cancel_workflow`` commands,
and the ``--user`` lookup every workflow command uses."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from labcore.exceptions import ApplicationError
from workflows.models import Workflow


def command_user(username: str):
    """The user named by a command's ``--user`` (None when not given); an unknown name is a CommandError."""
    if not username:
        return None
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"no user {username!r}")
    return user


class LifecycleCommand(BaseCommand):
    service = None  # a workflows.services.execution function taking workflow= and user=

    def add_arguments(self, parser):
        parser.add_argument("workflow", type=int, help="workflow id")
        parser.add_argument("--user", default="", help="username recorded as the one who did it")

    def handle(self, *args, **options):
        workflow = Workflow.objects.filter(pk=options["workflow"]).first()
        if workflow is None:
            raise CommandError(f"no workflow {options['workflow']}")
        user = command_user(options["user"])
        try:
            workflow = self.service(workflow=workflow, user=user)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        reason = f" ({workflow.status_reason})" if workflow.status_reason else ""
        self.stdout.write(f"workflow {workflow.pk}: {workflow.status}{reason}")
