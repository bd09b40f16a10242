"""The argument checks every service runs first, as the lab's data-entry SOP states them:
times carry their zone, numbers are finite and inside their range (both ends included),
words come from their list."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated

import pytest

from lims.domain.checks import OneOf, Range, check, checked
from lims.domain.errors import Invalid

VOLUME = Annotated[float, Range(0.01, 5000, "mL")]
COLOUR = Annotated[str, OneOf(["red", "blue"])]
COLOURS = Annotated[list[str], OneOf(("red", "blue"))]


def refusal(name, annotation, value) -> Invalid:
    with pytest.raises(Invalid) as err:
        check(name, annotation, value)
    assert err.value.extra == {"field": name}
    return err.value


def test_a_time_without_zone_is_refused_and_one_with_zone_passes():
    e = refusal("started_at", datetime, datetime(2026, 12, 1, 9, 30))
    assert e.detail == ("The started at must include its time zone "
                        "(e.g. 2026-12-01T09:30:00+01:00).")
    check("started_at", datetime, datetime(2026, 12, 1, 9, 30, tzinfo=UTC))
    check("started_at", datetime | None, None)


def test_something_else_where_a_time_belongs_is_refused():
    assert refusal("ended_at", datetime, "yesterday").detail == \
        "The ended at must be a date and time."
    assert refusal("ended_at", datetime | None, 5).detail == \
        "The ended at must be a date and time."


@pytest.mark.parametrize("value", [0.01, 1, 250.5, 5000])
def test_volumes_inside_the_range_pass_including_both_ends(value):
    check("volume_ml", VOLUME, value)
    check("volume_ml", VOLUME | None, value)


@pytest.mark.parametrize("value", [0, 0.009, 5000.001, -1])
def test_volumes_outside_the_range_are_refused_with_the_range_and_unit(value):
    e = refusal("volume_ml", VOLUME, value)
    assert e.detail == f"The volume ml must be between 0.01 and 5000 mL; {value:g} was given."


def test_a_range_without_unit_says_no_unit():
    e = refusal("count", Annotated[int, Range(1, 100)], 101)
    assert e.detail == "The count must be between 1 and 100; 101 was given."


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_not_a_number_is_refused_even_without_a_range(value):
    assert refusal("value", float, value).detail == "The value must be a number."


def test_a_yes_no_answer_is_not_a_number_out_of_range():
    check("active", Annotated[int, Range(5, 6)], True)


def test_words_come_from_their_list():
    check("colour", COLOUR, "red")
    check("colours", COLOURS, ["red", "blue"])
    check("colours", COLOURS, ("blue",))
    e = refusal("colour", COLOUR, "green")
    assert e.detail == "Unknown colour 'green': choose from red, blue."
    e = refusal("colours", COLOURS, ["red", "mauve", "green"])
    assert e.detail == "Unknown colours 'mauve': choose from red, blue."
    e = refusal("colour", COLOUR, 7)
    assert e.detail == "The colour must be one of red, blue."


def test_a_list_annotation_inside_optional_is_still_checked():
    refusal("colours", COLOURS | None, ["green"])
    check("colours", COLOURS | None, None)


def test_one_of_takes_any_iterable_of_words():
    assert OneOf(x for x in ("a", "b")).values == ("a", "b")


def test_checked_runs_the_checks_before_the_function_and_passes_the_result():
    calls = []

    @checked
    def record(volume_ml: VOLUME, colour: COLOUR = "red") -> str:
        calls.append((volume_ml, colour))
        return "done"

    assert record(5, colour="blue") == "done"
    assert calls == [(5, "blue")]
    with pytest.raises(Invalid):
        record(0)
    with pytest.raises(Invalid):
        record(5, colour="green")
    assert calls == [(5, "blue")]  # a refused call never ran
    with pytest.raises(Invalid, match="record"):
        record()  # a missing argument is a refusal too, naming the function
    assert record.__name__ == "record"
