"""What the workflow writes and draws, at the points a survivor of mutation testing showed
untested: an expiry given by the technician wins over the product table, and the diagram
leaves out the edges its notes stand for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lims.domain import workflow
from lims.domain.guards import Request, SampleFacts
from lims.domain.states import State
from lims.domain.workflow import BY_EVENT

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _changes(event: str, facts: SampleFacts, **data: object) -> workflow.Changes:
    t = BY_EVENT[event]
    request = Request(event=event, actor_id="u1", roles=frozenset(t.roles), now=NOW, data=data)
    outcome = workflow.Outcome(transition=t, from_state=facts.state,
                               to_state=t.target or facts.state, on_hold=facts.on_hold)
    return workflow.changes(outcome, facts, request)


def test_an_expiry_given_at_the_thaw_is_kept_and_the_table_fills_in_otherwise():
    given = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    frozen = SampleFacts(state=State.cryopreserved, kind="cord_blood")
    assert _changes("thaw", frozen, expires_at=given).sample["expires_at"] == given
    # cord blood: 4 h after the thaw (the lab's validated post-thaw window)
    assert _changes("thaw", frozen).sample["expires_at"] == NOW + timedelta(hours=4)
    # a sample whose kind is not known gets no expiry from the table
    unknown = SampleFacts(state=State.cryopreserved, kind=None)
    assert "expires_at" not in _changes("thaw", unknown).sample


def test_the_diagram_starts_at_registration_and_notes_discard_and_consume():
    lines = workflow.mermaid().splitlines()
    assert lines[:2] == ["stateDiagram-v2", "    [*] --> registered"]
    assert "    note right of discarded: discard from any non-final state" in lines
    assert "    note right of consumed: derivation used the whole volume" in lines
    assert not [x for x in lines if x.endswith(": discard") or x.endswith(": consume")]
    assert not [x for x in lines if x.endswith(": place_hold") or x.endswith(": passage")]
