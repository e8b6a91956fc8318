"""With the broker's Redis down, the API keeps answering: reads 200, writes done or 503 with
Retry-After, never a 500 (issue 15, item 2).

The web side runs in a fresh process whose settings point the broker and the cache (throttling
counts there, turned on here) at a private Redis this test starts, then stops.
"""

import pytest

from accounts.services import token_issue
from tests.factories import UserFactory
from tests.faults.api_support import api_calls_with_broker
from tests.workflows.executor_support import action_type_make, device_make, workflow_make


@pytest.mark.django_db(transaction=True)
def test_api_answers_reads_and_writes_without_a_500_while_redis_is_down(private_redis):
    user = UserFactory(username="operator-1", is_staff=True, is_superuser=True)
    _, token = token_issue(user=user, name="outage")
    pipette = action_type_make("pipette_transfer")
    device_make("liquid-handler-1")
    device_make("liquid-handler-2")
    auto_run = workflow_make([(pipette, device_make("liquid-handler-3"))], name="auto")
    manual_run = workflow_make([(pipette, device_make("liquid-handler-4"))], name="manual", mode="manual")
    reads = [
        ["get", "/api/devices", None],
        ["get", "/api/workflows", None],
        ["get", f"/api/workflows/{auto_run.pk}", None],
        ["get", "/api/execution-logs", None],
    ]
    writes = [
        ["post", f"/api/workflows/{auto_run.pk}/start", {}],  # enqueues its first action
        ["post", f"/api/workflows/{manual_run.pk}/start", {}],
        ["post", "/api/devices/liquid-handler-1/book", {"workflow_id": manual_run.pk}],
        ["post", f"/api/workflows/{manual_run.pk}/execute-step", {}],
    ]
    private_redis.stop()

    answers = api_calls_with_broker(private_redis.url, token, reads + writes)

    assert [answer["status"] for answer in answers[: len(reads)]] == [200] * len(reads), answers
    for answer in answers[len(reads) :]:
        assert answer["status"] < 500 or (answer["status"] == 503 and int(answer["retry_after"]) > 0), answer
