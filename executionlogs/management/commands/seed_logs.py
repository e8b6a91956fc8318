"""``python manage.py seed_logs --count N``: bulk synthetic execution logs for measurement.

The entries go on synthetic devices and workflows (``synthetic-*``), carry the cause ``synthetic``
and never feed latency statistics; the command refuses production settings.
"""

import time

from django.core.management.base import BaseCommand, CommandError

from executionlogs.seeding import logs_seed


class Command(BaseCommand):
    help = (
        "Append N realistic synthetic execution log entries spread over a span of days, on synthetic devices "
        "and workflows (synthetic-*, created as needed; never the lab's own), with COPY in large batches. "
        "The hash chain stays valid. Refused with production settings (DEBUG off, unless LABCORE_ALLOW_SEED)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True, help="How many entries to append.")
        parser.add_argument("--days", type=float, default=30, help="Span of days the entries cover (default 30).")
        parser.add_argument("--batch-size", type=int, default=100_000, help="Rows per COPY transaction.")
        parser.add_argument("--seed", type=int, default=None, help="Random seed, for repeatable data.")

    def handle(self, *args, **options):
        if options["count"] < 1 or options["batch_size"] < 1 or options["days"] <= 0:
            raise CommandError("--count and --batch-size must be positive, --days greater than 0")
        began = time.perf_counter()

        def progress(written):
            self.stderr.write(f"... {written} entries ({time.perf_counter() - began:.1f} s)")

        try:
            written = logs_seed(
                count=options["count"],
                days=options["days"],
                batch_size=options["batch_size"],
                seed=options["seed"],
                progress=progress if options["verbosity"] > 1 else None,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.perf_counter() - began
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {written} execution log entries in {elapsed:.1f} s ({written / elapsed:,.0f}/s)."
            )
        )
