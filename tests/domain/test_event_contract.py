"""One contract per event: every row declares its data, guards and effect, and the one
validator and the effects do what the lab's SOP says. Expectations are written out here."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from lims.domain import workflow
from lims.domain.errors import Invalid
from lims.domain.eventdata import DataField
from lims.domain.guards import Request, SampleFacts
from lims.domain.states import State
from lims.domain.workflow import (
    BY_EVENT,
    EFFECTS,
    TRANSITIONS,
    EndStep,
    StartStep,
    UseBedsideCheck,
    check_data,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

# What each event takes, as the bench SOP lists it (name: required?).
SOP_FIELDS: dict[str, dict[str, bool]] = {
    "collect": {}, "reject": {}, "discard": {}, "consume": {},
    "dispatch": {"courier": True, "shipper": False},
    "place_hold": {}, "lift_hold": {},
    "receive": {"volume_ml": False, "expires_at": False},
    "start_processing": {"method": True, "parameters": False},
    "start_culture": {"method": False, "parameters": False},
    "complete_processing": {"results": False, "volume_ml": False, "cell_count": False,
                            "viability_pct": False, "expires_at": False},
    "harvest_culture": {"results": False, "volume_ml": False, "cell_count": False,
                        "viability_pct": False, "expires_at": False},
    "passage": {"flasks": False, "confluence_pct": False, "cell_count": False,
                "viability_pct": False},
    "cryopreserve": {"box_id": True, "position": True, "volume_ml": False,
                     "cell_count": False, "viability_pct": False, "expires_at": False},
    "thaw": {"volume_ml": False, "cell_count": False, "viability_pct": False,
             "expires_at": False},
    "release": {"intended_use": False, "expires_at": False},
    "distribute": {"intended_use": True, "recipient_id": False, "destination": False},
    "administer": {"check_id": False},
}


def test_every_event_declares_the_data_the_sop_lists():
    assert {t.event: {f.name: f.required for f in t.fields} for t in TRANSITIONS} == SOP_FIELDS


def test_every_event_has_exactly_one_effect_and_every_effect_an_event():
    assert set(EFFECTS) == set(BY_EVENT)


def test_the_table_check_refuses_a_missing_or_extra_effect(monkeypatch):
    import importlib

    monkeypatch.delitem(EFFECTS, "passage")
    with pytest.raises(ValueError, match="passage"):
        workflow._check_effects()
    monkeypatch.setitem(EFFECTS, "passage", EFFECTS["thaw"])
    monkeypatch.setitem(EFFECTS, "refreeze", EFFECTS["thaw"])
    with pytest.raises(ValueError, match="refreeze"):
        workflow._check_effects()
    assert importlib.import_module("lims.domain.workflow") is workflow


def test_unknown_data_is_refused_with_what_the_event_takes():
    with pytest.raises(Invalid) as err:
        check_data("passage", {"flasks": 2, "colour": "red"}, "bone_marrow")
    assert "'colour'" in err.value.detail
    assert err.value.extra["allowed"] == ["cell_count", "confluence_pct", "flasks",
                                          "viability_pct"]


def test_data_sent_to_the_wrong_event_says_where_it_belongs():
    with pytest.raises(Invalid) as err:
        check_data("place_hold", {"volume_ml": 3.0}, "bone_marrow")
    assert "is measured at" in err.value.detail
    assert "cryopreserve" in err.value.detail and "'place_hold'" in err.value.detail


@pytest.mark.parametrize(("event", "data", "fragment"), [
    ("start_processing", {}, "needs 'method'"),
    ("start_processing", {"method": "enzymatic_digestion"}, "not a validated"),
    ("start_processing", {"method": "centrifuge_it"}, "cannot be 'centrifuge_it'"),
    ("complete_processing", {"volume_ml": True}, "must be a number"),
    ("complete_processing", {"volume_ml": -1}, "of 0 mL or more"),
    ("complete_processing", {"viability_pct": 101}, "from 0 to 100"),
    ("complete_processing", {"cell_count": float("nan")}, "finite"),
    ("complete_processing", {"expires_at": "2027-01-01T10:00:00"}, "with its zone"),
    ("complete_processing", {"expires_at": "9999-01-01T10:00:00+00:00"}, "plausible"),
    ("complete_processing", {"results": "good"}, "object"),
    ("passage", {"flasks": 2.5}, "whole number"),
    ("cryopreserve", {"box_id": 7, "position": 1}, "must be text"),
    ("distribute", {"intended_use": "banking"}, "cannot be 'banking'"),
    ("distribute", {"intended_use": "clinical", "destination": "x" * 121}, "under 120"),
])
def test_malformed_data_is_refused_naming_the_field(event, data, fragment):
    with pytest.raises(Invalid) as err:
        check_data(event, data, "bone_marrow")
    assert fragment in err.value.detail


def test_clean_data_keeps_values_and_fills_defaults():
    assert check_data("start_culture", {"method": None}, "adipose_tissue") == \
        {"method": "plastic_adherence"}
    clean = check_data("thaw", {"volume_ml": 21, "expires_at": "2027-01-01T10:00:00+01:00"},
                       "cord_blood")
    assert clean["volume_ml"] == 21
    assert clean["expires_at"] == datetime(2027, 1, 1, 9, 0, tzinfo=UTC)


def _changes(event: str, facts: SampleFacts, reason: str | None = None, **data):
    t = BY_EVENT[event]
    request = Request(event=event, actor_id="u1", roles=frozenset(t.roles), now=NOW,
                      reason=reason, data=data, intended_use=data.get("intended_use"))
    outcome = workflow.Outcome(transition=t, from_state=facts.state,
                               to_state=t.target or facts.state, on_hold=facts.on_hold,
                               deviation=reason is not None)
    return workflow.changes(outcome, facts, request)


def test_effects_write_what_the_sop_says():
    culture = SampleFacts(state=State.in_culture, passage=2, kind="msc_marrow")
    assert _changes("passage", culture).sample == {"passage": 3}
    started = _changes("start_culture", SampleFacts(state=State.received), reason="late",
                       method="plastic_adherence")
    assert started.sample == {"passage": 0}
    assert started.records == (StartStep("plastic_adherence", {}, "late"),)
    assert _changes("complete_processing", SampleFacts(state=State.in_processing),
                    results={"tnc": 1}, volume_ml=20.0).sample == {"volume_ml": 20.0}
    assert _changes("harvest_culture", culture, results={"n": 2}).records == \
        (EndStep({"n": 2}),)
    assert _changes("administer", SampleFacts(state=State.distributed),
                    check_id="c1").records == (UseBedsideCheck("c1"),)
    stored = _changes("cryopreserve", SampleFacts(state=State.processed), box_id="b1",
                      position=5)
    assert stored.sample["location_id"] == "b1" and stored.sample["position"] == 5
    for leaving in ("thaw", "distribute", "discard", "reject"):
        facts = SampleFacts(state=State.released, own_recipient_id=None)
        data = {"intended_use": "research"} if leaving == "distribute" else {}
        out = _changes(leaving, facts, **data).sample
        assert out["location_id"] is None and out["position"] is None, leaving
    assert _changes("place_hold", SampleFacts(state=State.received), reason="sterility"
                    ).sample == {"hold_reason": "sterility"}
    assert _changes("lift_hold", SampleFacts(state=State.received, on_hold=True),
                    reason="ok").sample == {"hold_reason": None}


def test_autologous_distribution_goes_to_the_donor_patient_whatever_was_asked():
    facts = SampleFacts(state=State.released, donor_type="autologous", own_recipient_id="r1")
    out = _changes("distribute", facts, intended_use="clinical", destination="Ward 3")
    assert out.sample == {"recipient_id": "r1", "intended_use": "clinical",
                          "distributed_to": "Ward 3", "location_id": None, "position": None}


def test_thawing_starts_the_post_thaw_window():
    # A thawed cord blood unit expires at thaw time plus its post-thaw window (hours).
    out = _changes("thaw", SampleFacts(state=State.cryopreserved, kind="cord_blood"))
    assert NOW < out.sample["expires_at"] <= NOW + timedelta(hours=24)


def test_a_field_declaration_knows_its_choices_per_source():
    method = next(f for f in BY_EVENT["start_processing"].fields if f.name == "method")
    assert "enzymatic_digestion" in method.allowed("adipose_tissue")
    assert "enzymatic_digestion" not in method.allowed("bone_marrow")
    assert "density_gradient" in method.allowed("cord_blood")
    assert dataclasses.replace(method, choices_by_source=None).allowed("bone_marrow") == \
        method.choices
    assert isinstance(method, DataField)
