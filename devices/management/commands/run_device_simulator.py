"""``manage.py run_device_simulator``: a local device service for the http adapter (docs/adapters.md)."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devices.choices import DeviceKind
from devices.models import ActionType
from devices.simulator import DeviceSimulator, parse_switches


class Command(BaseCommand):
    help = (
        "Serve the http adapter's JSON contract on 127.0.0.1 for one kind of device (--kind) or every kind "
        "(--all), from the ActionType registry: canned responses, scaled latency, long operations, faults."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.simulator = None
        self.ready = threading.Event()  # set once listening (lets tests run the command in a thread)

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--kind", choices=DeviceKind.values, help="serve the action types of this device kind")
        which.add_argument("--all", action="store_true", help="serve every action type; paths may carry a device id")
        parser.add_argument("--port", type=int, default=9100, help="port on 127.0.0.1 (0: any free port)")
        parser.add_argument(
            "--latency-scale",
            type=float,
            default=None,
            help="multiply every action's mock latency (default: LABCORE_MOCK_LATENCY_SCALE)",
        )
        parser.add_argument("--fail-actions", default="", help="answer 500 for these actions: a,b or a:2 (twice)")
        parser.add_argument("--hang-actions", default="", help="never answer these actions (long ones never end)")
        parser.add_argument("--fail-operations", default="", help="long operations of these actions end as failed")
        parser.add_argument("--hang-seconds", type=float, default=3600.0, help="how long a hung request is held")

    def handle(self, *args, **options):
        kind = options["kind"]
        action_types = ActionType.objects.all() if options["all"] else ActionType.objects.filter(device_kind=kind)
        action_types = list(action_types)
        if not action_types:
            raise CommandError(f"no action types registered for {kind or 'any kind'}: run seed_demo or load some")
        scale = options["latency_scale"]
        try:
            self.simulator = DeviceSimulator(
                action_types,
                port=options["port"],
                kind=kind,
                latency_scale=settings.LABCORE_MOCK_LATENCY_SCALE if scale is None else scale,
                hang_seconds=options["hang_seconds"],
                fail=parse_switches(options["fail_actions"]),
                hang=parse_switches(options["hang_actions"]),
                fail_operations=parse_switches(options["fail_operations"]),
            )
        except OSError as exc:
            raise CommandError(f"cannot listen on 127.0.0.1:{options['port']}: {exc}") from exc
        except ValueError as exc:
            raise CommandError(f"bad fault switch: {exc}") from exc

        self.stdout.write(
            f"Device simulator for {kind or 'every kind'} on {self.simulator.url} "
            f"({len(action_types)} action types, latency x{self.simulator.state.latency_scale:g}). Ctrl-C stops it."
        )
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _interrupt)  # `kill` and container stops end it like Ctrl-C
        self.ready.set()
        try:
            self.simulator.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.simulator.state.stopping.set()
            self.simulator.server.server_close()
            self.stdout.write("Device simulator stopped.")

    def stop(self) -> None:
        """End ``handle`` from another thread."""
        if self.simulator is not None:
            self.simulator.state.stopping.set()
            self.simulator.server.shutdown()


def _interrupt(signum, frame):
    raise KeyboardInterrupt
