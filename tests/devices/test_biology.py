"""The mock's growth model (devices/adapters/biology.py): deterministic, logistic, reset by passage."""

import math

import pytest

from devices.adapters.biology import (
    FEED,
    PASSAGE,
    CultureEvent,
    culture_event_kind,
    culture_hours,
    culture_state,
    measurement,
    sample_traits,
)
from devices.adapters.responses import vision_results


def test_traits_are_fixed_by_barcode_and_run_and_doubling_is_24_to_40_hours():
    assert sample_traits("S1", 7) == sample_traits("S1", 7)
    assert sample_traits("S1", 7) != sample_traits("S1", 8)
    doublings = [sample_traits(f"S{n}", 1).doubling_hours for n in range(200)]
    assert min(doublings) >= 24 and max(doublings) <= 40 and max(doublings) - min(doublings) > 10


def test_growth_is_flat_in_the_lag_phase_then_logistic_with_the_traits_rate():
    traits = sample_traits("SAMPLE001", 3)
    start = culture_state(traits, 0)["confluence"]
    assert culture_state(traits, traits.lag_hours)["confluence"] == pytest.approx(start)
    t1, t2 = traits.lag_hours + 10, traits.lag_hours + 40

    def logit(hours):
        c = culture_state(traits, hours)["confluence"] / 100
        return math.log(c / (1 - c))

    assert (logit(t2) - logit(t1)) / 30 == pytest.approx(math.log(2) / traits.doubling_hours)


def test_a_passage_divides_confluence_by_the_split_ratio_and_starts_a_new_lag():
    traits = sample_traits("SAMPLE002", 3)
    before = culture_state(traits, 100)["confluence"]
    after = culture_state(traits, 100, [CultureEvent(PASSAGE, 100, split_ratio=4)])["confluence"]
    assert after == pytest.approx(before / 4)
    later = culture_state(traits, 100 + traits.lag_hours / 2, [CultureEvent(PASSAGE, 100, split_ratio=4)])
    assert later["confluence"] == pytest.approx(after)


def test_viability_drifts_down_when_overdue_for_feeding_and_a_feed_stops_it():
    traits = sample_traits("SAMPLE003", 3)
    fed = culture_state(traits, 60, [CultureEvent(FEED, 40)])["viability"]
    overdue = culture_state(traits, 60)["viability"]
    assert overdue < fed
    assert culture_state(traits, 72)["viability"] < overdue


def test_measurements_are_noisy_but_repeatable():
    first = measurement("SAMPLE004", 50.0, workflow_id=9)
    assert first == measurement("SAMPLE004", 50.0, workflow_id=9)
    true = measurement("SAMPLE004", 50.0, workflow_id=9, noise=False)
    assert first["confluence"] != true["confluence"]
    assert first["confluence"] == pytest.approx(true["confluence"], rel=0.15)


def test_actions_are_classified_by_their_reagent():
    assert culture_event_kind({"reagent": "trypsin", "volume_ul": 50}) == PASSAGE
    assert culture_event_kind({"reagent": "complete media"}) == FEED
    assert culture_event_kind({"volume_ul": 50}) is None


def test_time_in_culture_is_real_elapsed_divided_by_the_time_scale():
    culture = {"started_at": 1000.0, "time_scale": 0.001, "events": [{"kind": PASSAGE, "at": 1036.0}]}
    hours, events = culture_hours(culture, now=1000.0 + 43.2)
    assert hours == pytest.approx(12.0)
    assert events == [CultureEvent(PASSAGE, 10.0)]
    assert culture_hours(culture, now=1010.0)[1] == []  # an event after now has not happened yet


def test_vision_results_follow_the_runs_culture():
    culture = {"started_at": 0.0, "time_scale": 1.0, "events": []}
    rows = vision_results(["A", "B"], parameters={}, now=36 * 3600.0, workflow_id=5, culture=culture)
    assert [row["hours_in_culture"] for row in rows] == [36.0, 36.0]
    assert rows[0] == measurement("A", 36.0, workflow_id=5)
