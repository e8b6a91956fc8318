"""Create a protocol from a JSON document: ``manage.py import_protocol FILE``."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from labcore.exceptions import ApplicationError
from workflows.services.protocol_io import protocol_documents, protocol_import


class Command(BaseCommand):
    help = "Import protocol version(s) exported by export_protocol (all or nothing); see docs/protocols.md."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--project", help="File the protocol under this project instead of the document's.")

    def handle(self, *args, file, project=None, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"no such file: {file}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CommandError(f"not JSON: {exc}") from exc
        try:
            with transaction.atomic():
                protocols = [protocol_import(document=d, project_name=project) for d in protocol_documents(data)]
        except ApplicationError as exc:
            for field, messages in exc.fields.items():
                for message in messages:
                    self.stderr.write(f"{field}: {message}")
            raise CommandError(exc.message) from exc
        for protocol in protocols:
            self.stdout.write(f"imported {protocol} as id {protocol.pk} ({protocol.status})")
