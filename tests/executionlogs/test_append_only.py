"""Invariant 6: an execution log entry is never updated or deleted, by the model or by SQL."""

import pytest
from django.db import IntegrityError, connection, transaction

from executionlogs.models import AppendOnlyError, ExecutionLog
from tests.executionlogs.conftest import append_log


@pytest.mark.django_db
def test_saving_an_existing_entry_is_refused(device):
    entry = append_log(device)
    entry.status = "error"
    with pytest.raises(AppendOnlyError):
        entry.save()
    assert ExecutionLog.objects.get(pk=entry.pk).status == "success"


@pytest.mark.django_db
def test_deleting_an_entry_is_refused(device):
    entry = append_log(device)
    with pytest.raises(AppendOnlyError):
        entry.delete()
    assert ExecutionLog.objects.filter(pk=entry.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "bulk_call",
    [
        lambda qs: qs.update(status="error"),
        lambda qs: qs.delete(),
        lambda qs: qs.bulk_update(list(qs), ["status"]),
        lambda qs: qs.bulk_create([ExecutionLog(device_id="liquid-handler-9", action_type="x", status="success")]),
        lambda qs: ExecutionLog.objects.update(status="error"),
        lambda qs: ExecutionLog.objects.delete(),
    ],
    ids=["update", "delete", "bulk_update", "bulk_create", "manager_update", "manager_delete"],
)
def test_bulk_queryset_writes_are_refused(device, bulk_call):
    append_log(device)
    with pytest.raises(AppendOnlyError):
        bulk_call(ExecutionLog.objects.all())
    assert ExecutionLog.objects.filter(status="success").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE executionlogs_executionlog SET status = 'error' WHERE id = %s",
        "UPDATE executionlogs_executionlog SET response = '{\"ok\": false}' WHERE id = %s",
        "DELETE FROM executionlogs_executionlog WHERE id = %s",
    ],
)
def test_the_database_trigger_refuses_raw_update_and_delete(device, sql):
    entry = append_log(device)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [entry.pk])
    stored = ExecutionLog.objects.get(pk=entry.pk)
    assert (stored.status, stored.response, stored.entry_hash) == ("success", {"ok": True}, entry.entry_hash)


@pytest.mark.django_db
def test_the_trigger_is_installed_by_a_migration():
    # The test database is built by running the migrations: the trigger must be there, enabled.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgenabled FROM pg_trigger WHERE tgname = 'executionlog_append_only' "
            "AND tgrelid = 'executionlogs_executionlog'::regclass"
        )
        assert cursor.fetchall() == [("O",)]


@pytest.mark.django_db
def test_the_admin_is_read_only(client, user, device):
    entry = append_log(device)
    client.force_login(user)
    change_page = client.get(f"/admin/executionlogs/executionlog/{entry.pk}/change/")
    assert change_page.status_code == 200
    assert b'name="_save"' not in change_page.content
    assert client.get("/admin/executionlogs/executionlog/add/").status_code == 403
    assert client.post(f"/admin/executionlogs/executionlog/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ExecutionLog.objects.filter(pk=entry.pk).exists()


@pytest.mark.django_db
def test_the_admin_list_runs_the_same_queries_for_few_and_many_entries(client, user, device):
    from tests.executionlogs.conftest import append_logs
    from tests.utils import queries_for

    client.force_login(user)
    append_logs(device, 3)
    few = queries_for(lambda: client.get("/admin/executionlogs/executionlog/"))
    append_logs(device, 40)
    many = queries_for(lambda: client.get("/admin/executionlogs/executionlog/"))
    assert few == many


@pytest.mark.django_db
def test_the_admin_counts_past_the_limit_by_the_planner_estimate(client, user, device, monkeypatch):
    from executionlogs.admin import EstimatedCountPaginator
    from tests.executionlogs.conftest import append_logs

    monkeypatch.setattr(EstimatedCountPaginator, "estimate_above", 3)
    monkeypatch.setattr(EstimatedCountPaginator, "count_cap", 3)
    append_logs(device, 5)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE executionlogs_executionlog")
    client.force_login(user)
    unfiltered = client.get("/admin/executionlogs/executionlog/").context["cl"]
    assert (unfiltered.result_count, unfiltered.paginator.is_estimate) == (5, True)
    filtered = client.get("/admin/executionlogs/executionlog/", {"status__exact": "success"}).context["cl"]
    assert (filtered.result_count, filtered.paginator.is_capped) == (3, True)  # shown as "more than 3"
