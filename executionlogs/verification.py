"""Walking the hash chain: does every stored entry still match its hash and its predecessor?"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction

from executionlogs.chain import GENESIS_HASH, HASHED_FIELDS, entry_digest
from executionlogs.models import ExecutionLog, LogAnchor

# Checks that records kept elsewhere have their log entries (each returns its problems as
# sentences). Apps above this one register theirs in AppConfig.ready: the workflows app checks
# that every finished run-step has an entry, without this app importing it.
_coverage_checks: list[Callable[[], list[str]]] = []


def coverage_check_register(check: Callable[[], list[str]]) -> None:
    """Add a check ``verify_logs`` runs after the chain and the anchors (idempotent)."""
    if check not in _coverage_checks:
        _coverage_checks.append(check)


@dataclass
class ChainReport:
    """The outcome of a walk: how far it got and, if it stopped, the entry and why."""

    checked: int = 0
    head_id: int | None = None
    head_hash: str = GENESIS_HASH
    broken_id: int | None = None
    reason: str = ""
    anchors_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.broken_id is None and not self.problems


def _select(name: str) -> str:
    if name in {"request", "response"}:
        return f"{name}::text"
    if name in {"started_at", "finished_at", "created_at"}:
        # canonical_timestamp's format, rendered by PostgreSQL: parsing three timestamps a row
        # in Python was half the walk's time.
        return f"""to_char({name} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
    return name


def chain_verify(*, chunk_size: int = 5000, progress=None) -> ChainReport:
    """Re-hash every entry in id order and stop at the first that does not verify.

    Reads through a server-side cursor (inside a read-only transaction, so it is not
    materialised at commit) ``chunk_size`` rows at a time: memory does not grow with the table.
    Payloads are read as ``jsonb::text``, the exact form they were hashed in.
    """
    columns = ", ".join(_select(name) for name in HASHED_FIELDS)
    sql = f"SELECT {columns}, previous_hash, entry_hash FROM {ExecutionLog._meta.db_table} ORDER BY id"
    report = ChainReport()
    # Anchors are few (one per interval); the walk checks each as it passes its position.
    anchored = {}
    for anchor in LogAnchor.objects.order_by("id"):
        anchored.setdefault(anchor.head_id, []).append(anchor)
    expected_previous = GENESIS_HASH
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(sql)
        while rows := cursor.fetchmany(chunk_size):
            for row in rows:
                entry_id, values, previous_hash, entry_hash = row[0], row[:-2], row[-2], row[-1]
                if previous_hash != expected_previous:
                    after = f"entry #{report.head_id}" if report.head_id is not None else "the start of the chain"
                    report.broken_id = entry_id
                    report.reason = (
                        f"its previous_hash does not match {after}: an entry between them was removed, "
                        "or one of them was altered"
                    )
                    return report
                if entry_digest(previous_hash, values) != entry_hash:
                    report.broken_id = entry_id
                    report.reason = "its content does not match its entry_hash: it was altered after it was written"
                    return report
                for anchor in anchored.pop(entry_id, ()):
                    report.anchors_checked += 1
                    if anchor.head_hash != entry_hash:
                        report.problems.append(
                            f"anchor #{anchor.pk} ({anchor.anchored_at:%Y-%m-%d %H:%M:%S} UTC) recorded entry "
                            f"#{entry_id} with hash {anchor.head_hash}, but the chain has {entry_hash}: the chain "
                            "was rewritten from that entry on"
                        )
                expected_previous = entry_hash
                report.checked += 1
                report.head_id, report.head_hash = entry_id, entry_hash
            if progress:
                progress(report)
    _anchors_beyond_the_chain(report, anchored)
    for check in _coverage_checks:
        report.problems.extend(check())
    return report


def _anchors_beyond_the_chain(report: ChainReport, unmatched: dict[int, list]) -> None:
    """Anchors whose entry the walk never met: the chain was cut short of them, or that entry is gone."""
    last = report.head_id or 0
    beyond = [anchor for anchors in unmatched.values() for anchor in anchors if anchor.head_id > last]
    inside = [anchor for anchors in unmatched.values() for anchor in anchors if anchor.head_id <= last]
    report.anchors_checked += len(beyond) + len(inside)
    if beyond:
        furthest = max(beyond, key=lambda anchor: anchor.head_id)
        head = f"entry #{report.head_id}" if report.head_id is not None else "no entry at all"
        report.problems.append(
            f"the chain ends at {head}, but anchor #{furthest.pk} "
            f"({furthest.anchored_at:%Y-%m-%d %H:%M:%S} UTC) recorded entry #{furthest.head_id}: "
            f"entries #{last + 1} to #{furthest.head_id} are missing (the end of the log was cut)"
        )
    for anchor in sorted(inside, key=lambda anchor: anchor.head_id):
        report.problems.append(
            f"anchor #{anchor.pk} recorded entry #{anchor.head_id}, which is not in the chain: it was removed"
        )
