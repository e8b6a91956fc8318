"""``python manage.py verify_report WORKFLOW_ID FILE.json``: re-verify a run report against the database."""

import json

from django.core.management.base import BaseCommand, CommandError

from workflows.models import Workflow
from workflows.report import report_hash, workflow_report


class Command(BaseCommand):
    help = (
        "Check a run report (GET /api/workflows/{id}/report) byte for byte: its own report_hash, then every "
        "section against the report rebuilt from the database. Exits 1 naming what differs."
    )

    def add_arguments(self, parser):
        parser.add_argument("workflow_id", type=int)
        parser.add_argument("file", help="The report's JSON file.")

    def handle(self, *args, workflow_id, file, **options):
        try:
            with open(file, "rb") as report_file:
                saved = json.loads(report_file.read().decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise CommandError(f"{file} is not a JSON report: {exc}") from exc
        if not isinstance(saved, dict) or "report_hash" not in saved:
            raise CommandError(f"{file} is not a JSON report: it has no report_hash")
        if report_hash(saved) != saved["report_hash"]:
            raise CommandError(
                f"{file} does not match its own report_hash {saved['report_hash']}: it was changed after export"
            )
        if not Workflow.objects.filter(pk=workflow_id).exists():
            raise CommandError(f"workflow {workflow_id} does not exist")
        current = workflow_report(workflow_id)
        if current["report_hash"] != saved["report_hash"]:
            differing = sorted(key for key in current.keys() | saved.keys() if current.get(key) != saved.get(key))
            differing = [key for key in differing if key != "report_hash"]
            raise CommandError(
                f"{file} does not match workflow {workflow_id} in the database: {', '.join(differing)} differ "
                f"(file {saved['report_hash']}, database {current['report_hash']})"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"OK: {file} is the current report of workflow {workflow_id} (report hash {current['report_hash']}, "
                f"record hash {current['record_hash']})."
            )
        )
