"""``python manage.py verify_logs``: walk the execution log's hash chain."""

from django.core.management.base import BaseCommand, CommandError

from executionlogs.verification import chain_verify


class Command(BaseCommand):
    help = (
        "Re-hash every execution log entry in order and name the first one that does not verify "
        "(altered, or after a removed entry); check every anchor (a chain cut short of one names the missing "
        "range) and that every finished run-step has its entry. Exits 1 on any problem."
    )

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=5000, help="Rows fetched per round trip.")
        parser.add_argument("--progress", action="store_true", help="Print a line every million entries.")

    def handle(self, *args, **options):
        last_million = [0]

        def progress(report):
            if options["progress"] and report.checked // 1_000_000 > last_million[0]:
                last_million[0] = report.checked // 1_000_000
                self.stderr.write(f"... {report.checked} entries verified")

        report = chain_verify(chunk_size=options["chunk_size"], progress=progress)
        failures = []
        if report.broken_id is not None:
            failures.append(
                f"Execution log entry #{report.broken_id} does not verify: {report.reason}. "
                f"{report.checked} entries before it verified."
            )
        failures.extend(f"{problem[0].upper()}{problem[1:]}." for problem in report.problems)
        if failures:
            raise CommandError("\n".join(failures))
        if report.head_id is None:
            self.stdout.write("The execution log is empty; nothing to verify.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"OK: {report.checked} execution log entries verified, {report.anchors_checked} anchors. "
                f"Chain head: entry #{report.head_id}, hash {report.head_hash}"
            )
        )
