"""``manage.py sila_import``: register a SiLA 2 server as a device and its commands as ActionTypes."""

from django.core.management.base import BaseCommand, CommandError

from devices.choices import DeviceKind
from devices.sila.onboarding import sila_server_import
from labcore.exceptions import ApplicationError


class Command(BaseCommand):
    help = (
        "Read a SiLA 2 server's features and register it as a device (adapter sila2) with one ActionType per "
        "command and property (JSON Schema from the feature definitions). Idempotent; prints what changed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", required=True)
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--device-id", default="", help="the device's id (default: from the server name)")
        parser.add_argument("--kind", choices=DeviceKind.values, default="", help="default: from the server type")
        tls = parser.add_mutually_exclusive_group()
        tls.add_argument("--insecure", action="store_true", help="plain gRPC, no TLS")
        tls.add_argument("--ca-cert", default="", help="PEM file of the CA that signed the server's certificate")

    def handle(self, *args, **options):
        try:
            report = sila_server_import(
                host=options["host"],
                port=options["port"],
                device_id=options["device_id"],
                insecure=options["insecure"],
                ca_cert=options["ca_cert"],
                kind=options["kind"],
            )
        except ApplicationError as exc:
            details = "; ".join(f"{field}: {' '.join(map(str, messages))}" for field, messages in exc.fields.items())
            raise CommandError(f"{exc}" + (f" ({details})" if details and details not in str(exc) else "")) from exc
        for line in report.lines():
            self.stdout.write(line)
