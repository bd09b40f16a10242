"""ISBT 128 codes at the edges of their ranges, and what the technician is told when a code
or a number is wrong (ISBT 128 Standard Technical Specification, ST-001)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

import pytest

from lims.domain.isbt import (
    InvalidCode,
    ShelfLife,
    division_code,
    expiry,
    format_din,
    isbt_date,
    parse_isbt_date,
    parse_scan,
    product_code_data_structure,
    product_type,
    sub_division,
)


def refusal(fn, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidCode) as caught:
        fn(*args)
    return str(caught.value)


@pytest.mark.parametrize(("year", "yy"), [(0, "00"), (99, "99"), (1000, "00"), (9999, "99"),
                                          (2000, "00"), (2026, "26")])
def test_a_din_year_is_two_digits_or_a_full_year(year, yy):
    assert format_din("G1234", year, 1) == f"G1234{yy}000001"


@pytest.mark.parametrize("year", [-1, 100, 999, 10000])
def test_a_din_year_between_the_two_forms_is_named(year):
    assert refusal(format_din, "G1234", year, 1) == (
        f"Year {year} is not valid: give the full year (2026) or its last two digits (26)")


def test_numbers_that_are_not_whole_numbers_are_named():
    assert refusal(format_din, "G1234", True, 1) == "Year must be a whole number, not True"
    assert refusal(format_din, "G1234", 2026, 1.0) == \
        "Sequence number must be a whole number, not 1.0"
    assert refusal(division_code, True) == "Aliquot number must be a whole number, not True"
    assert refusal(sub_division, "A0", "1") == "Aliquot number must be a whole number, not '1'"


def test_sequence_numbers_run_from_1_to_999999():
    assert format_din("G1234", 2026, 999_999) == "G123426999999"
    assert refusal(format_din, "G1234", 2026, 0) == (
        "Sequence number 0 is out of range: a DIN sequence number runs from 1 to 999999 "
        "within one facility and year")


def test_divisions_name_their_limits():
    assert refusal(division_code, 27) == (
        "Aliquot number 27 is out of range: one product can be divided into at most 26 "
        "aliquots (A to Z) at one level")
    assert refusal(sub_division, "B0", 27) == (
        "Aliquot number 27 is out of range: division B0 can be split into at most 26 "
        "sub-divisions (a to z)")
    assert refusal(sub_division, "00", 1) == (
        "An undivided product (00) is split with first-level divisions A0 to Z0, not "
        "sub-divisions")
    assert refusal(sub_division, "Ba", 1) == (
        "Division Ba is already a sub-division; ISBT 128 allows only two levels of division")


def test_a_division_starting_with_a_digit_is_simply_invalid_not_a_caps_lock_slip():
    assert refusal(product_code_data_structure, "S1001", "V", "1A") == (
        "Division '1A' is not valid: expected 00, A0 to Z0, or Aa to Zz")
    assert refusal(product_code_data_structure, "S1001", "V", "aB") == (
        "Division 'aB': the second character of a sub-division is printed as a small letter "
        "(Ab). Turn Caps Lock off or check the scanner's case setting, then scan again")


def test_isbt_dates_cover_1900_to_2899():
    assert isbt_date(date(1900, 1, 1)) == "900001"
    assert isbt_date(date(2899, 12, 31)) == "899365"
    assert parse_isbt_date("900001") == date(1900, 1, 1)
    assert refusal(isbt_date, date(1899, 12, 31)) == (
        "Date 1899-12-31 is outside 1900-2899 and cannot be encoded")
    assert refusal(isbt_date, date(2900, 1, 1)) == (
        "Date 2900-01-01 is outside 1900-2899 and cannot be encoded")


def test_a_leap_year_has_366_days_and_no_more():
    assert parse_isbt_date("024366") == date(2024, 12, 31)
    assert refusal(parse_isbt_date, "024367") == (
        "Date code 024367: day 367 does not exist in 2024 (1 to 366)")
    assert refusal(parse_isbt_date, "02603a") == "Date code '02603a' must be 6 digits (cyyjjj)"


def test_a_typed_din_with_a_stray_character_is_not_an_isbt_code():
    assert refusal(parse_scan, "G1234-7654321A") == (
        "This is not an ISBT 128 label code: expected a scanned label, or a DIN typed with "
        "its check character such as G1234 17 654321 A")
    assert refusal(parse_scan, "=G12341765432-70") == (
        "This is not an ISBT 128 label code: it contains characters a DIN cannot have")
    assert refusal(parse_scan, "=*12341765432170") == (
        "This is not an ISBT 128 label code: it contains characters a DIN cannot have")


class _NoOffset(tzinfo):
    """A zone that cannot say its offset: as useless as no zone."""

    def utcoffset(self, dt):  # type: ignore[no-untyped-def]
        return None

    def tzname(self, dt):  # type: ignore[no-untyped-def]
        return None

    def dst(self, dt):  # type: ignore[no-untyped-def]
        return None


def test_an_expiry_is_counted_only_from_a_time_with_its_zone():
    for when in (datetime(2026, 3, 1, 10, 0), datetime(2026, 3, 1, 10, 0, tzinfo=_NoOffset())):
        assert refusal(lambda w: expiry("cord_blood", event="collect", at=w), when) == (
            "The time an expiry is counted from must carry its time zone")
    at = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert expiry("cord_blood", event="collect", at=at) == at + timedelta(hours=72)
    assert expiry("cord_blood", event="cryopreserve", at=at) == at.replace(year=2046)
    assert expiry("ipsc", event="collect", at=at) is None


def test_an_unknown_kind_lists_the_known_ones():
    message = refusal(product_type, "blood_orange")
    assert message.startswith("Unknown sample kind 'blood_orange'; known kinds: bone_marrow, "
                              "cord_blood, hsc_cd34, ipsc, lipoaspirate, maternal_sample, ")


def test_a_shelf_life_is_hours_or_years_and_positive():
    assert ShelfLife(hours=0.5).hours == 0.5
    assert ShelfLife(years=1).years == 1
    for wrong in ({}, {"hours": 4, "years": 1}):
        with pytest.raises(ValueError, match="^a shelf life is given in hours or in years, "
                                             "not both or neither$"):
            ShelfLife(**wrong)
    for wrong in ({"hours": 0}, {"hours": -4}, {"years": 0}, {"years": -1}):
        with pytest.raises(ValueError, match="^a shelf life must be positive$"):
            ShelfLife(**wrong)
    # 29 February plus whole years lands on the 28th when the target year has none
    assert ShelfLife(years=1).after(datetime(2024, 2, 29, 9, 0, tzinfo=UTC)) == \
        datetime(2025, 2, 28, 9, 0, tzinfo=UTC)
