"""Durations for people in the admin: "24 h", "30 min", "90 s", "1 d 2 h" and plain seconds."""

import pytest

from workflows.durations import duration_format, duration_parse


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
