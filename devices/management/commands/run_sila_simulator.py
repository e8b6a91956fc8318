"""``manage.py run_sila_simulator``: a simulated SiLA 2 server on 127.0.0.1 (docs/adapters.md)."""

import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devices.sila.simulator import HOST, KINDS, SilaSimulator


class Command(BaseCommand):
    help = (
        "Serve a simulated SiLA 2 server (incubator or microscope) on 127.0.0.1, built with the sila2 package "
        "from the feature files in devices/sila/features. TLS with a generated certificate unless --insecure."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.simulator = None
        self.ready = threading.Event()  # set once serving (lets tests run the command in a thread)
        self.stopped = threading.Event()

    def add_arguments(self, parser):
        parser.add_argument("--kind", choices=sorted(KINDS), required=True)
        parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1 (0: any free port)")
        parser.add_argument("--insecure", action="store_true", help="plain gRPC, no TLS (loopback and tests only)")
        parser.add_argument("--cert", help="PEM certificate chain to serve (default: a generated self-signed one)")
        parser.add_argument("--key", help="PEM private key of --cert")
        parser.add_argument(
            "--ca-out",
            default="",
            help="write the generated certificate here, for clients' --ca-cert (default: sila-<kind>-<port>.pem "
            "in the current directory)",
        )
        parser.add_argument(
            "--latency-scale",
            type=float,
            default=None,
            help="multiply every command's latency and duration (default: LABCORE_MOCK_LATENCY_SCALE)",
        )

    def handle(self, *args, **options):
        if bool(options["cert"]) != bool(options["key"]):
            raise CommandError("--cert and --key go together")
        if options["insecure"] and options["cert"]:
            raise CommandError("--insecure serves plain gRPC: leave out --cert and --key")
        try:
            key = Path(options["key"]).read_bytes() if options["key"] else None
            cert = Path(options["cert"]).read_bytes() if options["cert"] else None
        except OSError as exc:
            raise CommandError(f"cannot read the certificate: {exc}") from exc
        scale = options["latency_scale"]
        self.simulator = SilaSimulator(
            options["kind"],
            port=options["port"],
            insecure=options["insecure"],
            latency_scale=settings.LABCORE_MOCK_LATENCY_SCALE if scale is None else scale,
            private_key=key,
            cert_chain=cert,
        )
        try:
            self.simulator.start()
        except Exception as exc:
            raise CommandError(f"cannot serve on {HOST}:{options['port']}: {exc}") from exc
        port = self.simulator.port
        mode = "plain gRPC (insecure)" if options["insecure"] else "TLS"
        self.stdout.write(f"SiLA 2 simulator ({options['kind']}) on {HOST}:{port}, {mode}.")
        if not options["insecure"] and not options["cert"]:
            ca_out = Path(options["ca_out"] or f"sila-{options['kind']}-{port}.pem")
            ca_out.write_bytes(self.simulator.ca_certificate)
            self.stdout.write(f"Its certificate (pass it as --ca-cert / config ca_cert): {ca_out.resolve()}")
        self.stdout.write("Ctrl-C stops it.")
        self.stdout.flush()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _interrupt)
        self.ready.set()
        try:
            self.stopped.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.simulator.stop()
            self.stdout.write("SiLA 2 simulator stopped.")

    def stop(self) -> None:
        self.stopped.set()


def _interrupt(signum, frame):
    raise KeyboardInterrupt
