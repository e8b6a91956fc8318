"""The admin editor edits a step's timing as readable durations and its conditions as JSON."""

import json

import pytest

from tests.workflows.factories import protocol_make, registry_make
from tests.workflows.test_protocol_admin import admin_client, change_url, editor_post  # noqa: F401 (fixture)
from workflows.models import Step
from workflows.services.protocols import protocol_publish

CONFLUENT = {"metric": "confluence", "op": ">=", "value": 80, "samples": "all"}


def editor_steps(protocol):
    return [
        (s, [(a, a.action_type_id, json.dumps(a.parameters)) for a in s.actions.order_by("position")])
        for s in protocol.steps.order_by("position")
    ]


def post_with_timing(protocol, timings: list[dict]):
    """The editor's POST with each step's timing fields as a person types them."""
    data = editor_post(protocol, editor_steps(protocol))
    for index, timing in enumerate(timings):
        defaults = {"start_after_seconds": "", "window_seconds": "", "on_window_missed": "run_late"}
        defaults |= {"repeat_every_seconds": "", "repeat_max": "", "until": "", "run_if": ""}
        for field, value in (defaults | timing).items():
            if field == "keep_devices":
                if value:
                    data[f"steps-{index}-keep_devices"] = "on"
            else:
                data[f"steps-{index}-{field}"] = value
    return data


def timing_of(protocol):
    return list(
        protocol.steps.order_by("position").values_list(
            "start_after_seconds", "window_seconds", "repeat_every_seconds", "repeat_max", "until", "keep_devices"
        )
    )


@pytest.mark.django_db
def test_durations_are_typed_as_people_say_them_and_saved_as_seconds(admin_client):  # noqa: F811
    registry_make()
    protocol = protocol_make(3)
    timings = [
        {"keep_devices": True},
        {},
        {
            "start_after_seconds": "1 d 2 h",
            "window_seconds": "30 min",
            "repeat_every_seconds": "12 h",
            "repeat_max": "14",
            "until": json.dumps(CONFLUENT),
        },
    ]
    response = admin_client.post(change_url(protocol), post_with_timing(protocol, timings))
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert timing_of(protocol) == [
        (None, None, None, None, None, True),
        (None, None, None, None, None, False),
        (93600, 1800, 43200, 14, CONFLUENT, False),
    ]
    page = admin_client.get(change_url(protocol)).content.decode()
    assert 'name="steps-2-start_after_seconds" value="26 h"' in page
    assert 'name="steps-2-window_seconds" value="30 min"' in page
    assert 'name="steps-2-repeat_every_seconds" value="12 h"' in page


@pytest.mark.django_db
def test_plain_seconds_are_accepted_too(admin_client):  # noqa: F811
    registry_make()
    protocol = protocol_make(1)
    response = admin_client.post(change_url(protocol), post_with_timing(protocol, [{"start_after_seconds": "90"}]))
    assert response.status_code == 302
    assert Step.objects.get(protocol=protocol).start_after_seconds == 90
    assert 'value="1 min 30 s"' in admin_client.get(change_url(protocol)).content.decode()


@pytest.mark.parametrize(
    ("timings", "message"),
    [
        ([{"start_after_seconds": "soon"}, {}], "cannot read"),
        ([{"window_seconds": "5 weeks"}, {}], "unknown unit"),
        ([{"window_seconds": "0"}, {}], "must be more than 0"),
        ([{"start_after_seconds": "400 d"}, {}], "365 days"),
        ([{"repeat_every_seconds": "12 h"}, {}], "required with repeat_every_seconds"),
        ([{"repeat_max": "3"}, {}], "required with repeat_max"),
        ([{}, {"until": json.dumps(CONFLUENT)}], "only a repeating step"),
        ([{}, {"run_if": '{"metric": "colour", "op": ">=", "value": 1}'}], "metric must be one of"),
        ([{}, {"run_if": "{not json"}], "Enter a valid JSON"),
        ([{}, {"keep_devices": True}], "the last step has no next step"),
        ([{"keep_devices": True}, {"start_after_seconds": "1 h"}], "sit booked and idle"),
        ([{"on_window_missed": "fail"}, {}], "fail needs window_seconds"),
    ],
)
@pytest.mark.django_db
def test_bad_timing_is_shown_on_the_field_and_nothing_is_saved(admin_client, timings, message):  # noqa: F811
    registry_make()
    protocol = protocol_make(2)
    before = timing_of(protocol)
    response = admin_client.post(change_url(protocol), post_with_timing(protocol, timings))
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    assert 'class="errorlist' in page
    assert timing_of(protocol) == before


@pytest.mark.django_db
def test_keep_devices_follows_the_new_order_of_the_steps(admin_client):  # noqa: F811
    registry_make()
    protocol = protocol_make(2)
    data = post_with_timing(protocol, [{"keep_devices": True}, {}])
    data["steps-0-position"], data["steps-1-position"] = 1, 0  # dragged below the other: now the last step
    response = admin_client.post(change_url(protocol), data)
    assert response.status_code == 200
    assert "the last step has no next step" in response.content.decode()


@pytest.mark.django_db
def test_a_published_protocol_shows_its_timing_as_durations(admin_client):  # noqa: F811
    registry_make()
    protocol = protocol_make(2)
    Step.objects.filter(protocol=protocol, position=2).update(
        start_after_seconds=432000, window_seconds=1800, repeat_every_seconds=172800, repeat_max=3
    )
    protocol_publish(protocol=protocol)
    page = admin_client.get(change_url(protocol)).content.decode()
    for text in ("5 d", "30 min", "48 h"):
        assert f"<p>{text}</p>" in page
