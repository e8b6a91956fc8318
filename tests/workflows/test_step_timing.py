"""The rules of a step's timing and conditions (workflows.step_timing), errors named by path."""

import pytest

from workflows.step_timing import MAX_SECONDS, steps_timing_errors

CONFLUENT = {"metric": "confluence", "op": ">=", "value": 80, "samples": "all"}


def errors_of(*steps):
    return steps_timing_errors(list(steps))


def test_a_step_without_timing_and_a_full_repeating_step_are_valid():
    assert errors_of({}, {"name": "x"}) == {}
    repeating = {
        "start_after_seconds": 0,
        "window_seconds": 1800,
        "on_window_missed": "fail",
        "repeat_every_seconds": 43200,
        "repeat_max": 14,
        "until": CONFLUENT,
        "run_if": {"metric": "viability", "op": ">", "value": 0.8},
        "keep_devices": False,
    }
    assert errors_of(repeating, {"start_after_seconds": MAX_SECONDS}) == {}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("start_after_seconds", -1, "0 or more"),
        ("start_after_seconds", float("nan"), "finite"),
        ("start_after_seconds", float("inf"), "finite"),
        ("start_after_seconds", MAX_SECONDS + 1, "365 days"),
        ("start_after_seconds", "60", "number of seconds"),
        ("start_after_seconds", True, "number of seconds"),
        ("window_seconds", 0, "more than 0"),
        ("window_seconds", -5, "more than 0"),
        ("window_seconds", float("-inf"), "finite"),
        ("window_seconds", MAX_SECONDS + 0.5, "365 days"),
        ("on_window_missed", "retry", "run_late, fail"),
        ("keep_devices", "yes", "true or false"),
        ("run_if", {"metric": "colour", "op": ">=", "value": 1}, "metric must be one of"),
        ("run_if", {"metric": "confluence", "op": ">=", "value": float("nan")}, "finite number"),
        ("run_if", "confluence > 80", "must be an object"),
    ],
)
def test_a_bad_value_is_named_by_its_path(field, value, message):
    errors = errors_of({}, {}, {field: value})
    assert list(errors) == [f"steps[2].{field}"], errors
    assert message in " ".join(errors[f"steps[2].{field}"])


@pytest.mark.parametrize(("value", "ok"), [(0, False), (1, True), (1000, True), (1001, False), (2.5, False)])
def test_repeat_max_is_a_whole_number_from_1_to_1000(value, ok):
    errors = errors_of({"repeat_every_seconds": 60, "repeat_max": value})
    assert (errors == {}) is ok, errors


def test_repeat_every_and_repeat_max_come_together():
    assert list(errors_of({"repeat_every_seconds": 60})) == ["steps[0].repeat_max"]
    assert list(errors_of({"repeat_max": 3})) == ["steps[0].repeat_every_seconds"]
    assert list(errors_of({"repeat_max": 1})) == ["steps[0].repeat_every_seconds"]


def test_until_needs_a_repeating_step():
    assert list(errors_of({"until": CONFLUENT})) == ["steps[0].until"]


def test_failing_on_a_missed_window_needs_a_window():
    assert list(errors_of({"on_window_missed": "fail"})) == ["steps[0].on_window_missed"]
    assert errors_of({"on_window_missed": "fail", "window_seconds": 60}) == {}


def test_keep_devices_needs_a_next_step_that_starts_right_away():
    assert list(errors_of({}, {"keep_devices": True})) == ["steps[1].keep_devices"]
    assert errors_of({"keep_devices": True}, {"start_after_seconds": 0}) == {}
    assert list(errors_of({"keep_devices": True}, {"start_after_seconds": 60})) == ["steps[0].keep_devices"]
    assert list(errors_of({"keep_devices": True}, {"repeat_every_seconds": 60, "repeat_max": 2})) == [
        "steps[0].keep_devices"
    ]
    repeating = {"keep_devices": True, "repeat_every_seconds": 60, "repeat_max": 2}
    assert list(errors_of(repeating, {})) == ["steps[0].keep_devices"]


def test_a_bad_next_step_does_not_break_the_keep_devices_check():
    errors = errors_of({"keep_devices": True}, {"start_after_seconds": "soon"})
    assert list(errors) == ["steps[1].start_after_seconds"]


def test_repeat_every_must_be_more_than_0():
    errors = errors_of({"repeat_every_seconds": 0, "repeat_max": 2})
    assert errors == {"steps[0].repeat_every_seconds": ["must be more than 0"]}
