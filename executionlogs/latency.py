"""Latency statistics per (device, action type), kept up to date as log entries are appended.

The wait-time estimate and the schedule price a run-step at the median successful latency of its
action type on its device. Aggregating that from the log cost 0.5-1.1 s per call at 1M rows; a
``LatencyStat`` row per pair answers in one indexed read at any log size.

The figure is a median, read from a histogram of log-spaced buckets (8 per octave: each bucket
is 9% wide, so the median is within 4.5% of the exact one, far finer than the spread of real
dispatches). A histogram is the incremental form of a median: one more entry adds one to one
bucket, an atomic ``UPDATE``, while an exact median needs every value. A running or
exponentially weighted mean would also be incremental but is dragged by the long tail (one
stalled 10-minute success moves a mean of 2 s dispatches a lot, the median not at all). Count
and sum are kept too (the mean, for whoever wants it). Why not an EWMA: docs/decisions.md.

Counted by the database: an ``AFTER INSERT`` statement trigger on the log (``TRIGGER_SQL``,
installed by migration 0007) upserts the pair's row in the inserting transaction, so every insert path counts,
the entry and its count commit or roll back together, and the executor's hot path pays no extra
round trip. A change to the SQL here needs a migration that installs it again.

Which entries count: successful ones with a latency, dispatched for real (caused by a user, a
worker or a manual call). Synthetic entries (``seed_logs``, cause ``synthetic``) and LabCore's
own (recovery, and entries seeded before synthetic data was marked: cause ``system``) never do.
"""

import math
from collections.abc import Sequence

from executionlogs.choices import Cause, LogStatus

BUCKETS_PER_OCTAVE = 8
# Bucket 0 is [0, 1 ms); bucket k >= 1 is [2^((k-1)/8), 2^(k/8)) ms; the last one also takes
# everything longer. 2^(280/8) ms is 397 days, past the longest action allowed (a year and a day).
BUCKET_COUNT = 281
COUNTED_CAUSES = (Cause.USER.value, Cause.WORKER.value, Cause.MANUAL.value)

STAT_TABLE = "executionlogs_latencystat"
LOG_TABLE = "executionlogs_executionlog"


def bucket_of(latency_ms: float) -> int:
    """The histogram bucket of one latency (the SQL in ``BUCKET_SQL`` computes the same)."""
    if latency_ms < 1:
        return 0
    return min(BUCKET_COUNT - 1, math.floor(math.log(latency_ms) / math.log(2) * BUCKETS_PER_OCTAVE) + 1)


def bucket_sql(column: str) -> str:
    """``bucket_of`` in SQL, for a latency column or expression."""
    return (
        f"CASE WHEN {column} < 1 THEN 0 ELSE LEAST({BUCKET_COUNT - 1}, "
        f"floor(ln({column}) / ln(2) * {BUCKETS_PER_OCTAVE})::int + 1) END"
    )


def bucket_bounds(bucket: int) -> tuple[float, float]:
    if bucket == 0:
        return 0.0, 1.0
    return 2 ** ((bucket - 1) / BUCKETS_PER_OCTAVE), 2 ** (bucket / BUCKETS_PER_OCTAVE)


def bucket_middle(bucket: int) -> float:
    """What an entry in ``bucket`` is taken to be: the bucket's geometric middle (the middle of
    [0, 1 ms) for bucket 0), within 4.5% of any latency in it."""
    low, high = bucket_bounds(bucket)
    return (low + high) / 2 if bucket == 0 else math.sqrt(low * high)


def _nth(histogram: Sequence[int], index: int) -> float:
    """The ``index``-th smallest latency counted (0-based), as its bucket's middle."""
    cumulative = 0
    for bucket, count in enumerate(histogram):
        cumulative += count
        if index < cumulative:
            return bucket_middle(bucket)
    raise IndexError(index)


def histogram_quantile(histogram: Sequence[int], quantile: float = 0.5) -> float | None:
    """The ``quantile`` of the latencies counted in ``histogram``, in ms (None when it is empty).

    As PostgreSQL's ``percentile_cont`` (which the estimate used on the log before): between the two
    entries around the position, linearly; each entry read as its bucket's middle.
    """
    total = sum(histogram)
    if not total:
        return None
    position = quantile * (total - 1)
    below = math.floor(position)
    low = _nth(histogram, below)
    if position == below:
        return low
    return low + (position - below) * (_nth(histogram, below + 1) - low)


# Which entries count, in SQL (for the trigger's WHEN and the rebuild). NULL latencies fail the
# range test, and so does NaN (PostgreSQL sorts it above every number, infinity included).
_CAUSES = ", ".join(f"'{cause}'" for cause in COUNTED_CAUSES)


def counted_sql(row: str = "") -> str:
    return (
        f"{row}status = '{LogStatus.SUCCESS.value}' AND {row}caused_by IN ({_CAUSES}) "
        f"AND {row}latency_ms > '-Infinity'::float8 AND {row}latency_ms < 'Infinity'::float8"
    )


# The entries of one INSERT (or COPY) statement, added at once: the trigger is per statement and
# reads them from its transition table, one upsert per (pair, bucket) that the statement touched.
# Per row it would update the same stats row once per entry, and in one transaction every
# update of a row walks the versions left by the ones before (PostgreSQL cannot prune them
# until the transaction ends): a bulk insert of n counted entries on one pair cost O(n^2)
# (200,000 rows ran for more than 15 minutes). A single entry is still one upsert.
# The row is created by the first entry of its pair (two first entries at once: ON CONFLICT
# turns the second into the update) and later ones add to it in place under the row lock that
# the UPDATE takes, so concurrent writers never lose a count. Log writers hold the chain lock
# and take a stats row only after it, so no lock-order cycle can form.
TRIGGER_SQL = f"""
CREATE OR REPLACE FUNCTION executionlogs_latency_count() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    added record;
    initial integer[];
BEGIN
    FOR added IN
        SELECT device_id, action_type, {bucket_sql("latency_ms")} + 1 AS bucket_index,  -- arrays are 1-based
               count(*) AS entries, sum(latency_ms) AS total_ms
        FROM new_entries
        WHERE {counted_sql()}
        GROUP BY 1, 2, 3
        ORDER BY 1, 2, 3  -- a fixed order of row locks: two statements cannot deadlock on stats rows
    LOOP
        initial := array_fill(0, ARRAY[{BUCKET_COUNT}]);
        initial[added.bucket_index] := added.entries;
        INSERT INTO {STAT_TABLE} AS stat (device_id, action_type, count, sum_ms, histogram, updated_at)
        VALUES (added.device_id, added.action_type, added.entries, added.total_ms, initial, clock_timestamp())
        ON CONFLICT (device_id, action_type) DO UPDATE SET
            count = stat.count + EXCLUDED.count,
            sum_ms = stat.sum_ms + EXCLUDED.sum_ms,
            histogram[added.bucket_index] = COALESCE(stat.histogram[added.bucket_index], 0) + added.entries,
            updated_at = EXCLUDED.updated_at;
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE TRIGGER executionlog_latency_count
    AFTER INSERT ON {LOG_TABLE}
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT
    EXECUTE FUNCTION executionlogs_latency_count();
"""

TRIGGER_DROP_SQL = f"""
DROP TRIGGER IF EXISTS executionlog_latency_count ON {LOG_TABLE};
DROP FUNCTION IF EXISTS executionlogs_latency_count();
"""


COUNTED_SQL = f"""
SELECT device_id, action_type, {bucket_sql("latency_ms")} AS bucket, count(*), sum(latency_ms)
FROM {LOG_TABLE}
WHERE {counted_sql()}
GROUP BY 1, 2, 3
"""


def latency_stats_rebuild(cursor) -> int:
    """Recompute every pair's statistics from the whole log (the backfill; also a repair).

    The caller holds the chain lock (in the same transaction), so no entry is appended between the
    read and the write. Returns the number of pairs.
    """
    cursor.execute(COUNTED_SQL)
    pairs: dict[tuple[str, str], list] = {}
    for device_id, action_type, bucket, count, total_ms in cursor.fetchall():
        stat = pairs.setdefault((device_id, action_type), [0, 0.0, [0] * BUCKET_COUNT])
        stat[0] += count
        stat[1] += total_ms
        stat[2][bucket] += count
    cursor.execute(f"DELETE FROM {STAT_TABLE}")
    if pairs:
        cursor.executemany(
            f"INSERT INTO {STAT_TABLE} (device_id, action_type, count, sum_ms, histogram, updated_at) "
            "VALUES (%s, %s, %s, %s, %s::integer[], clock_timestamp())",
            [
                (device_id, action, count, total, histogram)
                for (device_id, action), (count, total, histogram) in pairs.items()
            ],
        )
    return len(pairs)
