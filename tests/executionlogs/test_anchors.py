"""Log anchors: the end of the execution log cannot be cut unnoticed."""

import logging
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import IntegrityError, InternalError

from executionlogs.models import AppendOnlyError, LogAnchor
from executionlogs.tasks import log_anchor
from tests.executionlogs.conftest import append_logs
from tests.executionlogs.test_hash_chain import tamper, verify_logs
from tests.factories import RunStepFactory


def anchor_logs() -> str:
    out = StringIO()
    call_command("anchor_logs", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_anchor_logs_records_the_chain_head_and_logs_it(device, caplog):
    entries = append_logs(device, 3)
    with caplog.at_level(logging.INFO, logger="labcore.executionlogs.anchors"):
        output = anchor_logs()
    anchor = LogAnchor.objects.get()
    assert (anchor.head_id, anchor.head_hash) == (entries[-1].pk, entries[-1].entry_hash)
    assert anchor.anchored_by == "command"
    assert f"entry #{entries[-1].pk}" in output
    assert entries[-1].entry_hash in caplog.text


@pytest.mark.django_db
def test_anchor_logs_on_an_empty_log_records_nothing():
    assert "empty" in anchor_logs()
    assert not LogAnchor.objects.exists()


@pytest.mark.django_db
def test_anchors_are_also_appended_to_the_configured_file(
    device, tmp_path, settings, django_capture_on_commit_callbacks
):  # noqa: E501
    settings.LABCORE_LOG_ANCHOR_FILE = str(tmp_path / "anchors.ndjson")
    entry = append_logs(device, 1)[0]
    with django_capture_on_commit_callbacks(execute=True):
        anchor_logs()
    assert entry.entry_hash in (tmp_path / "anchors.ndjson").read_text()


def test_celery_beat_runs_the_anchor_task_periodically():
    entry = settings.CELERY_BEAT_SCHEDULE["execution-log-anchor"]
    assert entry["task"] == log_anchor.name == "executionlogs.tasks.log_anchor"
    assert entry["schedule"] == settings.LABCORE_LOG_ANCHOR_INTERVAL_SECONDS


@pytest.mark.django_db
def test_the_beat_task_anchors_the_head(device):
    entry = append_logs(device, 2)[-1]
    log_anchor()
    assert LogAnchor.objects.get().head_id == entry.pk


@pytest.mark.django_db
def test_verify_logs_checks_every_anchor(device):
    append_logs(device, 3)
    anchor_logs()
    append_logs(device, 2)
    anchor_logs()
    assert "OK: 5 execution log entries verified, 2 anchors" in verify_logs()


@pytest.mark.django_db
def test_cutting_the_last_ten_entries_fails_verify_logs_naming_the_range(device):
    entries = append_logs(device, 30)
    anchor_logs()
    # As a superuser (table owner) would: trigger disabled, rows gone, trigger back on. The
    # remaining chain of 20 is still a valid chain; only the anchor shows the cut.
    tamper("DELETE FROM executionlogs_executionlog WHERE id > %s", [entries[19].pk])
    with pytest.raises(CommandError) as failure:
        verify_logs()
    message = str(failure.value)
    assert f"The chain ends at entry #{entries[19].pk}" in message
    assert f"entries #{entries[20].pk} to #{entries[29].pk} are missing" in message


@pytest.mark.django_db
def test_an_anchor_whose_hash_does_not_match_fails_verify_logs(device):
    entries = append_logs(device, 3)
    LogAnchor.objects.create(head_id=entries[1].pk, head_hash="f" * 64, anchored_by="test")
    with pytest.raises(CommandError, match=f"recorded entry #{entries[1].pk} with hash f+, but the chain has"):
        verify_logs()


@pytest.mark.django_db
def test_an_anchored_entry_missing_inside_the_chain_fails_verify_logs(device):
    entries = append_logs(device, 3)
    LogAnchor.objects.create(head_id=entries[1].pk + 1000, head_hash="a" * 64, anchored_by="test")
    with pytest.raises(CommandError, match="are missing"):
        verify_logs()


@pytest.mark.django_db
def test_anchors_are_append_only(device):
    append_logs(device, 1)
    anchor_logs()
    anchor = LogAnchor.objects.get()
    with pytest.raises(AppendOnlyError):
        anchor.save()
    with pytest.raises(AppendOnlyError):
        LogAnchor.objects.all().delete()
    for sql in ("UPDATE executionlogs_loganchor SET head_hash = 'x'", "DELETE FROM executionlogs_loganchor"):
        refused = pytest.raises((IntegrityError, InternalError), match="append-only")
        with refused, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)


@pytest.mark.django_db
def test_a_finished_run_step_without_its_log_entry_fails_verify_logs(device):
    append_logs(device, 1)
    step = RunStepFactory(status="succeeded", step_name="Image plate")
    RunStepFactory(status="skipped")  # never dispatched: no entry expected
    with pytest.raises(CommandError, match=f"Run-step #{step.pk} .*'Image plate'.* has no execution log entry"):
        verify_logs()
