"""Bedside identity, custody hand-over, temperature ranges and the tube's warnings, each
rule at its edge, with the wording a nurse or technician reads written out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lims.domain import custody
from lims.domain.clock import elapsed, hours, plausible
from lims.domain.custody import allowed_range, check_handover, is_excursion
from lims.domain.errors import Conflict, Invalid
from lims.domain.flags import TubeFacts, card_lines, label_words
from lims.domain.identity import BedsideFacts, mismatches, parse_wristband

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 1, 18, 50, tzinfo=UTC)  # 19:50 CET

WRONG_PATIENT = "wrong patient: this product is not assigned to the patient scanned"
ON_HOLD = "product is on hold (quarantine)"


def bedside(**kw: object) -> BedsideFacts:
    facts = {"state": "distributed", "on_hold": False, "expires_at": None, "thawed_at": None,
             "product_wristband": "WB-1", "distributed_to": None, "scanned_wristband": "WB-1",
             "site": None, "now": NOW, "zone": BERLIN}
    return BedsideFacts(**(facts | kw))  # type: ignore[arg-type]


# --- bedside ---------------------------------------------------------------------------------

def test_a_matching_product_has_no_reason_against_it():
    assert mismatches(bedside()) == []
    assert mismatches(bedside(site="Ward 7", distributed_to="ward 7")) == []
    assert mismatches(bedside(site=" WARD 7 ", distributed_to="Ward 7")) == []


def test_a_product_for_nobody_or_for_another_patient_is_the_wrong_patient():
    assert mismatches(bedside(product_wristband=None)) == [WRONG_PATIENT]
    assert mismatches(bedside(scanned_wristband="WB-2")) == [WRONG_PATIENT]


def test_only_a_distributed_product_may_be_given():
    assert mismatches(bedside(state="released")) == [
        "product not released and distributed for administration (it is released)"]
    # a product not yet distributed is not also compared with the ward it went to
    assert mismatches(bedside(state="released", site="Ward 7", distributed_to="ICU")) == [
        "product not released and distributed for administration (it is released)"]


def test_a_product_sent_to_another_ward_names_both():
    assert mismatches(bedside(site="Ward 7", distributed_to="ICU")) == [
        "product was distributed to ICU, not to Ward 7"]
    # without a scanned site, or without a recorded destination, there is nothing to compare
    assert mismatches(bedside(site=None, distributed_to="ICU")) == []
    assert mismatches(bedside(site="Ward 7", distributed_to=None)) == []


def test_a_product_expires_at_its_expiry_minute():
    assert mismatches(bedside(expires_at=NOW)) == ["product expired at 2026-12-01 19:50 CET"]
    assert mismatches(bedside(expires_at=NOW + timedelta(seconds=1))) == []


def test_a_product_on_hold_is_not_given_and_all_reasons_are_listed():
    assert mismatches(bedside(on_hold=True)) == [ON_HOLD]
    assert mismatches(bedside(on_hold=True, scanned_wristband="WB-9", state="thawed")) == [
        WRONG_PATIENT,
        "product not released and distributed for administration (it is thawed)",
        ON_HOLD]


def test_a_wristband_scan_is_cleaned_like_a_product_scan():
    assert parse_wristband("  ]C1mrn-004711 \n") == "MRN-004711"
    assert parse_wristband("abc") == "ABC"  # three characters: the shortest code
    assert parse_wristband("A" * 60) == "A" * 60
    for bad in ("AB", "A" * 61, "-ABC", "MRN 4711", "", "]C1"):
        with pytest.raises(Invalid) as caught:
            parse_wristband(bad)
        assert caught.value.detail == ("This is not a patient wristband code: scan the barcode "
                                       "on the patient's wristband.")


# --- custody ---------------------------------------------------------------------------------

RECEIVED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_a_hand_over_waits_for_the_previous_receipt():
    with pytest.raises(Conflict) as caught:
        check_handover(None, True, RECEIVED, BERLIN)
    assert caught.value.detail == ("The previous hand-over has not been confirmed by its "
                                   "receiver yet: confirm the receipt first, so the custody "
                                   "chain has no gap.")


def test_a_hand_over_may_start_the_minute_the_sample_was_received_but_not_before():
    check_handover(RECEIVED, False, RECEIVED, BERLIN)  # no gap, no overlap
    check_handover(RECEIVED, False, RECEIVED + timedelta(hours=2), BERLIN)
    check_handover(None, False, RECEIVED - timedelta(days=1), BERLIN)  # the first hand-over
    with pytest.raises(Conflict) as caught:
        check_handover(RECEIVED, False, RECEIVED - timedelta(minutes=1), BERLIN)
    assert caught.value.detail == (
        "This hand-over (2026-12-01 09:59 CET) starts before the sample was received by its "
        "current custodian (2026-12-01 10:00 CET): the custody timeline would overlap. "
        "Check the time.")


@pytest.mark.parametrize(("kind", "frozen", "low", "high"), [
    ("cord_blood", False, 4.0, 25.0),
    ("bone_marrow", False, 2.0, 25.0),
    ("lipoaspirate", False, 2.0, 25.0),
    ("peripheral_blood", False, 2.0, 25.0),  # any other fresh material
    ("cord_blood", True, -196.0, -150.0),
    ("bone_marrow", True, -196.0, -150.0),
])
def test_the_validated_temperature_ranges_are_inclusive(kind, frozen, low, high):
    assert allowed_range(kind, frozen) == (low, high)
    assert not is_excursion(low, kind, frozen)
    assert not is_excursion(high, kind, frozen)
    assert is_excursion(low - 0.1, kind, frozen)
    assert is_excursion(high + 0.1, kind, frozen)


def test_no_reading_is_no_excursion():
    assert not is_excursion(None, "cord_blood", False)
    assert not is_excursion(None, "cord_blood", True)


def test_custodians_read_as_a_person_says_them():
    assert custody.party_text(custody.collector("Midwife M.")) == "Midwife M. (collector)"
    assert custody.party_text(custody.courier("MedExpress")) == "MedExpress (courier)"
    assert custody.party_text(custody.person("jtech")) == "jtech"
    assert custody.party_text(custody.site("Ward 7")) == "Ward 7"
    assert custody.party_text(custody.parent("W1234 26 123456")) == "tube W1234 26 123456"
    assert custody.party_text(custody.patient("r-17")) == "the patient"
    assert custody.party_text(custody.place("box-3")) == "a storage location"
    assert custody.party_text(custody.place("box-3"), "Freezer 2 / Rack A / Box 3") == \
        "Freezer 2 / Rack A / Box 3"
    assert custody.party_text(None) == "nobody recorded"
    assert custody.party_text("") == "nobody recorded"
    assert custody.party_text("alien:thing") == "thing"


# --- times -------------------------------------------------------------------------------------

def test_plausible_years_are_1900_to_2200_inclusive():
    for year in (1900, 2200):
        when = datetime(year, 6, 1, tzinfo=UTC)
        assert plausible(when, "at") == when
    for year in (1899, 2201):
        with pytest.raises(Invalid) as caught:
            plausible(datetime(year, 6, 1, tzinfo=UTC), "at")
        assert caught.value.detail == (f"'at' ({year}-06-01) is not a plausible date: "
                                       "check the year.")
    with pytest.raises(Invalid) as caught:
        plausible(datetime(2026, 6, 1), "collected_at")
    assert caught.value.detail == ("'collected_at' must be a date and time with its zone, "
                                   "e.g. 2027-01-31T12:00:00+01:00.")


def test_no_time_at_all_reads_without_a_sign():
    assert hours(timedelta(0)) == "0 min"
    assert hours(timedelta(seconds=59)) == "0 min"
    assert hours(timedelta(minutes=-5)) == "-5 min"
    assert hours(timedelta(hours=-2)) == "-2 h"


def test_elapsed_counts_real_time_across_zones():
    start = datetime(2026, 10, 24, 20, 0, tzinfo=BERLIN)  # CEST
    end = datetime(2026, 10, 26, 23, 0, tzinfo=BERLIN)  # CET: the clock went back once
    assert elapsed(start, end) == timedelta(hours=52)
    assert elapsed(end, start) == timedelta(hours=-52)


# --- the tube's warnings -----------------------------------------------------------------------

def tube(**kw: object) -> TubeFacts:
    facts = {"autologous": False, "eligibility": "eligible", "on_hold": False,
             "hold_reason": None, "overdue": False, "expired": False, "withdrawn_scopes": (),
             "has_active_consent": True, "open_excursion": False}
    return TubeFacts(**(facts | kw))  # type: ignore[arg-type]


def test_a_hold_without_a_reason_says_so():
    assert card_lines(tube(on_hold=True)) == ["QUARANTINE (on hold): no reason given"]
    assert card_lines(tube(on_hold=True, hold_reason="positive culture")) == [
        "QUARANTINE (on hold): positive culture"]


def test_each_withdrawn_use_is_named_on_the_card_and_on_the_label():
    facts = tube(withdrawn_scopes=("research", "clinical"))
    assert card_lines(facts) == ["CONSENT WITHDRAWN for research, clinical use",
                                 "Not for research use", "Not for clinical use"]
    assert label_words(facts) == ("NOT FOR RESEARCH USE", "NOT FOR CLINICAL USE")
