"""A sample's chain of custody: its runs, their status changes and actions, and its results, in time order."""

import pytest

from executionlogs.models import CellAnalysisResult, ExecutionLog
from tests.factories import SampleFactory
from tests.utils import queries_for
from tests.workflows.growth_support import imaged_run
from workflows.sample_history import ACTION, RESULT, RUN, sample_history

pytestmark = pytest.mark.django_db


def test_the_history_lists_every_run_action_and_result_of_the_sample_oldest_first():
    sample, other = SampleFactory(), SampleFactory()
    first = imaged_run([sample, other], hours=[0, 12, 24], name="first run")
    second = imaged_run([sample], hours=[0, 12], name="second run")
    imaged_run([other], hours=[0, 12], name="not this sample's run")

    history = sample_history(sample)

    assert history.runs == 2 and not history.entries_cut
    assert [row.at for row in history.rows] == sorted(row.at for row in history.rows)
    assert {row.run_name for row in history.rows} == {"first run", "second run"}
    actions = [row for row in history.rows if row.kind == ACTION]
    logs = ExecutionLog.objects.filter(workflow__in=[first, second])
    assert sorted(row.log_id for row in actions) == sorted(logs.values_list("pk", flat=True))
    results = [row for row in history.rows if row.kind == RESULT]
    assert len(results) == 5 == CellAnalysisResult.objects.filter(sample=sample).count()
    # Only this sample's results, each naming its values and linking to the log entry it came from.
    mine = {r.execution_log_id: r for r in CellAnalysisResult.objects.filter(sample=sample)}
    for row in results:
        assert row.log_id in mine and f"confluence {mine[row.log_id].confluence:.1f} %" in row.detail
        assert row.log_url == f"/admin/executionlogs/executionlog/{row.log_id}/change/"
    # Each run starts with its creation and start; a result follows the action it came from.
    runs = [row for row in history.rows if row.kind == RUN]
    assert [(r.run_id, r.what) for r in runs if r.run_id == first.pk] == [
        (first.pk, "run created"),
        (first.pk, "run running"),
    ]
    assert all(row.run_url == f"/admin/workflows/workflow/{row.run_id}/change/" for row in history.rows)
    # Time in culture, as the growth charts count it: the first run's results at 0, 12 and 24 h.
    first_hours = sorted(row.hours for row in results if row.run_id == first.pk)
    assert first_hours == pytest.approx([0, 12, 24], abs=0.01)
    action_index = {row.log_id: index for index, row in enumerate(history.rows) if row.kind == ACTION}
    for index, row in enumerate(history.rows):
        if row.kind == RESULT:
            assert action_index[row.log_id] < index


def test_the_history_keeps_the_latest_entries_when_capped_and_says_so():
    sample = SampleFactory()
    imaged_run([sample], hours=range(0, 60, 12))
    history = sample_history(sample, entry_limit=3)
    actions = [row for row in history.rows if row.kind == ACTION]
    latest = ExecutionLog.objects.order_by("-started_at", "-id").values_list("pk", flat=True)[:3]
    assert history.entries_cut and history.entries_shown == 3
    assert sorted(row.log_id for row in actions) == sorted(latest)


def test_a_sample_never_in_a_run_has_an_empty_history():
    history = sample_history(SampleFactory())
    assert history.rows == [] and history.runs == 0


def test_the_history_reads_in_the_same_number_of_queries_for_one_run_or_many():
    small, large = SampleFactory(), SampleFactory()
    imaged_run([small], hours=[0, 12])
    for _ in range(4):
        imaged_run([large], hours=range(0, 97, 12))
    assert queries_for(lambda: sample_history(small)) == queries_for(lambda: sample_history(large)) == 4
