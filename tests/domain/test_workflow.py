"""Tests for lims.domain.workflow (the sample state machine).

The expected lifecycle below is written by hand from the lab's rules (DOMAIN.md and the
design brief), NOT read from `TRANSITIONS`: a wrong edit of the table makes these tests
fail instead of silently moving the expectation along with it.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from lims.domain.errors import Conflict, GuardFailed, IllegalTransition, Invalid, NotPermitted
from lims.domain.guards import BedsideFacts
from lims.domain.workflow import (
    BY_EVENT,
    EVENTS,
    TRANSITIONS,
    Outcome,
    Request,
    Role,
    SampleFacts,
    State,
    allowed_events,
    decide,
    mermaid,
)

S = State
NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
ACTOR = "user-qa-2"  # the person asking; never in processed_by unless a test says so

# --- the independent, hand-written lifecycle --------------------------------------------------

FINAL = {S.administered, S.discarded, S.consumed}
NOT_FINAL = set(State) - FINAL
# Material physically in the lab that can be used up by derivation.
IN_LAB_DERIVABLE = {S.received, S.in_processing, S.processed, S.in_culture, S.thawed}

# event -> {from state: to state}; an event that keeps the state maps a state to itself.
EXPECTED_LIFECYCLE: dict[str, dict[State, State]] = {
    "collect": {S.registered: S.collected},
    "dispatch": {S.collected: S.in_transit},
    "receive": {S.collected: S.received, S.in_transit: S.received},
    "reject": {S.collected: S.rejected, S.in_transit: S.rejected},
    "start_processing": {S.received: S.in_processing, S.thawed: S.in_processing},
    "complete_processing": {S.in_processing: S.processed},
    "start_culture": {S.received: S.in_culture, S.processed: S.in_culture,
                      S.thawed: S.in_culture},
    "passage": {S.in_culture: S.in_culture},
    "harvest_culture": {S.in_culture: S.processed},
    "cryopreserve": {S.received: S.cryopreserved, S.processed: S.cryopreserved},
    "thaw": {S.cryopreserved: S.thawed},
    "release": {S.processed: S.released, S.cryopreserved: S.released, S.thawed: S.released},
    "distribute": {S.released: S.distributed},
    "administer": {S.distributed: S.administered},
    "discard": {s: S.discarded for s in NOT_FINAL},
    "consume": {s: S.consumed for s in IN_LAB_DERIVABLE},
    "place_hold": {s: s for s in NOT_FINAL},
    "lift_hold": {s: s for s in NOT_FINAL},
}
# Quarantine blocks release and distribution; a hold cannot be placed twice or lifted
# when there is none.
BLOCKED_ON_HOLD = {"release", "distribute", "administer", "place_hold"}
# Applied by the system only (derivation used up the volume): never offered to a person.
INTERNAL = {"consume"}
ONLY_ON_HOLD = {"lift_hold"}
NEEDS_REASON = {"reject", "discard", "place_hold", "lift_hold"}
NEEDS_SIGNATURE = {"reject", "discard", "release"}


def expected_target(state: State, event: str, on_hold: bool) -> State | None:
    """The state the lifecycle says `event` leads to, or None when it is illegal."""
    target = EXPECTED_LIFECYCLE[event].get(state)
    if target is None:
        return None
    if on_hold and event in BLOCKED_ON_HOLD:
        return None
    if not on_hold and event in ONLY_ON_HOLD:
        return None
    return target


def expected_hold_after(event: str, on_hold: bool) -> bool:
    return {"place_hold": True, "lift_hold": False}.get(event, on_hold)


# --- helpers ---------------------------------------------------------------------------------


def good_facts(state: State, **changes: object) -> SampleFacts:
    """Facts that satisfy every guard; override single fields to break one guard."""
    base = SampleFacts(
        state=state,
        on_hold=False,
        donor_eligibility="eligible",
        consent_scopes=frozenset({"clinical", "research", "banking"}),
        qc_results=("pass", "pass"),
        open_excursions=0,
        processing_due_at=None,
        processed_by=frozenset({"user-tech-1"}),
        has_storage_position=True,
        sample_id="sample-1",
        # A matching bedside check of this product, made by the asker a minute ago.
        bedside=BedsideFacts(sample_id="sample-1", match=True, reasons=(), user_id=ACTOR,
                             at=NOW - timedelta(minutes=1), used=False),
    )
    return dataclasses.replace(base, **changes)


def req(event: str, *roles: str, **changes: object) -> Request:
    """A complete request (reason, signature) by ACTOR; roles default to the row's first."""
    base = Request(
        event=event,
        actor_id=ACTOR,
        roles=frozenset(roles) if roles else frozenset({permitted_role(event)}),
        now=NOW,
        reason="documented in deviation log DV-17",
        intended_use=None,
        signed=True,
        signature_meaning=sorted(BY_EVENT[event].meanings)[0] if event in BY_EVENT else None,
        internal=event in BY_EVENT and BY_EVENT[event].internal,
    )
    return dataclasses.replace(base, **changes)


def permitted_role(event: str) -> Role:
    return sorted(BY_EVENT[event].roles)[0]


def legal_facts(event: str, **changes: object) -> SampleFacts:
    """Facts for a state (and hold flag) from which the lifecycle allows `event`."""
    state = sorted(EXPECTED_LIFECYCLE[event])[0]
    return good_facts(state, on_hold=event in ONLY_ON_HOLD, **changes)


def refused(exc_type: type[Exception], facts: SampleFacts, request: Request) -> Exception:
    with pytest.raises(exc_type) as info:
        decide(facts, request)
    return info.value


# --- 1. the table against the hand-written lifecycle -----------------------------------------


def test_table_has_exactly_the_expected_events():
    assert set(EVENTS) == set(EXPECTED_LIFECYCLE)
    assert len(EVENTS) == len(TRANSITIONS), "an event is defined twice in TRANSITIONS"


@pytest.mark.parametrize("event", sorted(EXPECTED_LIFECYCLE))
def test_table_row_matches_expected_lifecycle(event):
    t = BY_EVENT[event]
    assert {s: t.target or s for s in t.sources} == EXPECTED_LIFECYCLE[event]


@pytest.mark.parametrize("on_hold", [False, True], ids=["free", "on_hold"])
@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("state", list(State))
def test_every_state_and_event(state, event, on_hold):
    facts = good_facts(state, on_hold=on_hold)
    request = req(event)
    expected = expected_target(state, event, on_hold)
    allowed = allowed_events(state, on_hold)

    if expected is None:
        err = refused(IllegalTransition, facts, request)
        assert isinstance(err, Conflict)  # 409
        assert err.extra["allowed_events"] == allowed
        assert err.extra["state"] == state.value
        assert event not in allowed
    else:
        outcome = decide(facts, request)
        assert isinstance(outcome, Outcome)
        assert outcome.from_state == state
        assert outcome.to_state == expected
        assert outcome.on_hold is expected_hold_after(event, on_hold)
        assert outcome.deviation is False
        assert outcome.transition is BY_EVENT[event]
        assert (event in allowed) is (event not in INTERNAL)


@pytest.mark.parametrize("on_hold", [False, True], ids=["free", "on_hold"])
@pytest.mark.parametrize("state", list(State))
def test_allowed_events_matches_expected_lifecycle(state, on_hold):
    expected = {e for e in EXPECTED_LIFECYCLE
                if expected_target(state, e, on_hold) and e not in INTERNAL}
    got = allowed_events(state, on_hold)
    assert len(got) == len(set(got))
    assert set(got) == expected


@pytest.mark.parametrize("on_hold", [False, True], ids=["free", "on_hold"])
@pytest.mark.parametrize("state", sorted(FINAL))
def test_final_states_allow_nothing_not_even_holds(state, on_hold):
    assert allowed_events(state, on_hold) == []
    for event in EVENTS:
        err = refused(IllegalTransition, good_facts(state, on_hold=on_hold), req(event))
        assert err.extra["allowed_events"] == []
        assert "final state" in err.detail


def test_thawed_material_is_never_refrozen_directly():
    assert "cryopreserve" not in allowed_events(S.thawed)
    assert "cryopreserve" not in allowed_events(S.thawed, on_hold=True)
    into_freezer = [t for t in TRANSITIONS if t.target == S.cryopreserved]
    assert into_freezer and all(S.thawed not in t.sources for t in into_freezer)
    err = refused(IllegalTransition, good_facts(S.thawed), req("cryopreserve"))
    assert "thawed" in err.detail


def test_illegal_transition_message_lists_what_is_allowed_now():
    err = refused(IllegalTransition, good_facts(S.registered), req("receive"))
    assert "'receive' is not allowed for a sample that is registered" in err.detail
    for event in err.extra["allowed_events"]:
        assert event in err.detail


def test_unknown_event_is_invalid_and_lists_known_events():
    err = refused(Invalid, good_facts(S.received), req("refreeze", "technician"))
    assert "refreeze" in err.detail
    assert "start_processing" in err.detail and "release" in err.detail


# --- 2. roles --------------------------------------------------------------------------------


# Who may apply each step, as the lab's SOP states it (written out by hand, not read from
# the table): bench work is the technicians'; collection and shipping may also be recorded
# by coordinators or the hospital's system; QA alone releases and lifts holds; a receipt
# check failure may be signed by QA too; the ward staff (coordinators) distribute and give.
T_, C_, QA_, INT_ = "technician", "coordinator", "qa", "integration"
SOP_ROLES: dict[str, set[str]] = {
    "collect": {T_, C_, INT_}, "dispatch": {T_, C_, INT_}, "receive": {T_},
    "reject": {T_, QA_}, "start_processing": {T_}, "complete_processing": {T_},
    "start_culture": {T_}, "passage": {T_}, "harvest_culture": {T_}, "cryopreserve": {T_},
    "thaw": {T_}, "release": {QA_}, "distribute": {T_, C_}, "administer": {T_, C_},
    "discard": {T_, QA_}, "consume": {T_}, "place_hold": {T_, C_, QA_}, "lift_hold": {QA_},
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("event", EVENTS)
def test_role_is_allowed_iff_the_sop_says_so(event, role):
    facts, request = legal_facts(event), req(event, role)
    if role.value in SOP_ROLES[event]:
        assert decide(facts, request).to_state == EXPECTED_LIFECYCLE[event][facts.state]
    else:
        err = refused(NotPermitted, facts, request)
        needed = err.detail.split("needs the role", 1)[1].split(";", 1)[0]
        for r in SOP_ROLES[event]:
            assert r in needed
        assert role.value in err.detail  # says which role the user has


def _role_mismatches(table) -> list[str]:
    """Rows whose roles differ from the SOP, judged by what decide() lets each role do."""
    wrong = []
    for t in table:
        for role in Role:
            request = req(t.event, role)
            facts = legal_facts(t.event)
            try:
                check_step_with(t, facts, request)
                allowed = True
            except NotPermitted:
                allowed = False
            if allowed != (role.value in SOP_ROLES[t.event]):
                wrong.append(f"{t.event}:{role.value}")
    return wrong


def check_step_with(t, facts, request):
    """decide() against a table where this one row is replaced (a mutated table)."""
    original = BY_EVENT[t.event]
    BY_EVENT[t.event] = t
    try:
        return decide(facts, request)
    finally:
        BY_EVENT[t.event] = original


def test_the_table_matches_the_sop():
    assert _role_mismatches(TRANSITIONS) == []


@pytest.mark.parametrize("event", EVENTS)
def test_changing_any_role_of_the_table_is_caught(event):
    # Mutation check: adding or removing any single role on any row makes the SOP
    # comparison fail, so a wrong edit of the table cannot pass the tests.
    row = BY_EVENT[event]
    for role in Role:
        mutated = dataclasses.replace(row, roles=row.roles ^ {role})
        assert _role_mismatches([mutated]) == [f"{event}:{role.value}"]


@pytest.mark.parametrize("event", ["release", "lift_hold"])
def test_only_qa_may_release_and_lift_a_hold(event):
    assert BY_EVENT[event].roles == {Role.qa}
    for role in set(Role) - {Role.qa}:
        refused(NotPermitted, legal_facts(event), req(event, role))
    err = refused(NotPermitted, legal_facts(event), req(event, "technician", "coordinator"))
    assert "needs the role qa" in err.detail


def test_any_one_matching_role_is_enough():
    outcome = decide(good_facts(S.processed), req("release", "technician", "qa"))
    assert outcome.to_state == S.released


def test_no_role_at_all_is_not_permitted():
    err = refused(NotPermitted, good_facts(S.registered), req("collect", roles=frozenset()))
    assert "no role" in err.detail


@pytest.mark.parametrize("event", sorted(NEEDS_SIGNATURE))
def test_signed_events_are_never_open_to_service_accounts(event):
    # An electronic signature is a person's act (21 CFR 11.100): the hospital
    # integration account and the administrator do not sign bench or QA records.
    assert Role.integration not in BY_EVENT[event].roles
    assert Role.admin not in BY_EVENT[event].roles


def test_illegal_state_is_reported_before_missing_role():
    # A sample in the wrong state answers 409 for everyone, not 403 for some.
    refused(IllegalTransition, good_facts(S.registered), req("release", "technician"))


# --- 3. reasons and signatures ---------------------------------------------------------------


def test_rows_needing_reason_and_signature():
    assert {t.event for t in TRANSITIONS if t.needs_reason} == NEEDS_REASON
    assert {t.event for t in TRANSITIONS if t.needs_signature} == NEEDS_SIGNATURE


@pytest.mark.parametrize("reason", [None, "", "   ", "\t\n"], ids=["none", "empty", "spaces", "ws"])
@pytest.mark.parametrize("event", sorted(NEEDS_REASON))
def test_missing_or_blank_reason_is_refused(event, reason):
    err = refused(Invalid, legal_facts(event), req(event, reason=reason))
    assert "reason" in err.detail


@pytest.mark.parametrize("event", sorted(set(EVENTS) - NEEDS_REASON))
def test_events_without_reason_need_none(event):
    facts = legal_facts(event)
    outcome = decide(facts, req(event, reason=None))
    assert outcome.to_state == EXPECTED_LIFECYCLE[event][facts.state]


@pytest.mark.parametrize("event", sorted(NEEDS_SIGNATURE))
def test_unsigned_is_refused(event):
    err = refused(Invalid, legal_facts(event), req(event, signed=False))
    assert "signature" in err.detail


@pytest.mark.parametrize("event", sorted(set(EVENTS) - NEEDS_SIGNATURE))
def test_events_without_signature_need_none(event):
    facts = legal_facts(event)
    outcome = decide(facts, req(event, signed=False))
    assert outcome.to_state == EXPECTED_LIFECYCLE[event][facts.state]


# --- 4. guards -------------------------------------------------------------------------------

RELEASE_BLOCKERS = [
    pytest.param({"donor_eligibility": "pending"}, {}, "'pending'", id="eligibility-pending"),
    pytest.param({"donor_eligibility": "ineligible"}, {}, "'ineligible'", id="ineligible"),
    pytest.param({"consent_scopes": frozenset({"research", "banking"})}, {},
                 "no active consent for clinical use", id="no-clinical-consent-default-use"),
    pytest.param({"consent_scopes": frozenset({"clinical"})}, {"intended_use": "research"},
                 "no active consent for research use", id="research-asked-clinical-only"),
    pytest.param({"consent_scopes": frozenset()}, {}, "active consents: none", id="no-consent"),
    pytest.param({"qc_results": ()}, {}, "no QC result", id="no-qc"),
    pytest.param({"qc_results": ("pass", "fail")}, {}, "QC test failed", id="qc-failed"),
    pytest.param({"qc_results": ("pass", "pending")}, {}, "still pending", id="qc-pending"),
    pytest.param({"open_excursions": 2}, {}, "2 temperature excursion", id="open-excursion"),
    pytest.param({"processed_by": frozenset({"user-tech-1", ACTOR})}, {}, "second person",
                 id="two-person-rule"),
]


@pytest.mark.parametrize("state", [S.processed, S.cryopreserved, S.thawed])
@pytest.mark.parametrize(("facts_change", "request_change", "fragment"), RELEASE_BLOCKERS)
def test_release_blocked_by_each_guard_alone(state, facts_change, request_change, fragment):
    err = refused(GuardFailed, good_facts(state, **facts_change),
                  req("release", "qa", **request_change))
    assert isinstance(err, Conflict)  # 409
    assert len(err.extra["blocked_by"]) == 1, err.extra["blocked_by"]
    assert fragment in err.extra["blocked_by"][0]
    assert fragment in err.detail
    assert err.detail.startswith("Cannot release:")


@pytest.mark.parametrize(("scopes", "use"), [
    ({"clinical"}, None),
    ({"clinical"}, "clinical"),
    ({"research"}, "research"),
    ({"clinical", "research"}, "research"),
    ({"banking"}, "banking"),
])
def test_release_allowed_with_consent_for_the_intended_use(scopes, use):
    facts = good_facts(S.processed, consent_scopes=frozenset(scopes))
    assert decide(facts, req("release", "qa", intended_use=use)).to_state == S.released


def test_release_allowed_by_a_second_person():
    facts = good_facts(S.processed, processed_by=frozenset({"user-tech-1", "user-tech-2"}))
    assert decide(facts, req("release", "qa", actor_id="user-qa-1")).to_state == S.released


def test_guard_failed_lists_every_failing_guard():
    facts = good_facts(S.processed, donor_eligibility="pending", open_excursions=1)
    err = refused(GuardFailed, facts, req("release", "qa"))
    blocked = err.extra["blocked_by"]
    assert len(blocked) == 2
    assert "'pending'" in blocked[0]
    assert "1 temperature excursion" in blocked[1]
    assert all(p in err.detail for p in blocked)


def test_guard_failed_lists_all_five_release_guards():
    facts = good_facts(S.processed, donor_eligibility="ineligible", consent_scopes=frozenset(),
                       qc_results=("fail",), open_excursions=3, processed_by=frozenset({ACTOR}))
    assert len(refused(GuardFailed, facts, req("release", "qa")).extra["blocked_by"]) == 5


@pytest.mark.parametrize(("facts_change", "request_change", "fragment"), [
    pytest.param({"consent_scopes": frozenset({"research"})}, {}, "clinical use", id="consent"),
    pytest.param({"consent_scopes": frozenset({"clinical"})}, {"intended_use": "research"},
                 "research use", id="consent-research"),
    pytest.param({"open_excursions": 1}, {}, "1 temperature excursion", id="excursion"),
])
def test_distribute_blocked_by_consent_and_excursions(facts_change, request_change, fragment):
    err = refused(GuardFailed, good_facts(S.released, **facts_change),
                  req("distribute", **request_change))
    assert len(err.extra["blocked_by"]) == 1
    assert fragment in err.extra["blocked_by"][0]


@pytest.mark.parametrize("state", [S.received, S.processed])
def test_cryopreserve_needs_a_storage_position(state):
    err = refused(GuardFailed, good_facts(state, has_storage_position=False), req("cryopreserve"))
    assert len(err.extra["blocked_by"]) == 1
    assert "storage position" in err.extra["blocked_by"][0]
    assert decide(good_facts(state), req("cryopreserve")).to_state == S.cryopreserved


WINDOW_EVENTS = [("start_processing", S.in_processing), ("start_culture", S.in_culture)]


@pytest.mark.parametrize(("event", "target"), WINDOW_EVENTS)
def test_after_the_window_without_reason_is_blocked(event, target):
    facts = good_facts(S.received, processing_due_at=NOW - timedelta(minutes=1))
    err = refused(GuardFailed, facts, req(event, reason=None))
    assert len(err.extra["blocked_by"]) == 1
    assert "processing window closed" in err.extra["blocked_by"][0]
    assert "deviation reason" in err.extra["blocked_by"][0]


@pytest.mark.parametrize(("event", "target"), WINDOW_EVENTS)
def test_after_the_window_with_reason_is_a_deviation(event, target):
    facts = good_facts(S.received, processing_due_at=NOW - timedelta(hours=3))
    outcome = decide(facts, req(event, reason="courier delayed by snow; PI approved"))
    assert outcome.to_state == target
    assert outcome.deviation is True


@pytest.mark.parametrize(("event", "target"), WINDOW_EVENTS)
@pytest.mark.parametrize("due", [NOW + timedelta(hours=1), NOW, None],
                         ids=["before-due", "exactly-due", "no-window"])
@pytest.mark.parametrize("reason", [None, "extra note"], ids=["no-reason", "reason"])
def test_within_the_window_is_no_deviation(event, target, due, reason):
    outcome = decide(good_facts(S.received, processing_due_at=due), req(event, reason=reason))
    assert outcome.to_state == target
    assert outcome.deviation is False


@pytest.mark.parametrize("event", ["start_processing", "start_culture"])
def test_blank_deviation_reason_does_not_pass_the_window(event):
    facts = good_facts(S.received, processing_due_at=NOW - timedelta(hours=3))
    with pytest.raises((GuardFailed, Invalid)):
        decide(facts, req(event, reason="   "))


@pytest.mark.parametrize(("state", "event"), [
    (S.thawed, "start_processing"),
    (S.thawed, "start_culture"),
    (S.processed, "start_culture"),
])
def test_window_only_applies_before_processing(state, event):
    # Cord blood: received and frozen within 48 h, thawed a year later for processing.
    facts = good_facts(state, processing_due_at=NOW - timedelta(days=365))
    outcome = decide(facts, req(event, reason=None))
    assert outcome.deviation is False


# --- 5. hold (quarantine) --------------------------------------------------------------------


def test_thawed_material_is_never_refrozen_even_after_processing():
    facts = good_facts(S.processed, has_storage_position=True, ever_thawed=True)
    with pytest.raises(GuardFailed, match="never refrozen"):
        decide(facts, req("cryopreserve"))


def test_consume_is_refused_when_a_person_asks_for_it():
    err = refused(NotPermitted, good_facts(S.received), req("consume", internal=False))
    assert "discard" in err.detail


@pytest.mark.parametrize(("event", "meaning", "ok"), [
    ("release", "released", True), ("release", "performed", False),
    ("release", "approved", False), ("discard", "performed", True),
    ("discard", "released", False), ("reject", "reviewed", True),
])
def test_a_signature_means_what_the_event_allows(event, meaning, ok):
    state = S.processed if event != "reject" else S.collected
    request = req(event, signature_meaning=meaning)
    if ok:
        assert decide(good_facts(state), request).transition.event == event
    else:
        err = refused(Invalid, good_facts(state), request)
        assert meaning in err.detail


def test_distribution_needs_an_eligible_donor_still():
    err = refused(GuardFailed, good_facts(S.released, donor_eligibility="ineligible"),
                  req("distribute", intended_use="clinical"))
    assert "eligib" in err.detail


def test_place_hold_sets_the_flag_and_keeps_the_state():
    outcome = decide(good_facts(S.processed), req("place_hold", "coordinator"))
    assert outcome.to_state == S.processed
    assert outcome.on_hold is True


@pytest.mark.parametrize(("event", "state"), [("release", S.processed),
                                              ("release", S.cryopreserved),
                                              ("distribute", S.released)])
def test_on_hold_release_and_distribution_are_refused(event, state):
    err = refused(IllegalTransition, good_facts(state, on_hold=True), req(event))
    assert "on hold" in err.detail
    assert event not in err.extra["allowed_events"]
    assert "lift_hold" in err.extra["allowed_events"]


def test_on_hold_the_same_product_is_releasable_once_lifted():
    held = good_facts(S.processed, on_hold=True)
    lifted = decide(held, req("lift_hold", "qa"))
    assert lifted.on_hold is False and lifted.to_state == S.processed
    after = dataclasses.replace(held, on_hold=lifted.on_hold)
    assert decide(after, req("release", "qa")).to_state == S.released


def test_place_hold_twice_is_refused():
    err = refused(IllegalTransition, good_facts(S.received, on_hold=True), req("place_hold"))
    assert "on hold" in err.detail


@pytest.mark.parametrize("role", sorted(set(Role) - {Role.qa}))
def test_only_qa_lifts_a_hold(role):
    refused(NotPermitted, good_facts(S.received, on_hold=True), req("lift_hold", role))


def test_lift_hold_when_not_on_hold_is_refused():
    err = refused(IllegalTransition, good_facts(S.received), req("lift_hold", "qa"))
    assert "needs the sample to be on hold" in err.detail
    assert "lift_hold" not in err.extra["allowed_events"]


@pytest.mark.parametrize("event", ["place_hold", "lift_hold"])
def test_hold_changes_need_a_reason(event):
    refused(Invalid, legal_facts(event), req(event, "qa", reason=None))


# --- 6. diagram and role filter --------------------------------------------------------------


def test_mermaid_diagram():
    text = mermaid()
    assert text.splitlines()[0] == "stateDiagram-v2"
    for state in {t.target for t in TRANSITIONS if t.target} | set(State):
        assert state.value in text, state
    assert "[*] --> registered" in text
    assert "cryopreserved --> thawed: thaw" in text
    assert "thawed --> cryopreserved" not in text
    for state in FINAL:
        assert f"{state.value} --> [*]" in text
    for state in set(State) - FINAL:
        assert f"{state.value} --> [*]" not in text


@pytest.mark.parametrize(("state", "on_hold", "roles", "expected"), [
    (S.processed, False, ["technician"],
     {"start_culture", "cryopreserve", "discard", "place_hold"}),
    (S.processed, False, ["qa"], {"release", "discard", "place_hold"}),
    (S.processed, True, ["qa"], {"discard", "lift_hold"}),
    (S.processed, True, ["technician"], {"start_culture", "cryopreserve", "discard"}),
    (S.registered, False, ["integration"], {"collect"}),
    (S.released, False, ["coordinator"], {"distribute", "place_hold"}),
    (S.processed, False, ["admin"], set()),
    (S.processed, False, [], set()),
])
def test_allowed_events_filtered_by_role(state, on_hold, roles, expected):
    assert set(allowed_events(state, on_hold, roles=roles)) == expected


@pytest.mark.parametrize("on_hold", [False, True], ids=["free", "on_hold"])
@pytest.mark.parametrize("state", list(State))
def test_role_filter_is_a_subset_in_table_order(state, on_hold):
    unfiltered = allowed_events(state, on_hold)
    assert allowed_events(state, on_hold, roles=None) == unfiltered
    assert allowed_events(state, on_hold, roles=[r.value for r in Role]) == unfiltered
    for role in Role:
        assert allowed_events(state, on_hold, roles=[role]) == [
            e for e in unfiltered if role in BY_EVENT[e].roles
        ]
