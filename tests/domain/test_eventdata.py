"""The one validator of event data, field type by field type, as the bench SOP states it.

Fields here are declared in the test (not taken from the workflow table) so each rule is
checked on its own: inclusive bounds, whole numbers, units in messages, text limits, the
per-source choice lists, and what a wrong or missing field is answered with.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lims.domain.errors import Invalid
from lims.domain.eventdata import DataField, validate

VOLUME = DataField("volume_ml", "number", "Volume", unit="mL", minimum=0.5, maximum=250)
VIABILITY = DataField("viability_pct", "number", "Viability", unit="%", minimum=0, maximum=100)
CELLS = DataField("cell_count", "number", "Cell count", minimum=0)  # no upper bound, no unit
FLASKS = DataField("flasks", "integer", "Flasks", minimum=1, maximum=1000)
POSITION = DataField("position", "position", "Position in the box", minimum=1, maximum=100)
OFFSET = DataField("offset", "number", "Offset")  # no bounds at all
PARAMS = DataField("parameters", "object", "Method parameters")
EXPIRY = DataField("expires_at", "datetime", "Expiry date and time")
COURIER = DataField("courier", "text", "Courier", required=True, max_length=10)
METHOD = DataField("method", "choice", "Processing method",
                   choices=("ficoll", "sepax", "red_cell_depletion"),
                   choices_by_source={"cord_blood": ("sepax", "red_cell_depletion"),
                                      "bone_marrow": ("ficoll",)})
USE = DataField("intended_use", "choice", "Intended use", choices=("clinical", "research"))


def one(field: DataField, value: object, source: str | None = None) -> object:
    return validate("ev", (field,), {field.name: value}, source)[field.name]


def refusal(field: DataField, value: object, source: str | None = None) -> str:
    with pytest.raises(Invalid) as caught:
        validate("ev", (field,), {field.name: value}, source)
    return caught.value.detail


# --- numbers -------------------------------------------------------------------------------

def test_the_bounds_of_a_number_are_inclusive():
    assert one(VOLUME, 0.5) == 0.5
    assert one(VOLUME, 250) == 250
    assert refusal(VOLUME, 0.49) == "'volume_ml' must be a number from 0.5 to 250 mL."
    assert refusal(VOLUME, 250.01) == "'volume_ml' must be a number from 0.5 to 250 mL."


def test_a_number_without_upper_bound_says_or_more_and_without_unit_no_unit():
    assert one(CELLS, 10**12) == 10**12
    assert refusal(CELLS, -1) == "'cell_count' must be a number of 0 or more."
    assert one(OFFSET, -40.5) == -40.5  # no lower bound: a negative is fine
    assert one(OFFSET, 1e300) == 1e300


def test_a_number_field_keeps_fractions_and_an_integer_field_gives_whole_numbers():
    assert one(VIABILITY, 87.5) == 87.5
    kept = one(VIABILITY, 90)
    assert kept == 90
    whole = one(FLASKS, 3.0)
    assert whole == 3 and type(whole) is int
    assert refusal(FLASKS, 2.5) == "'flasks' must be a whole number."
    pos = one(POSITION, 12.0)
    assert pos == 12 and type(pos) is int
    assert refusal(POSITION, 1.5) == "'position' must be a whole number."
    assert refusal(POSITION, 101) == "'position' must be a number from 1 to 100."


def test_a_number_must_be_a_real_finite_number():
    assert refusal(VOLUME, "12") == "'volume_ml' must be a number in mL."
    assert refusal(CELLS, "12") == "'cell_count' must be a number."
    assert refusal(VOLUME, True) == "'volume_ml' must be a number in mL."
    assert refusal(OFFSET, float("inf")) == "'offset' must be a finite number."
    assert refusal(OFFSET, float("nan")) == "'offset' must be a finite number."
    # a JSON integer with hundreds of digits is no volume either
    assert refusal(OFFSET, 10**400) == "'offset' must be a finite number."


# --- objects, text, times ---------------------------------------------------------------------

def test_an_object_must_be_names_and_values_without_nan_anywhere():
    params = {"g_force": 400, "minutes": 30, "steps": [{"rpm": 1500.5}]}
    assert one(PARAMS, params) == params
    assert refusal(PARAMS, [1, 2]) == ("'parameters' must be an object of names and values, "
                                       'e.g. {"g_force": 400, "minutes": 30}.')
    nested_nan = {"steps": [{"rpm": float("nan")}]}
    assert refusal(PARAMS, nested_nan) == "'parameters' must not hold NaN or Infinity."
    assert refusal(PARAMS, {"g": float("-inf")}) == "'parameters' must not hold NaN or Infinity."


def test_text_up_to_its_limit_and_never_a_nul():
    assert one(COURIER, "MedExpress") == "MedExpress"  # exactly 10 characters
    assert refusal(COURIER, "MedExpress!") == "Keep 'courier' under 10 characters."
    assert refusal(COURIER, "Med\x00") == "'courier' must not contain a NUL character."
    assert refusal(COURIER, 42) == "'courier' must be text, e.g. an id or a name."


def test_a_time_needs_its_zone_and_a_plausible_year():
    assert one(EXPIRY, "2027-01-31T12:00:00+01:00") == datetime(2027, 1, 31, 11, 0, tzinfo=UTC)
    assert refusal(EXPIRY, "31.01.2027") == ("'expires_at' must be a date and time with its "
                                             "zone, e.g. 2027-01-31T12:00:00+01:00.")
    assert refusal(EXPIRY, "2027-01-31T12:00:00") == ("'expires_at' must be a date and time "
                                                      "with its zone, e.g. "
                                                      "2027-01-31T12:00:00+01:00.")
    assert refusal(EXPIRY, "1899-12-31T23:00:00+00:00") == (
        "'expires_at' (1899-12-31) is not a plausible date: check the year.")


# --- choices -----------------------------------------------------------------------------------

def test_a_choice_depends_on_the_source_when_the_field_says_so():
    assert METHOD.allowed("cord_blood") == ("sepax", "red_cell_depletion")
    assert METHOD.allowed(None) == ("ficoll", "sepax", "red_cell_depletion")
    assert METHOD.allowed("lipoaspirate") == ()  # no validated method for that source
    assert USE.allowed("cord_blood") == ("clinical", "research")
    assert one(METHOD, "sepax", "cord_blood") == "sepax"
    assert one(METHOD, "ficoll", None) == "ficoll"


def test_a_method_valid_elsewhere_is_named_as_not_validated_for_this_source():
    assert refusal(METHOD, "ficoll", "cord_blood") == (
        "'ficoll' is not a validated processing method for cord blood. "
        "Use one of: sepax, red_cell_depletion.")
    assert refusal(METHOD, "spin", "cord_blood") == (
        "'method' cannot be 'spin'. Use one of: sepax, red_cell_depletion.")
    assert refusal(USE, "cosmetic") == "'intended_use' cannot be 'cosmetic'. Use one of: " \
        "clinical, research."


# --- the event as a whole ---------------------------------------------------------------------

def test_an_unknown_field_is_refused_with_what_the_event_takes():
    with pytest.raises(Invalid) as caught:
        validate("passage", (FLASKS, VIABILITY), {"flask": 2, "colour": "red"}, None)
    assert caught.value.detail == ("'passage' does not take 'colour', 'flask'; it takes "
                                   "flasks, viability_pct.")
    assert caught.value.extra == {"allowed": ["flasks", "viability_pct"]}
    with pytest.raises(Invalid) as caught:
        validate("collect", (), {"volume_ml": 3}, None)
    assert caught.value.detail == "'collect' does not take 'volume_ml'; it takes no data."
    assert caught.value.extra == {"allowed": []}


def test_a_field_sent_to_the_wrong_event_says_where_it_belongs():
    elsewhere = {"volume_ml": (["receive", "thaw"], VOLUME),
                 "courier": (["dispatch"], COURIER)}
    with pytest.raises(Invalid) as caught:
        validate("lift_hold", (USE, FLASKS), {"volume_ml": 3}, None, elsewhere)
    assert caught.value.detail == "'volume_ml' is measured at receive, thaw, not at 'lift_hold'."
    assert caught.value.extra == {"allowed": ["flasks", "intended_use"]}
    with pytest.raises(Invalid) as caught:
        validate("lift_hold", (), {"courier": "X"}, None, elsewhere)
    assert caught.value.detail == "'courier' is given at dispatch, not at 'lift_hold'."


def test_missing_and_empty_values_are_not_given():
    defaulted = DataField("shipper", "text", "Shipper", default="dry shipper")
    fields = (COURIER, VOLUME, defaulted)
    assert validate("dispatch", fields, {"courier": "Ann", "volume_ml": ""}, None) == {
        "courier": "Ann", "shipper": "dry shipper"}
    assert validate("dispatch", fields, {"courier": "Ann", "shipper": "LN2 dewar"}, None) == {
        "courier": "Ann", "shipper": "LN2 dewar"}
    for missing in ({}, {"courier": ""}, {"courier": None}):
        with pytest.raises(Invalid) as caught:
            validate("dispatch", fields, missing, None)
        assert caught.value.detail == "'dispatch' needs 'courier' (Courier)."
    # a text field holding only spaces or the letters "XX" is given, not empty
    assert validate("dispatch", (COURIER,), {"courier": "XXXX"}, None) == {"courier": "XXXX"}
