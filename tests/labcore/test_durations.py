"""Durations for people in the admin: "24 h", "30 min", "90 s", "1 d 2 h" and plain seconds."""

import pytest

from labcore.durations import duration_display, duration_format, duration_parse


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("24 h", 86400),
        ("30 min", 1800),
        ("90 s", 90),
        ("1 d 2 h", 93600),
        ("3600", 3600),
        ("0", 0),
        ("1.5 h", 5400),
        ("1d2h", 93600),
        ("2 days 3 hours", 183600),
        ("12 H 30 Min", 45000),
        ("0.25 s", 0.25),
    ],
)
def test_a_duration_reads_as_seconds(text, seconds):
    assert duration_parse(text) == seconds


@pytest.mark.parametrize("text", ["", "   ", "abc", "-5", "5 weeks", "1 h 2 h", "nan", "inf", "1e400", "5 h x", "h"])
def test_anything_else_is_refused_with_a_message(text):
    with pytest.raises(ValueError, match=r"\w"):
        duration_parse(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, ""),
        (0, "0 s"),
        (90, "1 min 30 s"),
        (1800, "30 min"),
        (86400, "24 h"),
        (93600, "26 h"),
        (172800, "48 h"),
        (432000, "5 d"),
        (648000, "7 d 12 h"),
        (60.5, "1 min 0.5 s"),
        (0.25, "0.25 s"),
    ],
)
def test_seconds_show_as_people_say_them(seconds, text):
    assert duration_format(seconds) == text


@pytest.mark.parametrize("seconds", [0, 1, 59, 61, 3599, 86399, 86400, 93600, 259199, 259200, 31536000, 30.1234567])
def test_formatting_then_parsing_gives_the_same_seconds(seconds):
    assert duration_parse(duration_format(seconds)) == seconds


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.04, "0.0 s"), (2.44, "2.4 s"), (83.4, "1 min 23 s"), (3600, "1 h"), (3725.6, "1 h 2 min 6 s"), (None, "")],
)
def test_a_measured_duration_reads_in_whole_seconds_past_ten(seconds, text):
    assert duration_display(seconds) == text


def test_the_template_filters_show_instants_to_the_second_and_durations_in_words():
    from datetime import UTC, datetime, timedelta

    from django.template import Context, Template

    at = datetime(2026, 12, 2, 14, 3, 27, 400000, tzinfo=UTC)
    page = Template("{% load labcore_format %}{{ at|instant }} | {{ took|duration }} | {% elapsed at end %}")
    rendered = page.render(Context({"at": at, "took": timedelta(seconds=83), "end": at + timedelta(seconds=61)}))
    assert rendered == "2026-12-02 14:03:27 | 1 min 23 s | 1 min 1 s"
