"""Custody follows what happens to the tube: who or what holds it after each event, as the
lab's custody SOP states it (written out here, not read from the effects)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lims.domain.guards import Request, SampleFacts
from lims.domain.states import State
from lims.domain.workflow import BY_EVENT, Outcome, changes

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BOX = "box-7"

# event: (data sent with it, who holds the tube afterwards; None = custody does not move)
SOP: dict[str, tuple[dict, str | None]] = {
    "collect": ({}, None),  # custody began with the collector when the tube was recorded
    "dispatch": ({"courier": "MedExpress"}, "courier:MedExpress"),
    "receive": ({}, "user:jana"),
    "reject": ({}, "user:jana"),
    "start_processing": ({"method": "ficoll"}, "user:jana"),
    "complete_processing": ({}, "user:jana"),
    "start_culture": ({"method": "msc_expansion"}, "user:jana"),
    "passage": ({}, "user:jana"),
    "harvest_culture": ({}, "user:jana"),
    "cryopreserve": ({"box_id": BOX, "position": 41}, f"location:{BOX}"),
    "thaw": ({}, "user:jana"),
    "release": ({"intended_use": "clinical"}, None),  # QA signs; the tube does not move
    "distribute": ({"intended_use": "clinical", "destination": "Ward 4B"}, "site:Ward 4B"),
    "administer": ({"check_id": "chk-1"}, "recipient:pat-9"),
    "discard": ({}, "user:jana"),
    "consume": ({}, "user:jana"),
    "place_hold": ({}, None),
    "lift_hold": ({}, None),
}


def test_the_sop_names_every_event():
    assert set(SOP) == set(BY_EVENT)


@pytest.mark.parametrize("event", sorted(SOP))
def test_custody_after_each_event(event):
    data, holder = SOP[event]
    t = BY_EVENT[event]
    facts = SampleFacts(state=next(iter(t.sources)), kind="bone_marrow", source="bone_marrow",
                        recipient_id="pat-9")
    ask = Request(event=event, actor_id="u-1", actor_username="jana", roles=frozenset(),
                  now=NOW, reason="because", data=data)
    outcome = Outcome(transition=t, from_state=facts.state,
                      to_state=t.target or facts.state, on_hold=False, deviation=False)
    assert changes(outcome, facts, ask).custody == holder


def test_distribution_without_a_destination_stays_with_who_sends_it():
    t = BY_EVENT["distribute"]
    facts = SampleFacts(state=State.released)
    ask = Request(event="distribute", actor_id="u-1", actor_username="carla",
                  roles=frozenset(), now=NOW, data={"intended_use": "clinical"})
    outcome = Outcome(transition=t, from_state=State.released, to_state=State.distributed,
                      on_hold=False, deviation=False)
    assert changes(outcome, facts, ask).custody == "user:carla"


@pytest.mark.parametrize(("party", "place", "read"), [
    ("collector:Midwife M.", None, "Midwife M. (collector)"),
    ("courier:MedExpress", None, "MedExpress (courier)"),
    ("user:tech", None, "tech"),
    ("site:Ward 4B", None, "Ward 4B"),
    ("location:box-7", "Lab / Dewar 2 / Rack C / Box 7", "Lab / Dewar 2 / Rack C / Box 7"),
    ("location:box-7", None, "a storage location"),
    ("recipient:pat-9", None, "the patient"),
    ("tube:W1234-S1", None, "tube W1234-S1"),
    (None, None, "nobody recorded"),
])
def test_a_custodian_reads_as_a_person_would_say_it(party, place, read):
    from lims.domain.custody import party_text

    assert party_text(party, place) == read
