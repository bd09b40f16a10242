"""Each guard on its own, at its edges, with the sentence the technician reads (the SOP's
release, storage, distribution and bedside rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lims.domain import guards
from lims.domain.errors import GuardFailed, Invalid
from lims.domain.guards import BedsideFacts, Request, SampleFacts, StorageFacts
from lims.domain.states import State

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def ask(event: str = "administer", actor: str = "nurse-1", **kw: object) -> Request:
    return Request(event=event, actor_id=actor, roles=frozenset({"technician"}), now=NOW,
                   **kw)  # type: ignore[arg-type]


def facts(**kw: object) -> SampleFacts:
    return SampleFacts(**({"state": State.distributed, "sample_id": "s-1"} | kw))  # type: ignore[arg-type]


# --- bedside ---------------------------------------------------------------------------------

def check(**kw: object) -> BedsideFacts:
    return BedsideFacts(**({"sample_id": "s-1", "match": True, "reasons": (),
                            "user_id": "nurse-1", "at": NOW - timedelta(minutes=2),
                            "used": False} | kw))  # type: ignore[arg-type]


def test_a_fresh_matching_check_by_the_same_person_lets_the_product_be_given():
    assert guards.bedside_match(facts(bedside=check()), ask()) is None
    # ten minutes old is still in time; a second more is not
    assert guards.bedside_match(facts(bedside=check(at=NOW - timedelta(minutes=10))),
                                ask()) is None
    assert guards.bedside_match(
        facts(bedside=check(at=NOW - timedelta(minutes=10, seconds=1))), ask()) == \
        "the bedside check is older than 10 minutes"
    assert guards.bedside_match(
        facts(bedside=check(at=NOW - timedelta(minutes=31)), bedside_window=timedelta(
            minutes=30)), ask()) == "the bedside check is older than 30 minutes"


def test_without_a_bedside_check_nothing_is_given():
    with pytest.raises(GuardFailed) as caught:
        guards.bedside_match(facts(), ask())
    assert caught.value.detail == ("Scan the patient's wristband and the product at the "
                                   "bedside first (POST /administrations/verify) and give its "
                                   "check_id.")
    assert caught.value.extra == {"blocked_by": ["bedside_check_missing"]}


def test_every_reason_against_a_bedside_check_is_listed():
    each = {
        "the bedside check was made for another product": {"sample_id": "s-2"},
        "the bedside check did not match: wrong patient; product is on hold": {
            "match": False, "reasons": ("wrong patient", "product is on hold")},
        "the bedside check was made by someone else": {"user_id": "nurse-2"},
        "this bedside check was already used": {"used": True},
    }
    for sentence, changed in each.items():
        assert guards.bedside_match(facts(bedside=check(**changed)), ask()) == sentence
    everything = check(sample_id="s-2", match=False, reasons=("wrong patient",),
                       user_id="nurse-2", at=NOW - timedelta(hours=1), used=True)
    assert guards.bedside_match(facts(bedside=everything, expires_at=NOW), ask()) == (
        "the bedside check was made for another product; the bedside check did not match: "
        "wrong patient; the bedside check was made by someone else; the bedside check is "
        "older than 10 minutes; this bedside check was already used; the product expired "
        "after the bedside check")


def test_a_product_expiring_between_check_and_administration_is_not_given():
    assert guards.bedside_match(facts(bedside=check(), expires_at=NOW), ask()) == \
        "the product expired after the bedside check"
    assert guards.bedside_match(
        facts(bedside=check(), expires_at=NOW + timedelta(seconds=1)), ask()) is None


# --- distribution ----------------------------------------------------------------------------

def test_an_autologous_product_goes_to_its_own_donor_patient_only():
    own = facts(state=State.released, donor_type="autologous", donor_code="D-7",
                own_recipient_id="r-7")
    assert guards.autologous_recipient(own, ask("distribute", data={})) is None
    assert guards.autologous_recipient(
        own, ask("distribute", data={"recipient_id": "r-7"})) is None
    with pytest.raises(GuardFailed) as caught:
        guards.autologous_recipient(own, ask("distribute", data={"recipient_id": "r-8"}))
    assert caught.value.detail == ("An autologous product can only go to its own donor, "
                                   "D-7: refused.")
    assert caught.value.extra == {"blocked_by": ["autologous_other_patient"]}


def test_an_autologous_donor_must_be_registered_as_a_patient_first():
    unregistered = facts(state=State.released, donor_type="autologous", donor_code="D-7")
    with pytest.raises(Invalid) as caught:
        guards.autologous_recipient(unregistered, ask("distribute", intended_use="research"))
    assert caught.value.detail == ("Register patient D-7 as a recipient (with the wristband) "
                                   "before distributing an autologous product.")


def test_a_clinical_distribution_of_another_product_names_its_recipient():
    allo = facts(state=State.released, donor_type="allogeneic_unrelated")
    with pytest.raises(Invalid) as caught:
        guards.autologous_recipient(allo, ask("distribute", intended_use="clinical"))
    assert caught.value.detail == "A clinical distribution names its recipient ('recipient_id')."
    assert guards.autologous_recipient(allo, ask("distribute", intended_use="clinical",
                                                 data={"recipient_id": "r-1"})) is None
    assert guards.autologous_recipient(allo, ask("distribute", intended_use="research")) is None


# --- storage ---------------------------------------------------------------------------------

def box(**kw: object) -> StorageFacts:
    return StorageFacts(**({"path": "Freezer 2 / Rack A / Box 3", "kind": "box", "rows": 9,
                            "cols": 9, "position": 1} | kw))  # type: ignore[arg-type]


def test_freezing_needs_a_free_position_inside_a_box():
    assert guards.has_storage_position(facts(state=State.processed), ask("cryopreserve")) == \
        "choose a storage position (box and position) for the frozen sample"
    with_position = {"state": State.processed, "has_storage_position": True}
    assert guards.has_storage_position(facts(**with_position), ask("cryopreserve")) is None
    for position in (1, 81):
        assert guards.has_storage_position(facts(**with_position, storage=box(
            position=position)), ask("cryopreserve")) is None
    assert guards.has_storage_position(facts(**with_position, storage=box(
        position=40, holder_code="W1234 26 000001")), ask("cryopreserve")) == (
        "Freezer 2 / Rack A / Box 3, position 40 already holds sample W1234 26 000001")


@pytest.mark.parametrize("position", [0, 82, -1])
def test_a_position_outside_the_box_is_named_with_the_box_size(position):
    f = facts(state=State.processed, has_storage_position=True, storage=box(position=position))
    with pytest.raises(Invalid) as caught:
        guards.has_storage_position(f, ask("cryopreserve"))
    assert caught.value.detail == "Position must be a number from 1 to 81 in Freezer 2 / " \
        "Rack A / Box 3."


@pytest.mark.parametrize("not_a_box", [{"kind": "rack"}, {"rows": None}, {"cols": None},
                                       {"rows": 0}, {"cols": 0}])
def test_only_a_box_with_rows_and_columns_holds_samples(not_a_box):
    f = facts(state=State.processed, has_storage_position=True, storage=box(**not_a_box))
    with pytest.raises(Invalid) as caught:
        guards.has_storage_position(f, ask("cryopreserve"))
    assert caught.value.detail == "Freezer 2 / Rack A / Box 3 is not a box with positions."


# --- release ---------------------------------------------------------------------------------

def test_release_rules_in_words():
    r = ask("release", actor="qa-1")
    assert guards.qc_passed(facts(), r) == "no QC result is recorded for this sample"
    assert guards.qc_passed(facts(qc_results=("pass", "pending", "fail")), r) == \
        "a QC test failed"
    assert guards.qc_passed(facts(qc_results=("pass", "pending")), r) == \
        "a QC test is still pending"
    assert guards.qc_passed(facts(qc_results=("pass", "pass")), r) is None
    assert guards.donor_eligible(facts(donor_eligibility="ineligible"), r) == (
        "the donor eligibility determination is 'ineligible', not 'eligible' (21 CFR 1271.60: "
        "material stays in quarantine until the donor is eligible)")
    assert guards.donor_eligible(facts(donor_eligibility="eligible"), r) is None
    assert guards.not_own_processing(facts(processed_by=frozenset({"qa-1", "t-2"})), r) == \
        "you processed this product; release needs a second person from QA"
    assert guards.not_own_processing(facts(processed_by=frozenset({"t-2"})), r) is None
    assert guards.not_expired(facts(expires_at=NOW), r) == "the product has expired"
    assert guards.not_expired(facts(expires_at=NOW + timedelta(seconds=1)), r) is None
    assert guards.not_expired(facts(), r) is None
    assert guards.never_thawed(facts(ever_thawed=True), r) == \
        "this sample was thawed before, and thawed material is never refrozen"
    assert guards.never_thawed(facts(), r) is None


def test_consent_is_for_clinical_use_unless_another_use_is_named():
    r = ask("release")
    assert guards.consent_for_use(facts(consent_scopes=frozenset({"research"})), r) == (
        "the donor has no active consent for clinical use (active consents: research)")
    assert guards.consent_for_use(facts(), ask("release", intended_use="research")) == (
        "the donor has no active consent for research use (active consents: none)")
    assert guards.consent_for_use(facts(consent_scopes=frozenset({"research", "clinical"})),
                                  r) is None
