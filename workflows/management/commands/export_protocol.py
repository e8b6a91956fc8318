"""Print (or write) a protocol version as a JSON document: ``manage.py export_protocol ID``."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from workflows.models import Protocol
from workflows.services.protocol_io import protocol_export


class Command(BaseCommand):
    help = "Export a protocol version (steps, actions, parameters, devices) as JSON; see docs/protocols.md."

    def add_arguments(self, parser):
        parser.add_argument("protocol_id", type=int)
        parser.add_argument("--output", "-o", help="Write to this file instead of standard output.")

    def handle(self, *args, protocol_id, output=None, **options):
        protocol = Protocol.objects.filter(pk=protocol_id).first()
        if protocol is None:
            raise CommandError(f"no protocol with id {protocol_id}")
        text = json.dumps(protocol_export(protocol), indent=2, ensure_ascii=False) + "\n"
        if output:
            Path(output).write_text(text, encoding="utf-8")
            self.stderr.write(f"wrote {protocol} to {output}")
        else:
            self.stdout.write(text, ending="")
