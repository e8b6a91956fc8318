"""Creating workflows materialises one run-step per action, validated before anything is written."""

import pytest

from devices.choices import DeviceKind, DeviceStatus, Priority
from labcore.exceptions import ApplicationError, ConflictError
from tests.factories import ActionTypeFactory, DeviceFactory, SampleFactory
from tests.workflows.factories import protocol_make, registry_make
from workflows.choices import WorkflowMode
from workflows.models import RunStep, Workflow
from workflows.services.creation import workflow_create_from_protocol, workflow_create_from_steps


@pytest.mark.django_db
def test_a_workflow_from_a_protocol_has_one_run_step_per_action_in_order():
    registry = registry_make()
    protocol = protocol_make(3, published=True)
    samples = [SampleFactory(), SampleFactory()]
    workflow = workflow_create_from_protocol(
        name="run", protocol=protocol, samples=samples[::-1], priority=Priority.URGENT
    )
    run_steps = list(workflow.run_steps.order_by("position"))
    assert [(r.position, r.step_name, r.action_type.name) for r in run_steps] == [
        (1, "Step 1", "test.transfer"),
        (2, "Step 1", "test.warm"),
        (3, "Step 2", "test.transfer"),
        (4, "Step 2", "test.warm"),
        (5, "Step 3", "test.transfer"),
        (6, "Step 3", "test.warm"),
    ]
    assert all(r.device.kind == r.action_type.device_kind for r in run_steps)
    assert [r.device_id for r in run_steps[:2]] == [registry["handler"].id, registry["incubator"].id]
    # Schema defaults are applied in the plan, explicit values kept.
    assert run_steps[0].parameters == {"volume_ul": 10}
    assert run_steps[1].parameters == {"minutes": 5}
    assert [link.sample for link in workflow.workflow_samples.order_by("position")] == samples[::-1]
    assert workflow.mode == WorkflowMode.AUTO and workflow.priority == Priority.URGENT


@pytest.mark.django_db
def test_unpinned_actions_prefer_the_first_available_device_of_their_kind():
    registry_make()
    DeviceFactory(id="handler-0", kind=DeviceKind.LIQUID_HANDLER, status=DeviceStatus.MAINTENANCE)
    protocol = protocol_make(1, published=True)
    workflow = workflow_create_from_protocol(name="run", protocol=protocol, samples=[], priority=Priority.NORMAL)
    assert workflow.run_steps.order_by("position").first().device_id == "handler-a"


@pytest.mark.django_db
def test_pinned_devices_are_kept():
    registry_make()
    DeviceFactory(id="incubator-0", kind=DeviceKind.INCUBATOR)
    protocol = protocol_make(1, published=True, pinned=True)
    workflow = workflow_create_from_protocol(name="run", protocol=protocol, samples=[], priority=Priority.NORMAL)
    assert list(workflow.run_steps.order_by("position").values_list("device_id", flat=True)) == [
        "handler-a",
        "incubator-a",
    ]


@pytest.mark.django_db
def test_a_draft_protocol_cannot_be_run():
    registry_make()
    protocol = protocol_make(1)
    with pytest.raises(ConflictError) as error:
        workflow_create_from_protocol(name="run", protocol=protocol, samples=[], priority=Priority.NORMAL)
    assert "protocol" in error.value.fields
    assert not Workflow.objects.exists()


@pytest.mark.django_db
def test_a_missing_device_kind_is_a_400_and_writes_nothing():
    registry = registry_make()
    protocol = protocol_make(1, published=True)
    registry["incubator"].delete()
    with pytest.raises(ApplicationError) as error:
        workflow_create_from_protocol(name="run", protocol=protocol, samples=[SampleFactory()], priority=1)
    assert list(error.value.fields) == ["steps[0].actions[1].device"]
    assert not Workflow.objects.exists() and not RunStep.objects.exists()


@pytest.mark.django_db
def test_a_step_list_workflow_runs_each_named_type_on_its_device():
    registry = registry_make()
    ActionTypeFactory(name="test.mix", device_kind=DeviceKind.LIQUID_HANDLER)
    workflow = workflow_create_from_steps(
        name="adhoc", device=registry["handler"], samples=[SampleFactory()], step_names=["test.transfer", "test.mix"]
    )
    assert workflow.mode == WorkflowMode.MANUAL and workflow.device_id == "handler-a"
    assert list(workflow.run_steps.order_by("position").values_list("step_name", "device_id", "parameters")) == [
        ("test.transfer", "handler-a", {"volume_ul": 100}),
        ("test.mix", "handler-a", {}),
    ]


@pytest.mark.django_db
def test_a_step_list_names_every_unknown_type():
    registry = registry_make()
    with pytest.raises(ApplicationError) as error:
        workflow_create_from_steps(
            name="adhoc", device=registry["handler"], samples=[], step_names=["nope", "test.transfer", "nada"]
        )
    assert "nope" in error.value.message and "nada" in error.value.message
    assert "steps" in error.value.fields
    assert not Workflow.objects.exists()


@pytest.mark.django_db
def test_a_step_list_refuses_a_type_of_another_kind():
    registry = registry_make()
    with pytest.raises(ApplicationError) as error:
        workflow_create_from_steps(name="adhoc", device=registry["handler"], samples=[], step_names=["test.warm"])
    assert "test.warm" in error.value.message
    assert not Workflow.objects.exists()
