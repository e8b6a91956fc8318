"""Step timing and conditions in the protocol graph: services, API, new versions, import and export."""

import json

import pytest
from django.core.management import call_command

from labcore.exceptions import ApplicationError, ConflictError
from tests.factories import ProjectFactory
from tests.workflows.factories import protocol_make, registry_make, steps_spec
from workflows.models import Protocol, Step
from workflows.services.protocol_io import protocol_export, protocol_import
from workflows.services.protocols import protocol_create, protocol_new_version, protocol_publish, protocol_update
from workflows.step_timing import STEP_TIMING_FIELDS

CONFLUENT = {"metric": "confluence", "op": ">=", "value": 80, "samples": "all"}
IMAGING = {
    "start_after_seconds": 86400,
    "window_seconds": 1800,
    "on_window_missed": "fail",
    "repeat_every_seconds": 43200,
    "repeat_max": 14,
    "until": CONFLUENT,
    "run_if": {"metric": "viability", "op": ">", "value": 0.7, "samples": "any"},
    "keep_devices": False,
}
UNSET = {
    "start_after_seconds": None,
    "window_seconds": None,
    "on_window_missed": "run_late",
    "repeat_every_seconds": None,
    "repeat_max": None,
    "until": None,
    "run_if": None,
    "keep_devices": False,
}


def timed_steps() -> list[dict]:
    """Three steps: the first keeps its devices for the second, the third images every 12 h."""
    steps = steps_spec(3)
    steps[0]["keep_devices"] = True
    steps[2].update(IMAGING)
    return steps


def timing(protocol: Protocol) -> list[dict]:
    return [{f: getattr(step, f) for f in STEP_TIMING_FIELDS} for step in protocol.steps.order_by("position")]


@pytest.fixture
def registry(db):
    return registry_make()


def test_a_draft_keeps_its_steps_timing(registry):
    protocol = protocol_create(project=ProjectFactory(), name="Timed", steps=timed_steps())
    assert timing(protocol) == [{**UNSET, "keep_devices": True}, UNSET, IMAGING]


def test_a_bad_timing_is_refused_by_path_and_nothing_is_written(registry):
    protocol = protocol_make(2)
    steps = timed_steps()
    steps[2]["repeat_max"] = None
    steps[1]["window_seconds"] = float("nan")
    with pytest.raises(ApplicationError) as refused:
        protocol_update(protocol=protocol, steps=steps)
    assert refused.value.fields == {
        "steps[1].window_seconds": ["must be a finite number (NaN and Infinity are refused)"],
        "steps[2].repeat_max": ["required with repeat_every_seconds: how many runs at most"],
    }
    assert timing(protocol) == [UNSET, UNSET]
    assert Step.objects.filter(protocol=protocol).count() == 2


def test_keep_devices_on_the_last_step_is_refused(registry):
    steps = steps_spec(2)
    steps[1]["keep_devices"] = True
    with pytest.raises(ApplicationError) as refused:
        protocol_create(project=ProjectFactory(), name="Chained", steps=steps)
    assert list(refused.value.fields) == ["steps[1].keep_devices"]


def test_a_published_protocol_stays_frozen_and_its_new_version_copies_the_timing(registry):
    protocol = protocol_publish(protocol=protocol_create(project=ProjectFactory(), name="T", steps=timed_steps()))
    with pytest.raises(ConflictError):
        protocol_update(protocol=protocol, steps=steps_spec(3))
    draft = protocol_new_version(protocol=protocol)
    assert timing(draft) == timing(protocol)


def test_publish_refuses_a_draft_whose_rows_break_the_rules(registry):
    protocol = protocol_make(2)
    Step.objects.filter(protocol=protocol, position=1).update(repeat_max=3)  # written around the services
    with pytest.raises(ApplicationError) as refused:
        protocol_publish(protocol=protocol)
    assert list(refused.value.fields) == ["steps[0].repeat_every_seconds"]


def test_export_then_import_gives_the_same_timing(registry):
    original = protocol_publish(protocol=protocol_create(project=ProjectFactory(), name="T", steps=timed_steps()))
    document = protocol_export(original)
    assert [step["repeat_every_seconds"] for step in document["steps"]] == [None, None, 43200]
    assert document["steps"][2]["until"] == CONFLUENT and document["steps"][0]["keep_devices"] is True
    imported = protocol_import(document=document, project_name="Elsewhere")
    assert timing(imported) == timing(original)
    again = protocol_export(imported)
    assert json.dumps({**again, "project": None}) == json.dumps({**document, "project": None})


def test_a_document_from_before_timing_still_imports(registry):
    document = protocol_export(protocol_make(2, name="Old"))
    for step in document["steps"]:
        for field in STEP_TIMING_FIELDS:
            del step[field]
    document["version"] = "1.0"
    imported = protocol_import(document=document)
    assert timing(imported) == [UNSET, UNSET]


def test_an_import_with_bad_timing_names_the_step_and_writes_nothing(registry):
    document = protocol_export(protocol_create(project=ProjectFactory(), name="T", steps=timed_steps()))
    document["version"] = "2.0"
    document["steps"][2]["window_seconds"] = float("inf")
    document["steps"][1]["until"] = CONFLUENT
    before = Protocol.objects.count()
    with pytest.raises(ApplicationError) as refused:
        protocol_import(document=document, project_name="Elsewhere")
    assert set(refused.value.fields) == {"steps[2].window_seconds", "steps[1].until"}
    assert Protocol.objects.count() == before


def test_the_commands_round_trip_timing_through_a_file(registry, tmp_path):
    original = protocol_publish(protocol=protocol_create(project=ProjectFactory(), name="T", steps=timed_steps()))
    path = tmp_path / "timed.json"
    call_command("export_protocol", str(original.pk), "--output", str(path))
    assert json.loads(path.read_text())["steps"][2]["window_seconds"] == 1800
    Protocol.objects.filter(pk=original.pk).delete()
    call_command("import_protocol", str(path))
    imported = Protocol.objects.get(name="T")
    call_command("export_protocol", str(imported.pk), "--output", str(tmp_path / "again.json"))
    assert (tmp_path / "again.json").read_text() == path.read_text()


# --- API ---------------------------------------------------------------------------------------


def test_the_api_writes_and_reads_the_timing_fields(api_client, registry):
    project = ProjectFactory()
    response = api_client.post(
        "/api/protocols", {"project": project.pk, "name": "T", "steps": timed_steps()}, format="json"
    )
    assert response.status_code == 201, response.json()
    steps = response.json()["steps"]
    assert {f: steps[2][f] for f in STEP_TIMING_FIELDS} == IMAGING
    assert {f: steps[1][f] for f in STEP_TIMING_FIELDS} == UNSET
    assert steps[0]["keep_devices"] is True
    read = api_client.get(f"/api/protocols/{response.json()['id']}").json()["steps"]
    assert read == steps


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("window_seconds", -1, "steps[1].window_seconds"),
        ("window_seconds", 0, "steps[1].window_seconds"),
        ("window_seconds", "30 min", "steps[1].window_seconds"),
        ("start_after_seconds", True, "steps[1].start_after_seconds"),
        ("start_after_seconds", 10**12, "steps[1].start_after_seconds"),
        ("repeat_max", 5, "steps[1].repeat_every_seconds"),
        ("repeat_max", 1001, "steps[1].repeat_max"),
        ("repeat_max", "3", "steps[1].repeat_max"),
        ("on_window_missed", "retry", "steps[1].on_window_missed"),
        ("until", CONFLUENT, "steps[1].until"),
        ("run_if", {"metric": "confluence", "op": "==", "value": 3}, "steps[1].run_if"),
        ("keep_devices", "yes", "steps[1].keep_devices"),
        ("keep_devices", True, "steps[1].keep_devices"),
    ],
)
def test_bad_timing_in_the_api_is_a_400_naming_the_field(api_client, registry, field, value, path):
    steps = steps_spec(2)
    steps[1][field] = value
    response = api_client.post(
        "/api/protocols", {"project": ProjectFactory().pk, "name": "T", "steps": steps}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert list(response.json()["fields"]) == [path]
    assert not Protocol.objects.filter(name="T").exists()


def test_nan_and_infinity_in_the_api_are_400s(api_client, registry):
    project = ProjectFactory()

    def post(literal):
        body = f'{{"project": {project.pk}, "name": "T", "steps": [{{"name": "a", "window_seconds": {literal}}}]}}'
        return api_client.generic("POST", "/api/protocols", body, content_type="application/json")

    for literal in ("NaN", "Infinity", "-Infinity"):  # refused by the strict JSON parser
        response = post(literal)
        assert response.status_code == 400 and "not JSON compliant" in response.json()["detail"], response.content
    response = post("1e400")  # valid JSON that Python reads as infinity
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["steps[0].window_seconds"]
    assert not Protocol.objects.filter(name="T").exists()


def test_patching_other_fields_keeps_the_timing(api_client, registry):
    protocol = protocol_create(project=ProjectFactory(), name="T", steps=timed_steps())
    response = api_client.patch(f"/api/protocols/{protocol.pk}", {"description": "new"}, format="json")
    assert response.status_code == 200
    assert timing(protocol) == [{**UNSET, "keep_devices": True}, UNSET, IMAGING]
