"""The workflow list shows samples and steps in a constant number of queries (seed bug 4)."""

import pytest

from tests.factories import RunStepFactory, SampleFactory, WorkflowFactory
from tests.utils import queries_for
from workflows.models import WorkflowSample


def make_workflows(count: int) -> None:
    for _ in range(count):
        workflow = WorkflowFactory()
        RunStepFactory.create_batch(2, workflow=workflow)
        WorkflowSample.objects.create(workflow=workflow, sample=SampleFactory(), position=1)


@pytest.mark.django_db
def test_workflow_list_queries_do_not_grow_with_rows(api_client):
    make_workflows(3)
    few = queries_for(lambda: api_client.get("/api/workflows", {"page_size": 100}))
    make_workflows(27)
    response_holder = {}
    many = queries_for(lambda: response_holder.update(r=api_client.get("/api/workflows", {"page_size": 100})))
    assert few == many
    results = response_holder["r"].json()["results"]
    assert len(results) == 30
    assert all(len(w["steps"]) == 2 and len(w["samples"]) == 1 for w in results)
