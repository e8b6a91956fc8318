"""The admin protocol editor: nested steps and actions, summary, frozen versions, constant queries."""

import json
import re
import threading

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from tests.factories import SampleFactory, UserFactory
from tests.utils import queries_for
from tests.workflows.factories import protocol_make, registry_make
from workflows.models import Action, Protocol, Workflow
from workflows.services.protocols import protocol_publish


@pytest.fixture
def admin_client(db):
    client = Client()
    client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    return client


def change_url(protocol):
    return reverse("admin:workflows_protocol_change", args=[protocol.pk])


@pytest.mark.django_db
def test_the_demo_protocol_opens_in_the_editor_with_its_summary(admin_client, demo_lab):
    protocol = Protocol.objects.get(name="MSC passage P3 -> P4")
    response = admin_client.get(change_url(protocol))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="protocol-summary"' in page
    assert '<td id="summary-steps">5</td>' in page
    assert '<td id="summary-actions">14</td>' in page
    assert "incubator, liquid_handler, microscope, robot_arm, vision" in page
    assert "incubator-1, liquid-handler-1, microscope-1, robot-arm-1, vision-1" in page
    assert '<td id="summary-duration">46 min 45 s</td>' in page
    for step in ["Pre-warm media @ 37°C", "PBS wash × 2", "Reseed at 5000 cells/cm²"]:
        assert step in page
    assert "published and frozen" in page  # the demo version is published: read-only


@pytest.mark.django_db
def test_editor_pages_use_the_same_number_of_queries_at_2_and_20_steps(admin_client, django_assert_num_queries):
    registry_make()
    small = protocol_make(2, name="Small")
    changelist = reverse("admin:workflows_protocol_changelist")
    changelist_queries = queries_for(lambda: admin_client.get(changelist))
    change_queries = queries_for(lambda: admin_client.get(change_url(small)))
    large = protocol_make(20, name="Large")
    with django_assert_num_queries(changelist_queries):
        assert admin_client.get(changelist).status_code == 200
    with django_assert_num_queries(change_queries):
        page = admin_client.get(change_url(large)).content.decode()
    assert page.count('name="steps-19-name"') == 1
    assert 'name="steps-19-actions-1-parameters"' in page


def management_form(prefix, total, initial):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def editor_post(protocol, steps):
    """The POST the editor sends for ``steps``: [(step, [(action, type_id, params_json)])]."""
    data = {
        "project": protocol.project_id,
        "name": protocol.name,
        "version_major": protocol.version_major,
        "version_minor": protocol.version_minor,
        "description": "",
        **management_form("steps", len(steps), len(steps)),
    }
    for i, (step, actions) in enumerate(steps):
        data.update({f"steps-{i}-id": step.pk, f"steps-{i}-protocol": protocol.pk, f"steps-{i}-position": i})
        data.update({f"steps-{i}-name": step.name, f"steps-{i}-description": ""})
        prefix = f"steps-{i}-actions"
        data.update(management_form(prefix, len(actions), len(actions)))
        for j, (action, type_id, parameters) in enumerate(actions):
            data.update({f"{prefix}-{j}-id": action.pk, f"{prefix}-{j}-step": step.pk, f"{prefix}-{j}-position": j})
            data.update({f"{prefix}-{j}-action_type": type_id, f"{prefix}-{j}-parameters": parameters})
            data.update({f"{prefix}-{j}-device": ""})
    return data


def current_graph(protocol):
    return [
        (s.name, [(a.action_type.name, a.parameters) for a in s.actions.order_by("position")])
        for s in protocol.steps.order_by("position")
    ]


@pytest.mark.django_db
def test_a_published_page_lists_parameters_readably_in_the_same_queries_at_2_and_20_steps(
    admin_client, django_assert_num_queries
):
    registry_make()
    small = protocol_make(2, name="Small", published=True)
    small_queries = queries_for(lambda: admin_client.get(change_url(small)))
    large = protocol_make(20, name="Large", published=True)
    with django_assert_num_queries(small_queries):
        page = admin_client.get(change_url(large)).content.decode()
    # "volume: 10 µL" lines, not JSON, and not the hidden position field's dict ({'name': 'position', ...}).
    lines = re.findall(r'<span class="action-parameter-list"><span>volume: (\d+) µL</span></span>', page)
    transfers = Action.objects.filter(step__protocol=large, action_type__name="test.transfer")
    assert sorted(map(int, lines)) == sorted(action.parameters["volume_ul"] for action in transfers)
    assert "&#x27;name&#x27;" not in page and "is_hidden" not in page
    assert "{&quot;volume_ul&quot;" not in page
    assert "any device of the type&#x27;s kind" in page


@pytest.mark.django_db
def test_the_editor_offers_no_registry_or_device_edits_next_to_an_action(admin_client):
    """The red cross next to an action's type deleted the ActionType itself; only "view" is left."""
    registry_make()
    page = admin_client.get(change_url(protocol_make(2))).content.decode()
    assert 'name="steps-0-actions-0-action_type"' in page
    assert not re.findall(r'id="(?:delete|change|add)_id_steps-[^"]*"', page)
    assert 'id="view_id_steps-0-actions-0-action_type"' in page
    assert 'id="view_id_steps-0-actions-0-device"' in page
    # The registry page itself still has its own delete, for those allowed to manage it.
    assert admin_client.get(reverse("admin:devices_actiontype_changelist")).status_code == 200


@pytest.mark.django_db
def test_a_bad_parameter_is_shown_on_the_field_and_nothing_is_saved(admin_client):
    registry_make()
    protocol = protocol_make(2)
    steps = [
        (s, [(a, a.action_type_id, json.dumps(a.parameters)) for a in s.actions.order_by("position")])
        for s in protocol.steps.order_by("position")
    ]
    first_action = steps[0][1][0]
    steps[0][1][0] = (first_action[0], first_action[1], '{"volume_ul": -1}')
    before = current_graph(protocol)
    response = admin_client.post(change_url(protocol), editor_post(protocol, steps[::-1]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "volume must be more than 0 µL" in page  # plain words with the unit, not jsonschema's
    assert current_graph(protocol) == before


@pytest.mark.django_db
def test_reordered_steps_are_saved_with_positions_1_to_n(admin_client):
    registry_make()
    protocol = protocol_make(3)
    steps = [
        (s, [(a, a.action_type_id, json.dumps(a.parameters)) for a in s.actions.order_by("position")])
        for s in protocol.steps.order_by("position")
    ]
    response = admin_client.post(change_url(protocol), editor_post(protocol, [steps[2], steps[0], steps[1]]))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert [name for name, _ in current_graph(protocol)] == ["Step 3", "Step 1", "Step 2"]
    assert list(protocol.steps.order_by("position").values_list("position", flat=True)) == [1, 2, 3]


@pytest.mark.django_db
def test_a_published_protocol_refuses_edits(admin_client):
    registry_make()
    protocol = protocol_make(2, published=True)
    steps = [
        (s, [(a, a.action_type_id, json.dumps(a.parameters)) for a in s.actions.order_by("position")])
        for s in protocol.steps.order_by("position")
    ]
    page = admin_client.get(change_url(protocol)).content.decode()
    assert "published and frozen" in page and 'name="_save"' not in page
    data = editor_post(protocol, steps[::-1])
    data["name"] = "Renamed"
    assert admin_client.post(change_url(protocol), data).status_code == 403
    protocol.refresh_from_db()
    assert protocol.name == "Passage" and current_graph(protocol)[0][0] == "Step 1"


@pytest.mark.django_db
def test_publish_new_version_and_run_from_the_editor(admin_client):
    registry_make()
    protocol = protocol_make(2)
    admin_client.post(reverse("admin:workflows_protocol_publish", args=[protocol.pk]))
    protocol.refresh_from_db()
    assert protocol.is_published
    response = admin_client.post(reverse("admin:workflows_protocol_new_version", args=[protocol.pk]))
    draft = Protocol.objects.get(previous_version=protocol)
    assert response.url == change_url(draft) and draft.version == "0.2"
    samples = [SampleFactory(), SampleFactory()]
    run_url = reverse("admin:workflows_protocol_run", args=[protocol.pk])
    assert admin_client.get(run_url).status_code == 200
    response = admin_client.post(
        run_url, {"name": "From admin", "samples": [s.pk for s in samples], "priority": "urgent", "mode": "auto"}
    )
    workflow = Workflow.objects.get(name="From admin")
    assert response.status_code == 302
    assert workflow.run_steps.count() == 4 and workflow.get_priority_display() == "urgent"
    response = admin_client.post(
        reverse("admin:workflows_protocol_run", args=[draft.pk]),
        {"name": "Draft run", "priority": "normal", "mode": "auto"},
    )
    assert response.status_code == 200 and "publish it before running it" in response.content.decode()
    assert not Workflow.objects.filter(name="Draft run").exists()


@pytest.mark.django_db
def test_export_and_import_from_the_admin(admin_client, demo_lab):
    protocol = Protocol.objects.get(name="MSC passage P3 -> P4")
    response = admin_client.get(reverse("admin:workflows_protocol_export", args=[protocol.pk]))
    document = json.loads(response.content)
    assert document["name"] == protocol.name and len(document["steps"]) == 5
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("msc.json", response.content, content_type="application/json")
    response = admin_client.post(reverse("admin:workflows_protocol_import"), {"file": upload, "project": "Imported"})
    assert response.status_code == 302
    imported = Protocol.objects.get(project__name="Imported")
    assert current_graph(imported) == current_graph(protocol)
    upload = SimpleUploadedFile("msc.json", b'{"format": "nope"}', content_type="application/json")
    response = admin_client.post(reverse("admin:workflows_protocol_import"), {"file": upload})
    assert response.status_code == 200 and "not a LabCore protocol document" in response.content.decode()


@pytest.mark.django_db
def test_the_run_action_of_the_list_opens_the_run_page(admin_client):
    registry_make()
    protocol = protocol_make(1, published=True)
    changelist = reverse("admin:workflows_protocol_changelist")
    response = admin_client.post(changelist, {"action": "run_selected", "_selected_action": [protocol.pk]})
    assert response.status_code == 302
    assert response.url == reverse("admin:workflows_protocol_run", args=[protocol.pk])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "x" * 300}, "name"),
        ({"name": "bad\u0000name"}, "name"),
        ({"project": {"name": "p" * 300}}, "name"),
        ({"description": "held\u0000"}, "description"),
    ],
)
def test_import_of_a_document_the_database_cannot_hold_is_a_form_error(admin_client, demo_lab, change, field):
    # A model ValidationError (too long, out of range) or a NUL escaped the import view as a 500.
    from django.core.files.uploadedfile import SimpleUploadedFile

    protocol = Protocol.objects.get(name="MSC passage P3 -> P4")
    document = json.loads(admin_client.get(reverse("admin:workflows_protocol_export", args=[protocol.pk])).content)
    document.update(change)
    upload = SimpleUploadedFile("bad.json", json.dumps(document).encode(), content_type="application/json")
    before = Protocol.objects.count()
    response = admin_client.post(reverse("admin:workflows_protocol_import"), {"file": upload, "project": ""})
    assert response.status_code == 200
    assert field in response.content.decode()
    assert Protocol.objects.count() == before


def test_import_of_a_step_name_with_a_nul_names_the_step(demo_lab):
    from labcore.exceptions import ApplicationError
    from workflows.services.protocol_io import protocol_export, protocol_import

    document = protocol_export(Protocol.objects.get(name="MSC passage P3 -> P4"))
    document["version"] = "9.9"
    document["steps"][1]["name"] = "wash\u0000"
    with pytest.raises(ApplicationError) as refused:
        protocol_import(document=document)
    assert list(refused.value.fields) == ["steps.1.name"]


@pytest.mark.django_db(transaction=True)
def test_an_editor_save_waits_for_a_publish_in_flight_and_then_refuses(admin_client):
    """The editor's save locks the protocol row (docs/decisions.md): it cannot land on a version
    that a concurrent publish is freezing. Without the lock it read "draft" and saved over it."""
    registry_make()
    protocol = protocol_make(2)
    steps = [
        (s, [(a, a.action_type_id, json.dumps(a.parameters)) for a in s.actions.order_by("position")])
        for s in protocol.steps.order_by("position")
    ]
    data = editor_post(protocol, steps[::-1])
    data["name"] = "Renamed"
    publishing, commit = threading.Event(), threading.Event()

    def publisher():
        try:
            with transaction.atomic():
                protocol_publish(protocol=Protocol.objects.get(pk=protocol.pk))
                publishing.set()
                commit.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=publisher)
    thread.start()
    assert publishing.wait(10)
    threading.Timer(0.5, commit.set).start()  # the save below blocks on the row until then
    response = admin_client.post(change_url(protocol), data, follow=True)
    thread.join(10)
    # Refused under the lock, and said on the page (not a 500): the save was rolled back.
    assert response.status_code == 200
    assert any("published and frozen" in str(m) for m in response.context["messages"])
    protocol.refresh_from_db()
    assert protocol.is_published and protocol.name == "Passage"
    assert current_graph(protocol)[0][0] == "Step 1"
