"""The hash chain: every entry seals its stored content and the hash of the one before it."""

import threading
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction

from executionlogs.chain import GENESIS_HASH
from executionlogs.models import ExecutionLog
from executionlogs.services import database_now
from tests.executionlogs.conftest import append_log, append_logs
from tests.factories import DeviceFactory, UserFactory


def verify_logs() -> str:
    out = StringIO()
    call_command("verify_logs", stdout=out)
    return out.getvalue()


def tamper(sql: str, params=()):
    """Change stored rows the way an intruder with table ownership would: trigger disabled."""
    with connection.cursor() as cursor:
        # Run the deferred foreign-key checks of this test's inserts now: ALTER TABLE refuses
        # to run while trigger events are pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE executionlogs_executionlog DISABLE TRIGGER executionlog_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE executionlogs_executionlog ENABLE TRIGGER executionlog_append_only")


@pytest.mark.django_db
def test_each_entry_links_to_the_hash_of_the_one_before(device):
    first, second, third = append_logs(device, 3)
    assert first.previous_hash == GENESIS_HASH
    assert second.previous_hash == first.entry_hash
    assert third.previous_hash == second.entry_hash
    assert len({first.entry_hash, second.entry_hash, third.entry_hash}) == 3


@pytest.mark.django_db
def test_verify_logs_passes_on_a_clean_chain(device):
    entries = append_logs(device, 5)
    output = verify_logs()
    assert "OK: 5 execution log entries verified" in output
    assert f"entry #{entries[-1].pk}" in output


@pytest.mark.django_db
def test_verify_logs_on_an_empty_log():
    assert "empty" in verify_logs()


@pytest.mark.django_db
def test_the_hash_covers_payloads_as_postgresql_stores_them(device):
    # jsonb reorders keys, drops the spacing and rewrites 1e20 as 100000000000000000000: the hash
    # must be over what is stored, or verify_logs would call honest entries tampered.
    append_log(
        device,
        request={"zeta": 1e20, "a": [1.5, None, True], "ünïcode": 'line\nbreak "quoted"', "nested": {"b": 2, "a": 1}},
        response=None,
        latency_ms=7,
    )
    append_log(device, request={}, response={"big": 12345678901234567890, "small": 1e-7}, status="error")
    assert "OK: 2" in verify_logs()


@pytest.mark.django_db
def test_verify_logs_names_the_entry_whose_content_was_altered(device):
    entries = append_logs(device, 6)
    tamper("UPDATE executionlogs_executionlog SET response = '{\"ok\": false}' WHERE id = %s", [entries[3].pk])
    with pytest.raises(CommandError, match=rf"entry #{entries[3].pk} does not verify: its content") as failure:
        verify_logs()
    assert "3 entries before it verified" in str(failure.value)


@pytest.mark.django_db
def test_verify_logs_names_an_entry_altered_along_with_its_own_hash(device):
    # An intruder who re-hashes the altered entry still breaks the link to the next one.
    entries = append_logs(device, 4)
    tamper(
        "UPDATE executionlogs_executionlog SET status = 'error', entry_hash = repeat('a', 64) WHERE id = %s",
        [entries[1].pk],
    )
    with pytest.raises(CommandError, match=rf"entry #{entries[1].pk} does not verify"):
        verify_logs()


@pytest.mark.django_db
def test_verify_logs_names_the_entry_after_a_removed_one(device):
    entries = append_logs(device, 5)
    tamper("DELETE FROM executionlogs_executionlog WHERE id = %s", [entries[2].pk])
    with pytest.raises(CommandError, match=rf"entry #{entries[3].pk} does not verify: its previous_hash"):
        verify_logs()


@pytest.mark.django_db
def test_timestamps_come_from_the_database_clock(device):
    before = database_now()
    entry = append_log(device, latency_ms=250.0)
    after = database_now()
    stored = ExecutionLog.objects.get(pk=entry.pk)
    assert before <= stored.created_at <= after
    assert stored.started_at == stored.created_at - timedelta(milliseconds=250)
    assert stored.finished_at == stored.created_at
    unknown = append_log(device, status="unknown", response=None)
    assert ExecutionLog.objects.get(pk=unknown.pk).finished_at is None


@pytest.mark.django_db
def test_the_service_keeps_the_executor_signature(device):
    user = UserFactory()
    entry = append_log(
        device,
        started_at=database_now() - timedelta(seconds=2),
        finished_at=database_now(),
        operation="aspirate",
        attempt=2,
        caused_by="user",
        user=user,
    )
    stored = ExecutionLog.objects.get(pk=entry.pk)
    assert (stored.operation, stored.attempt, stored.caused_by, stored.user_id) == ("aspirate", 2, "user", user.pk)
    assert "OK: 1" in verify_logs()


def _write_entries(device_id: str, count: int, errors: list, barrier: threading.Barrier):
    try:
        device = DeviceFactory.build(id=device_id)
        barrier.wait()
        for index in range(count):
            append_log(device, request={"n": index, "writer": device_id})
    except Exception as exc:  # reported by the test
        errors.append(exc)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", [1, 2])
def test_concurrent_writers_keep_the_chain_linear(round_):
    writers, per_writer = 6, 15
    device_ids = [DeviceFactory(id=f"chain-{round_}-{n}").id for n in range(writers)]
    errors: list = []
    barrier = threading.Barrier(writers)
    threads = [threading.Thread(target=_write_entries, args=(dev, per_writer, errors, barrier)) for dev in device_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    links = list(ExecutionLog.objects.order_by("id").values_list("previous_hash", "entry_hash"))
    assert len(links) == writers * per_writer
    # Linear: every entry points at the one just before it, so no two share a predecessor.
    assert [previous for previous, _ in links] == [GENESIS_HASH] + [entry_hash for _, entry_hash in links[:-1]]
    assert "OK: 90" in verify_logs()


@pytest.mark.django_db(transaction=True)
def test_an_entry_rolled_back_with_its_transaction_leaves_the_chain_valid(device):
    append_log(device)
    with pytest.raises(RuntimeError), transaction.atomic():
        append_log(device)
        raise RuntimeError("the caller's transaction fails after logging")
    append_log(device)
    assert "OK: 2" in verify_logs()


@pytest.mark.django_db(transaction=True)
def test_logging_for_a_device_another_transaction_has_locked_does_not_deadlock():
    """A holds device X FOR UPDATE (as booking does) and then logs; B logs for device X.

    If B took the chain lock first and only needed X's row at commit (the deferred foreign-key
    check), A would wait for the chain and B for X: a deadlock. The writer shares the rows it
    references before it takes the chain lock, so B waits for A instead, and both succeed.
    """
    from devices.models import Device
    from labcore.locking import lock_rows

    device_x, device_y = DeviceFactory(id="locked-x"), DeviceFactory(id="free-y")
    a_holds_x, b_is_logging = threading.Event(), threading.Event()
    errors: list = []

    def transaction_a():
        try:
            with transaction.atomic():
                lock_rows(Device.objects.filter(pk=device_x.pk), what="device")
                a_holds_x.set()
                b_is_logging.wait(5)
                time.sleep(0.5)  # B is inside execution_log_create by now
                append_log(device_y)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def transaction_b():
        try:
            a_holds_x.wait(5)
            with transaction.atomic():
                b_is_logging.set()
                append_log(device_x)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=transaction_a), threading.Thread(target=transaction_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert list(ExecutionLog.objects.order_by("id").values_list("device_id", flat=True)) == ["free-y", "locked-x"]
    assert "OK: 2" in verify_logs()


@pytest.mark.django_db
def test_timestamps_hash_the_same_whole_seconds_or_old_years(device):
    from datetime import UTC, datetime

    whole_minute = datetime(2025, 1, 1, 9, 30, tzinfo=UTC)
    append_log(device, started_at=whole_minute, finished_at=whole_minute + timedelta(minutes=1))
    append_log(device, started_at=datetime(999, 12, 31, 23, 59, 59, 1, tzinfo=UTC))
    assert "OK: 2" in verify_logs()


@pytest.mark.django_db
def test_entries_made_by_the_shared_factory_are_chained_too():
    from tests.factories import ExecutionLogFactory

    first, second = ExecutionLogFactory(), ExecutionLogFactory()
    assert second.previous_hash == first.entry_hash != ""
    assert "OK: 2" in verify_logs()
