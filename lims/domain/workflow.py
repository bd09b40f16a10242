"""The sample state machine: one declarative table, read by everything else.

Every change of a sample's state goes through this table. A row says everything an event
requires and does: the states it leaves and reaches, who may apply it, whether it needs a
reason or a signature (and what the signature may mean), the data it takes, the guards
that must pass, and its effect. The API, the forms of the bench page, the workflow diagram,
the allowed events on a sample card and the exhaustive tests are all derived from
`TRANSITIONS`, so it is the single place to review the permitted sequence of steps
(21 CFR 11.10(f)).

The hold (quarantine) flag is orthogonal to the state: it is set and lifted by its own
events, and a transition can require that the sample is (not) on hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lims.domain import custody, eventdata, isbt, sources
from lims.domain.errors import DomainError, GuardFailed, IllegalTransition, Invalid, NotPermitted
from lims.domain.eventdata import DataField
from lims.domain.guards import GUARDS, Request, SampleFacts, late
from lims.domain.states import (
    AWAITING_PROCESSING,
    DERIVABLE_STATES,
    DISTRIBUTION_USES,
    FINAL_STATES,
    NON_FINAL,
    Meaning,
    Role,
    State,
    Use,
    check_meaning,
)

__all__ = ["AWAITING_PROCESSING", "DERIVABLE_STATES", "FINAL_STATES", "NON_FINAL", "GUARDS",
           "Request", "SampleFacts", "Role", "State", "Use", "Meaning"]


# --- what events record beyond the state change ------------------------------------------

@dataclass(frozen=True)
class StartStep:
    """A processing step begins (method validated for the source)."""

    method: str
    parameters: Mapping[str, Any]
    deviation_reason: str | None


@dataclass(frozen=True)
class EndStep:
    """The open processing step ends with its results."""

    results: Mapping[str, Any]


@dataclass(frozen=True)
class UseBedsideCheck:
    """The bedside check that allowed an administration cannot be used again."""

    check_id: str


Record = StartStep | EndStep | UseBedsideCheck


@dataclass(frozen=True)
class Changes:
    """What an event changes on the sample, and what else it records. `custody`: the party
    that holds the tube afterwards (None: the event does not move it, e.g. a QA release)."""

    sample: dict[str, Any] = field(default_factory=dict)
    records: tuple[Record, ...] = ()
    custody: str | None = None


def _hands(r: Request) -> str:
    """The person applying the event now holds the tube."""
    return custody.person(r.actor_username)


Effect = Callable[[SampleFacts, Request, bool], Changes]
EFFECTS: dict[str, Effect] = {}


def effect(*events: str) -> Callable[[Effect], Effect]:
    """Register the effect of these events; the table is checked against the registry."""
    def register(fn: Effect) -> Effect:
        for e in events:
            if e in EFFECTS:
                raise ValueError(f"{e}: two effects")
            EFFECTS[e] = fn
        return fn
    return register


@effect("collect", "release")
def _state_only(f: SampleFacts, r: Request, deviation: bool) -> Changes:
    # Collection: custody began with the collector when the sample was recorded. Release:
    # a signature, not a movement. Either way the tube stays where it is.
    return Changes()


@effect("receive", "reject", "thaw", "discard", "consume")
def _in_hand(f: SampleFacts, r: Request, deviation: bool) -> Changes:
    return Changes(custody=_hands(r))


@effect("dispatch")
def _dispatch(f: SampleFacts, r: Request, deviation: bool) -> Changes:
    return Changes(custody=custody.courier(r.data["courier"]))


@effect("start_processing", "start_culture")
def _start_step(f: SampleFacts, r: Request, deviation: bool) -> Changes:
    step = StartStep(method=r.data["method"], parameters=r.data.get("parameters") or {},
                     deviation_reason=r.reason if deviation else None)
    culture = {"passage": 0} if r.event == "start_culture" else {}
    return Changes(sample=culture, records=(step,), custody=_hands(r))


@effect("complete_processing", "harvest_culture")
def _end_step(f: SampleFacts, r: Request, deviation: bool) -> Changes:
    return Changes(custody=_hands(r), records=(EndStep(results=r.data.get("results") or {}),))


@effect("passage")
def _passage(f: SampleFacts, r: Request, deviation: bool) -> Changes:
    return Changes(sample={"passage": (f.passage or 0) + 1}, custody=_hands(r))


@effect("cryopreserve")
def _store(f: SampleFacts, r: Request, deviation: bool) -> Changes:
    return Changes(sample={"location_id": r.data["box_id"], "position": r.data["position"]},
                   custody=custody.place(r.data["box_id"]))


@effect("distribute")
def _distribute(f: SampleFacts, r: Request, deviation: bool) -> Changes:
    recipient = f.own_recipient_id if f.donor_type == "autologous" else \
        r.data.get("recipient_id")
    destination = r.data.get("destination")
    return Changes(sample={"recipient_id": recipient, "intended_use": r.data["intended_use"],
                           "distributed_to": destination},
                   custody=custody.site(destination) if destination else _hands(r))


@effect("administer")
def _administer(f: SampleFacts, r: Request, deviation: bool) -> Changes:
    given_to = custody.patient(f.recipient_id) if f.recipient_id else _hands(r)
    return Changes(records=(UseBedsideCheck(r.data["check_id"]),), custody=given_to)


@effect("place_hold")
def _hold(f: SampleFacts, r: Request, deviation: bool) -> Changes:
    if r.reason and len(r.reason) > 500:
        raise Invalid("Keep the hold reason under 500 characters; details go in QA records.")
    return Changes(sample={"hold_reason": r.reason})


@effect("lift_hold")
def _lift(f: SampleFacts, r: Request, deviation: bool) -> Changes:
    return Changes(sample={"hold_reason": None})


# --- the data events take ----------------------------------------------------------------

def _measure(name: str, label: str, unit: str, maximum: float | None = None) -> DataField:
    return DataField(name, "number", label, unit=unit, minimum=0, maximum=maximum, sets=name)


VOLUME = _measure("volume_ml", "Volume", "mL")
CELLS = _measure("cell_count", "Total nucleated cells", "cells")
VIABILITY = _measure("viability_pct", "Viability", "%", maximum=100)
EXPIRY = DataField("expires_at", "datetime", "Expiry date and time", sets="expires_at")
MEASURES = (VOLUME, CELLS, VIABILITY, EXPIRY)
PARAMETERS = DataField("parameters", "object", "Method parameters")
RESULTS = DataField("results", "object", "Results")


def _method(default: str | None = None) -> DataField:
    return DataField("method", "choice", "Processing method", required=default is None,
                     choices=tuple(sorted(sources.METHODS)),
                     choices_by_source=sources.methods_by_source(), default=default)


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
    meanings: frozenset[Meaning] = frozenset(
        {Meaning.performed, Meaning.reviewed, Meaning.approved})
    internal: bool = False  # only the system applies it; never offered, never requested
    fields: tuple[DataField, ...] = ()  # the data the event takes
    frees_position: bool = False  # the material leaves its storage position

    def __post_init__(self) -> None:
        unknown = set(self.guards) - GUARDS.keys()
        if unknown:
            raise ValueError(f"{self.event}: unknown guards {unknown}")

    @property
    def effect(self) -> Effect:
        return EFFECTS[self.event]


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
               "Handed to a courier in a validated shipper.",
               fields=(DataField("courier", "text", "Courier (name or company)", required=True,
                                 max_length=120),
                       DataField("shipper", "text", "Shipper (container)", max_length=120))),
    Transition("receive", _s(S.collected, S.in_transit), S.received, _r(T),
               "Receipt check passed: temperature, container integrity, labels match.",
               fields=(VOLUME, EXPIRY)),
    Transition("reject", _s(S.collected, S.in_transit), S.rejected, _r(T, QA),
               "Receipt check failed.", needs_reason=True, needs_signature=True,
               frees_position=True),
    Transition("start_processing", _s(S.received, S.thawed), S.in_processing, _r(T),
               "Isolation or processing begins (method validated for the source).",
               guards=("within_window_or_deviation",), fields=(_method(), PARAMETERS)),
    Transition("complete_processing", _s(S.in_processing), S.processed, _r(T),
               "Processing finished; results recorded.", fields=(RESULTS, *MEASURES)),
    Transition("start_culture", _s(S.received, S.processed, S.thawed), S.in_culture, _r(T),
               "Cells plated for culture expansion (passage 0).",
               guards=("within_window_or_deviation",),
               fields=(_method(default="plastic_adherence"), PARAMETERS)),
    Transition("passage", _s(S.in_culture), None, _r(T),
               "Culture passaged; the passage number goes up by one.",
               fields=(DataField("flasks", "integer", "Flasks", minimum=1, maximum=1000),
                       DataField("confluence_pct", "number", "Confluence", unit="%",
                                 minimum=0, maximum=100), CELLS, VIABILITY)),
    Transition("harvest_culture", _s(S.in_culture), S.processed, _r(T),
               "Cells harvested from culture.", fields=(RESULTS, *MEASURES)),
    Transition("cryopreserve", _s(S.received, S.processed), S.cryopreserved, _r(T),
               "Frozen (controlled rate) and stored at a storage position.",
               guards=("has_storage_position", "never_thawed"),
               fields=(DataField("box_id", "id", "Box", required=True, refers_to="box"),
                       DataField("position", "position", "Position in the box",
                                 required=True, minimum=1),
                       *MEASURES)),
    Transition("thaw", _s(S.cryopreserved), S.thawed, _r(T),
               "Thawed for use. Thawed material is never refrozen.", fields=MEASURES,
               frees_position=True),
    Transition("release", _s(S.processed, S.cryopreserved, S.thawed), S.released, _r(QA),
               "QA release for the intended use.", needs_signature=True, hold=False,
               guards=("donor_eligible", "consent_for_use", "qc_passed",
                       "no_open_excursion", "not_own_processing"),
               meanings=frozenset({Meaning.released}),
               fields=(DataField("intended_use", "choice", "Intended use",
                                 choices=tuple(Use)), EXPIRY)),
    # Eligibility again at distribution: a late positive donor test must stop the product.
    Transition("distribute", _s(S.released), S.distributed, _r(T, C),
               "Shipped to the clinic or requester.", hold=False,
               guards=("donor_eligible", "consent_for_use", "no_open_excursion",
                       "not_expired", "autologous_recipient"),
               fields=(DataField("intended_use", "choice", "Intended use", required=True,
                                 choices=tuple(DISTRIBUTION_USES)),
                       DataField("recipient_id", "id", "Recipient", refers_to="recipient"),
                       DataField("destination", "text", "Destination", max_length=120)),
               frees_position=True),
    Transition("administer", _s(S.distributed), S.administered, _r(T, C),
               "Given to the recipient (needs a matching bedside check).", hold=False,
               guards=("bedside_match",),
               # Not `required`: the guard's refusal says how to get a check.
               fields=(DataField("check_id", "id", "Bedside check (scan wristband and "
                                 "product first)", refers_to="bedside_check"),)),
    Transition("discard", NON_FINAL, S.discarded, _r(T, QA),
               "Disposed of.", needs_reason=True, needs_signature=True, frees_position=True),
    Transition("consume", DERIVABLE_STATES, S.consumed, _r(T),
               "The whole volume was used up (set automatically by derivation).",
               internal=True, frees_position=True),
    Transition("place_hold", NON_FINAL, None, _r(T, C, QA),
               "Quarantine: blocks release and distribution.", needs_reason=True,
               hold=False, sets_hold=True),
    Transition("lift_hold", NON_FINAL, None, _r(QA),
               "QA lifts the quarantine.", needs_reason=True, hold=True, sets_hold=False),
)

BY_EVENT: dict[str, Transition] = {t.event: t for t in TRANSITIONS}
EVENTS = tuple(BY_EVENT)



def _check_effects() -> None:
    """Every event has an effect, every effect an event (checked at import, like guards)."""
    if set(EFFECTS) != set(BY_EVENT):
        raise ValueError(f"events without an effect: {set(BY_EVENT) - set(EFFECTS)}; "
                         f"effects without an event: {set(EFFECTS) - set(BY_EVENT)}")


_check_effects()

# Field name -> (events taking it, its declaration): answers data sent to the wrong event.
_WHERE: dict[str, tuple[list[str], DataField]] = {}
for _t in TRANSITIONS:
    for _f in _t.fields:
        _WHERE.setdefault(_f.name, ([], _f))[0].append(_t.event)


def transition(event: str) -> Transition:
    try:
        return BY_EVENT[event]
    except KeyError:
        raise Invalid(f"Unknown event '{event}'. Known events: {', '.join(EVENTS)}.") from None


def fields_of(event: str) -> tuple[DataField, ...]:
    """The data fields an event takes (for forms, the API schema and integrators)."""
    return transition(event).fields


def choices_for(f: DataField, source: str | None) -> tuple[str, ...]:
    return f.allowed(source)


def check_data(event: str, data: Mapping[str, Any], source: str | None) -> dict[str, Any]:
    """Clean values of the event's declared fields, or a refusal naming the field."""
    return eventdata.validate(event, transition(event).fields, data, source, _WHERE)


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


def check_step(facts: SampleFacts, request: Request) -> Transition:
    """State, hold, role, reason and the signature's presence and meaning: what the table
    alone decides. Checked before the data, the password and the guards, so a request in
    the wrong state is a conflict even if its password is mistyped."""
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
    if request.signed:
        check_meaning(f"'{t.event}'", request.signature_meaning, t.meanings)
    return t


def check_guards(t: Transition, facts: SampleFacts, request: Request) -> Outcome:
    """The guards of the row, all of them, with every failing reason in one refusal."""
    problems: list[str] = []
    raised: list[DomainError] = []  # the request named something wrong: said after the rest
    for g in t.guards:
        try:
            if p := GUARDS[g](facts, request):
                problems.append(p)
        except DomainError as exc:
            raised.append(exc)
    if raised and not problems:
        raise raised[0]
    if problems:
        raise GuardFailed(
            f"Cannot {t.event.replace('_', ' ')}: " + "; ".join(problems) + ".",
            blocked_by=problems,
        )
    deviation = "within_window_or_deviation" in t.guards and late(facts, request.now)
    return Outcome(
        transition=t,
        from_state=facts.state,
        to_state=t.target or facts.state,
        on_hold=facts.on_hold if t.sets_hold is None else t.sets_hold,
        deviation=deviation,
    )


def decide(facts: SampleFacts, request: Request) -> Outcome:
    """Check an event against the table and the guards; raise or return the outcome."""
    return check_guards(check_step(facts, request), facts, request)


def changes(outcome: Outcome, facts: SampleFacts, request: Request) -> Changes:
    """What the event writes: its effect, the measured values its fields record, and the
    storage position it frees. `request.data` holds the values `check_data` cleaned."""
    t = outcome.transition
    done = t.effect(facts, request, outcome.deviation)
    sample = {f.sets: request.data[f.name] for f in t.fields
              if f.sets and f.name in request.data}
    sample.update(done.sample)
    if t.event in isbt.EXPIRY_EVENTS and "expires_at" not in request.data and facts.kind:
        # Collection, freezing and thawing start a new shelf life (product table).
        sample["expires_at"] = isbt.expiry(facts.kind, event=t.event, at=request.now)
    if t.frees_position:
        sample.update(location_id=None, position=None)
    return Changes(sample=sample, records=done.records, custody=done.custody)


def describe_field(f: DataField) -> dict[str, Any]:
    return {"name": f.name, "type": f.type, "label": f.label, "unit": f.unit,
            "required": f.required, "choices": list(f.choices),
            "choices_by_source": {k: list(v) for k, v in (f.choices_by_source or {}).items()}
            or None, "minimum": f.minimum, "maximum": f.maximum,
            "refers_to": f.refers_to, "default": f.default}


def describe() -> dict[str, Any]:
    """The whole table as plain data, for integrators (GET /workflow) and pages."""
    return {
        "states": [s.value for s in State],
        "final_states": sorted(s.value for s in FINAL_STATES),
        "transitions": [
            {"event": t.event, "from": sorted(s.value for s in t.sources),
             "to": t.target.value if t.target else None, "roles": sorted(t.roles),
             "needs_reason": t.needs_reason, "needs_signature": t.needs_signature,
             "meanings": sorted(t.meanings) if t.needs_signature else [],
             "guards": list(t.guards), "hold": t.hold, "sets_hold": t.sets_hold,
             "internal": t.internal, "frees_position": t.frees_position,
             "description": t.description, "fields": [describe_field(f) for f in t.fields]}
            for t in TRANSITIONS
        ],
        "mermaid": mermaid(),
    }


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
