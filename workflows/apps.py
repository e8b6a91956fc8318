from django.apps import AppConfig

from devices.workflow_rules import workflow_rules_register
from labcore.health import health_check_register
from workflows.choices import FINISHED_WORKFLOW_STATUSES


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Protocols and workflows"

    def ready(self):
        # Imported here, not at the top: both import models, which exist only once the app
        # registry has created every AppConfig (Django's rule, not an import cycle).
        from executionlogs.verification import coverage_check_register
        from workflows import signals  # noqa: F401 - connects the executor's receivers
        from workflows.remaining_work import remaining_work_seconds
        from workflows.schedule import planned_wait_seconds
        from workflows.selectors import run_step_log_coverage_problems
        from workflows.services.heartbeat import worker_heartbeat_check

        # devices sits below workflows and cannot import it: hand it what it needs to know.
        workflow_rules_register(
            finished_statuses=FINISHED_WORKFLOW_STATUSES,
            remaining_work_seconds=remaining_work_seconds,
            planned_wait_seconds=planned_wait_seconds,
        )
        # executionlogs sits below workflows: verify_logs learns of run-steps through this hook.
        coverage_check_register(run_step_log_coverage_problems)
        # labcore sits below every app: the executor tells /health how to see its workers.
        health_check_register("worker", worker_heartbeat_check)
