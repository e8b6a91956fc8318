"""Publishing freezes a protocol; a new version copies it exactly; export/import round-trips."""

import json

import pytest
from django.core.management import call_command

from devices.models import ActionType
from labcore.exceptions import ApplicationError, ConflictError
from tests.factories import ProjectFactory
from tests.workflows.factories import protocol_make, registry_make, steps_spec
from workflows.choices import ProtocolStatus
from workflows.models import Project, Protocol, Step
from workflows.services.protocol_io import protocol_export, protocol_import
from workflows.services.protocols import (
    protocol_create,
    protocol_new_version,
    protocol_publish,
    protocol_steps_reorder,
    protocol_update,
)


def graph(protocol: Protocol) -> list:
    return [
        (
            step.position,
            step.name,
            step.description,
            [(a.position, a.action_type.name, a.parameters, a.device_id) for a in step.actions.order_by("position")],
        )
        for step in protocol.steps.order_by("position")
    ]


@pytest.mark.django_db
def test_publishing_freezes_the_protocol():
    registry_make()
    protocol = protocol_publish(protocol=protocol_make(2))
    assert protocol.status == ProtocolStatus.PUBLISHED and protocol.published_at
    before = graph(protocol)
    with pytest.raises(ConflictError, match="published"):
        protocol_update(protocol=protocol, name="Other", steps=steps_spec(1))
    with pytest.raises(ConflictError):
        protocol_steps_reorder(protocol=protocol, step_ids=list(protocol.steps.values_list("pk", flat=True))[::-1])
    with pytest.raises(ConflictError):
        protocol_publish(protocol=protocol)
    protocol.refresh_from_db()
    assert protocol.name == "Passage" and graph(protocol) == before


@pytest.mark.django_db
def test_an_empty_draft_cannot_be_published():
    registry_make()
    protocol = protocol_create(project=ProjectFactory(), name="Empty", steps=[{"name": "nothing", "actions": []}])
    with pytest.raises(ApplicationError) as error:
        protocol_publish(protocol=protocol)
    assert "steps" in error.value.fields


@pytest.mark.django_db
def test_publishing_rechecks_parameters_against_the_current_schema():
    registry_make()
    protocol = protocol_make(2)
    ActionType.objects.filter(name="test.transfer").update(
        parameter_schema={"type": "object", "properties": {"volume_ul": {"type": "number", "maximum": 15}}}
    )
    with pytest.raises(ApplicationError) as error:
        protocol_publish(protocol=protocol)
    assert list(error.value.fields) == ["steps[1].actions[0].parameters.volume_ul"]
    protocol.refresh_from_db()
    assert protocol.status == ProtocolStatus.DRAFT


@pytest.mark.django_db
def test_new_version_increments_and_copies_exactly():
    registry_make()
    published = protocol_make(3, published=True, pinned=True)
    draft = protocol_new_version(protocol=published)
    assert (draft.version, draft.status, draft.previous_version_id) == ("0.2", ProtocolStatus.DRAFT, published.pk)
    assert graph(draft) == graph(published)
    assert not set(draft.steps.values_list("pk", flat=True)) & set(published.steps.values_list("pk", flat=True))
    with pytest.raises(ConflictError, match="already exists"):
        protocol_new_version(protocol=published)
    protocol_publish(protocol=draft)
    assert protocol_new_version(protocol=published).version == "0.3"


@pytest.mark.django_db
def test_reordering_steps_keeps_their_actions():
    registry_make()
    protocol = protocol_make(3)
    ids = list(protocol.steps.order_by("position").values_list("pk", flat=True))
    protocol_steps_reorder(protocol=protocol, step_ids=[ids[2], ids[0], ids[1]])
    assert [s[1] for s in graph(protocol)] == ["Step 3", "Step 1", "Step 2"]
    assert graph(protocol)[0][3][0][2] == {"volume_ul": 30}


@pytest.mark.django_db
def test_import_of_an_export_gives_an_identical_graph(demo_lab):
    original = Protocol.objects.get(name="MSC passage P3 -> P4")
    document = protocol_export(original)
    imported = protocol_import(document=document, project_name="Copy lab")
    assert graph(imported) == graph(original)
    assert (imported.version, imported.status, imported.description) == ("0.4", "published", original.description)
    again = protocol_export(imported)
    assert {**again, "project": None} == {**document, "project": None}
    assert json.dumps(again["steps"], sort_keys=True) == json.dumps(document["steps"], sort_keys=True)


@pytest.mark.django_db
def test_importing_an_existing_version_is_a_conflict_and_bad_documents_change_nothing(demo_lab):
    document = protocol_export(Protocol.objects.get(name="MSC passage P3 -> P4"))
    with pytest.raises(ConflictError):
        protocol_import(document=document)
    bad = {**document, "version": "9.9", "steps": [{"name": "x", "actions": [{"action_type": "nope"}]}]}
    with pytest.raises(ApplicationError) as error:
        protocol_import(document=bad, project_name="Elsewhere")
    assert "steps[0].actions[0].action_type" in error.value.fields
    with pytest.raises(ApplicationError) as error:
        protocol_import(document={"format": "other"})
    assert {"format", "name", "version", "steps"} <= set(error.value.fields)
    assert (
        not Protocol.objects.filter(version_major=9).exists() and not Project.objects.filter(name="Elsewhere").exists()
    )
    assert Step.objects.filter(protocol__name="MSC passage P3 -> P4").count() == 5


@pytest.mark.django_db
def test_the_commands_round_trip_through_a_file(demo_lab, tmp_path, capsys):
    original = Protocol.objects.get(name="MSC passage P3 -> P4")
    path = tmp_path / "msc.json"
    call_command("export_protocol", str(original.pk), "--output", str(path))
    exported = path.read_text()
    original_graph = graph(original)
    Protocol.objects.filter(pk=original.pk).delete()
    call_command("import_protocol", str(path))
    assert "imported MSC passage P3 -> P4 v0.4" in capsys.readouterr().out
    imported = Protocol.objects.get(name="MSC passage P3 -> P4")
    assert graph(imported) == original_graph
    call_command("export_protocol", str(imported.pk), "--output", str(tmp_path / "again.json"))
    assert (tmp_path / "again.json").read_text() == exported
