"""The sample state machine: one declarative table, read by everything else.

Every change of a sample's state goes through `decide()`. The API, the workflow diagram,
the allowed events on a sample card and the exhaustive tests are all derived from
`TRANSITIONS`, so the table is the single place to review the permitted sequence of steps
(21 CFR 11.10(f)).

The hold (quarantine) flag is orthogonal to the state: it is set and lifted by its own
events, and a transition can require that the sample is (not) on hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from lims.domain.errors import GuardFailed, IllegalTransition, Invalid, NotPermitted


class State(StrEnum):
    registered = "registered"
    collected = "collected"
    in_transit = "in_transit"
    received = "received"
    rejected = "rejected"
    in_processing = "in_processing"
    processed = "processed"
    in_culture = "in_culture"
    cryopreserved = "cryopreserved"
    thawed = "thawed"
    released = "released"
    distributed = "distributed"
    administered = "administered"
    discarded = "discarded"
    consumed = "consumed"


FINAL_STATES = frozenset({State.administered, State.discarded, State.consumed})
NON_FINAL = frozenset(State) - FINAL_STATES
# Material physically in the lab that can be split into aliquots or derived products.
DERIVABLE_STATES = frozenset(
    {State.received, State.in_processing, State.processed, State.in_culture, State.thawed}
)
# Before processing starts, the processing window runs: these samples can be overdue.
AWAITING_PROCESSING = frozenset(
    {State.registered, State.collected, State.in_transit, State.received}
)


class Role(StrEnum):
    technician = "technician"
    coordinator = "coordinator"
    qa = "qa"
    admin = "admin"
    integration = "integration"


class Use(StrEnum):
    """What material is used for; consent scopes name the same uses plus banking."""

    clinical = "clinical"
    research = "research"
    banking = "banking"


@dataclass(frozen=True)
class SampleFacts:
    """Everything the guards may look at, gathered by the service before deciding."""

    state: State
    on_hold: bool = False
    donor_eligibility: str = "pending"
    consent_scopes: frozenset[str] = frozenset()  # scopes of active (not withdrawn) consents
    qc_results: tuple[str, ...] = ()  # "pass" | "fail" | "pending", one per QC test
    open_excursions: int = 0  # temperature excursions QA has not reviewed
    processing_due_at: datetime | None = None
    processed_by: frozenset[str] = frozenset()  # user ids who performed processing steps
    has_storage_position: bool = False
    ever_thawed: bool = False  # thawed at any time: never refrozen, whatever came between


@dataclass(frozen=True)
class Request:
    """Who asks for which event, when, why and with what data."""

    event: str
    actor_id: str
    roles: frozenset[str]
    now: datetime
    reason: str | None = None
    intended_use: str | None = None
    signed: bool = False
    signature_meaning: str | None = None
    internal: bool = False  # raised by the system itself (derivation), not by a person


Guard = Callable[[SampleFacts, Request], str | None]


def _donor_eligible(f: SampleFacts, r: Request) -> str | None:
    if f.donor_eligibility != "eligible":
        return (
            f"the donor eligibility determination is '{f.donor_eligibility}', not 'eligible' "
            "(21 CFR 1271.60: material stays in quarantine until the donor is eligible)"
        )
    return None


def _consent_for_use(f: SampleFacts, r: Request) -> str | None:
    use = r.intended_use or Use.clinical
    if use not in f.consent_scopes:
        have = ", ".join(sorted(f.consent_scopes)) or "none"
        return f"the donor has no active consent for {use} use (active consents: {have})"
    return None


def _qc_passed(f: SampleFacts, r: Request) -> str | None:
    if not f.qc_results:
        return "no QC result is recorded for this sample"
    if "fail" in f.qc_results:
        return "a QC test failed"
    if "pending" in f.qc_results:
        return "a QC test is still pending"
    return None


def _no_open_excursion(f: SampleFacts, r: Request) -> str | None:
    if f.open_excursions:
        return f"{f.open_excursions} temperature excursion(s) await QA review"
    return None


def _not_own_processing(f: SampleFacts, r: Request) -> str | None:
    # Two-person rule: whoever processed the product may not also release it.
    if r.actor_id in f.processed_by:
        return "you processed this product; release needs a second person from QA"
    return None


def _late(f: SampleFacts, now: datetime) -> bool:
    """Past the processing window of the collection, and processing has not begun yet."""
    return bool(f.state in AWAITING_PROCESSING and f.processing_due_at
                and now > f.processing_due_at)


def _within_window_or_deviation(f: SampleFacts, r: Request) -> str | None:
    if _late(f, r.now) and not (r.reason and r.reason.strip()):
        return (
            "the processing window closed at "
            f"{f.processing_due_at:%Y-%m-%d %H:%M} UTC; give a deviation reason to proceed"
        )
    return None


def _never_thawed(f: SampleFacts, r: Request) -> str | None:
    if f.ever_thawed:
        return "this sample was thawed before, and thawed material is never refrozen"
    return None


def _has_storage_position(f: SampleFacts, r: Request) -> str | None:
    if not f.has_storage_position:
        return "choose a storage position (box and position) for the frozen sample"
    return None


GUARDS: dict[str, Guard] = {
    "donor_eligible": _donor_eligible,
    "consent_for_use": _consent_for_use,
    "qc_passed": _qc_passed,
    "no_open_excursion": _no_open_excursion,
    "not_own_processing": _not_own_processing,
    "within_window_or_deviation": _within_window_or_deviation,
    "has_storage_position": _has_storage_position,
    "never_thawed": _never_thawed,
}


@dataclass(frozen=True)
class Transition:
    event: str
    sources: frozenset[State]
    target: State | None  # None: the state stays (passage, holds)
    roles: frozenset[Role]
    description: str
    needs_reason: bool = False
    needs_signature: bool = False
    guards: tuple[str, ...] = ()
    # True: only while on hold; False: never while on hold; None: either.
    hold: bool | None = None
    sets_hold: bool | None = None  # the event sets (True) or lifts (False) the hold flag
    # What a signature on this event may mean (Part 11: the meaning is part of the record).
    meanings: frozenset[str] = frozenset({"performed", "reviewed", "approved"})
    internal: bool = False  # only the system applies it; never offered, never requested

    def __post_init__(self) -> None:
        unknown = set(self.guards) - GUARDS.keys()
        if unknown:
            raise ValueError(f"{self.event}: unknown guards {unknown}")


def _s(*states: State) -> frozenset[State]:
    return frozenset(states)


def _r(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


T, C, QA, INT = Role.technician, Role.coordinator, Role.qa, Role.integration
S = State

TRANSITIONS: tuple[Transition, ...] = (
    Transition("collect", _s(S.registered), S.collected, _r(T, C, INT),
               "Material collected into the container at the collection site."),
    Transition("dispatch", _s(S.collected), S.in_transit, _r(T, C, INT),
               "Handed to a courier in a validated shipper."),
    Transition("receive", _s(S.collected, S.in_transit), S.received, _r(T),
               "Receipt check passed: temperature, container integrity, labels match."),
    Transition("reject", _s(S.collected, S.in_transit), S.rejected, _r(T, QA),
               "Receipt check failed.", needs_reason=True, needs_signature=True),
    Transition("start_processing", _s(S.received, S.thawed), S.in_processing, _r(T),
               "Isolation or processing begins (method validated for the source).",
               guards=("within_window_or_deviation",)),
    Transition("complete_processing", _s(S.in_processing), S.processed, _r(T),
               "Processing finished; results recorded."),
    Transition("start_culture", _s(S.received, S.processed, S.thawed), S.in_culture, _r(T),
               "Cells plated for culture expansion (passage 0).",
               guards=("within_window_or_deviation",)),
    Transition("passage", _s(S.in_culture), None, _r(T),
               "Culture passaged; the passage number goes up by one."),
    Transition("harvest_culture", _s(S.in_culture), S.processed, _r(T),
               "Cells harvested from culture."),
    Transition("cryopreserve", _s(S.received, S.processed), S.cryopreserved, _r(T),
               "Frozen (controlled rate) and stored at a storage position.",
               guards=("has_storage_position", "never_thawed")),
    Transition("thaw", _s(S.cryopreserved), S.thawed, _r(T),
               "Thawed for use. Thawed material is never refrozen."),
    Transition("release", _s(S.processed, S.cryopreserved, S.thawed), S.released, _r(QA),
               "QA release for the intended use.", needs_signature=True, hold=False,
               guards=("donor_eligible", "consent_for_use", "qc_passed",
                       "no_open_excursion", "not_own_processing"),
               meanings=frozenset({"released"})),
    # Eligibility again at distribution: a late positive donor test must stop the product.
    Transition("distribute", _s(S.released), S.distributed, _r(T, C),
               "Shipped to the clinic or requester.", hold=False,
               guards=("donor_eligible", "consent_for_use", "no_open_excursion")),
    Transition("administer", _s(S.distributed), S.administered, _r(T, C),
               "Given to the recipient (needs a matching bedside check).", hold=False),
    Transition("discard", NON_FINAL, S.discarded, _r(T, QA),
               "Disposed of.", needs_reason=True, needs_signature=True),
    Transition("consume", DERIVABLE_STATES, S.consumed, _r(T),
               "The whole volume was used up (set automatically by derivation).",
               internal=True),
    Transition("place_hold", NON_FINAL, None, _r(T, C, QA),
               "Quarantine: blocks release and distribution.", needs_reason=True,
               hold=False, sets_hold=True),
    Transition("lift_hold", NON_FINAL, None, _r(QA),
               "QA lifts the quarantine.", needs_reason=True, hold=True, sets_hold=False),
)

BY_EVENT: dict[str, Transition] = {t.event: t for t in TRANSITIONS}
EVENTS = tuple(BY_EVENT)


def transition(event: str) -> Transition:
    try:
        return BY_EVENT[event]
    except KeyError:
        raise Invalid(f"Unknown event '{event}'. Known events: {', '.join(EVENTS)}.") from None


def _fits(t: Transition, state: State, on_hold: bool) -> bool:
    return state in t.sources and (t.hold is None or t.hold == on_hold)


def allowed_events(
    state: State, on_hold: bool = False, roles: Iterable[str] | None = None
) -> list[str]:
    """Events that the table allows from this state (and for these roles, if given)."""
    wanted = None if roles is None else set(roles)
    return [
        t.event
        for t in TRANSITIONS
        if not t.internal and _fits(t, state, on_hold) and (wanted is None or t.roles & wanted)
    ]


@dataclass(frozen=True)
class Outcome:
    """What applying an event does: the new state and hold flag, and any deviation."""

    transition: Transition
    from_state: State
    to_state: State
    on_hold: bool
    deviation: bool = False
    notes: list[str] = field(default_factory=list)


def decide(facts: SampleFacts, request: Request) -> Outcome:
    """Check an event against the table and the guards; raise or return the outcome."""
    t = transition(request.event)
    if t.internal and not request.internal:
        raise NotPermitted(f"'{t.event}' is recorded by the system itself "
                           "(when derivation uses up the volume); to dispose of material, "
                           "use 'discard' with a reason and your signature.")
    if not _fits(t, facts.state, facts.on_hold):
        allowed = allowed_events(facts.state, facts.on_hold)
        if facts.state in t.sources and t.hold is False:
            why = f"'{t.event}' is blocked while the sample is on hold (quarantine)"
        elif facts.state in t.sources and t.hold is True:
            why = f"'{t.event}' needs the sample to be on hold, and it is not"
        else:
            why = f"'{t.event}' is not allowed for a sample that is {facts.state.value}"
        raise IllegalTransition(
            f"{why}. Allowed now: {', '.join(allowed) or 'nothing (final state)'}.",
            allowed_events=allowed,
            state=facts.state.value,
        )
    if not t.roles & request.roles:
        raise NotPermitted(
            f"'{t.event}' needs the role {' or '.join(sorted(t.roles))}; "
            f"you have {', '.join(sorted(request.roles)) or 'no role'}."
        )
    if t.needs_reason and not (request.reason and request.reason.strip()):
        raise Invalid(f"'{t.event}' needs a reason: say why in the 'reason' field.")
    if t.needs_signature and not request.signed:
        raise Invalid(f"'{t.event}' needs your electronic signature (re-enter your password).")
    if t.needs_signature and request.signature_meaning not in t.meanings:
        raise Invalid(f"A signature on '{t.event}' means {' or '.join(sorted(t.meanings))}, "
                      f"not '{request.signature_meaning}'.")
    problems = [p for g in t.guards if (p := GUARDS[g](facts, request))]
    if problems:
        raise GuardFailed(
            f"Cannot {t.event.replace('_', ' ')}: " + "; ".join(problems) + ".",
            blocked_by=problems,
        )
    deviation = "within_window_or_deviation" in t.guards and _late(facts, request.now)
    return Outcome(
        transition=t,
        from_state=facts.state,
        to_state=t.target or facts.state,
        on_hold=facts.on_hold if t.sets_hold is None else t.sets_hold,
        deviation=deviation,
    )


def mermaid() -> str:
    """The state diagram drawn from the table (Mermaid stateDiagram)."""
    lines = ["stateDiagram-v2"]
    for t in TRANSITIONS:
        if t.target is None or t.sources == NON_FINAL or t.sources == DERIVABLE_STATES:
            continue
        for s in sorted(t.sources):
            lines.append(f"    {s.value} --> {t.target.value}: {t.event}")
    lines.append("    note right of discarded: discard from any non-final state")
    lines.append("    note right of consumed: derivation used the whole volume")
    for s in sorted(FINAL_STATES):
        lines.append(f"    {s.value} --> [*]")
    lines.insert(1, "    [*] --> registered")
    return "\n".join(lines)
