"""Samples: creation, events through the state machine, derivation, QC, lineage."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from lims.db import queries
from lims.db.tables import Collection, Donor, Location, ProcessingStep, Sample
from lims.db.tables import SampleTransition as TransitionLog
from lims.domain import clock, isbt, permissions, sources, workflow
from lims.domain.errors import Conflict, Invalid, StaleVersion
from lims.domain.workflow import State
from lims.services import audit, distribution, donors, signatures
from lims.services.context import Context

# Where the volume is measured again (processing and culture results, formulation before
# freezing, post-thaw); elsewhere only derivation changes it.
MEASURES_VOLUME = {"complete_processing", "harvest_culture", "cryopreserve", "thaw"}
# Leaving the freezer (or the lab) frees the storage position.
LEAVES_POSITION = {"thaw", "distribute", "discard", "reject", "consume"}


def snapshot(s: Sample) -> dict[str, Any]:
    """The sample fields the audit trail records before and after each change."""
    return {
        "code": s.code, "kind": s.kind, "state": s.state, "on_hold": s.on_hold,
        "hold_reason": s.hold_reason, "volume_ml": s.volume_ml, "cell_count": s.cell_count,
        "viability_pct": s.viability_pct, "passage": s.passage, "location_id": s.location_id,
        "position": s.position, "expires_at": s.expires_at, "version": s.version,
        "recipient_id": s.recipient_id, "intended_use": s.intended_use,
        "distributed_to": s.distributed_to,
    }


def sample_code(din: str, product_code: str, division: str) -> str:
    return f"{din}-{product_code}-{division}"


def next_division(ctx: Context, collection_id: str, product_code: str,
                  parent: Sample | None) -> str:
    """First free ISBT division for this product: aliquots of a product are divided
    below their parent, a new product of a donation starts undivided."""
    used = queries.used_divisions(ctx.session, collection_id, product_code)
    top = [isbt.division_code(i) for i in range(1, 27)]
    second = [isbt.sub_division(d, i) for d in top for i in range(1, 27)]
    preferred = ["00", *top]  # a new product of the donation
    if parent is not None and parent.product_code == product_code:  # an aliquot
        if parent.division == "00":
            preferred = top
        elif parent.division[1] == "0":  # A0 is divided below itself: Aa, Ab, ...
            preferred = [isbt.sub_division(parent.division, i) for i in range(1, 27)]
        else:  # ISBT has no third level: an aliquot of Aa takes the next free code
            preferred = []
    # Past the preferred range (a box of 81 aliquots of one bag) any free code will do:
    # divisions name containers uniquely; the lineage itself is kept by parent_id.
    for division in (*preferred, *top, *second):
        if division not in used:
            return division
    raise Conflict("No ISBT division is left for another aliquot of this product.")


def create_sample(ctx: Context, *, collection: Collection, donor: Donor, kind: str,
                  volume_ml: float, division: str, parent: Sample | None,
                  processing_due_at: datetime | None = None,
                  state: State = State.registered, **measures: Any) -> Sample:
    product = isbt.product_type(kind)
    sample = Sample(
        code=sample_code(collection.din, product.code, division),
        collection_id=collection.id, donor_id=donor.id,
        parent_id=parent.id if parent else None, source=collection.source, kind=kind,
        product_code=product.code, division=division, state=state.value,
        volume_ml=volume_ml, initial_volume_ml=volume_ml,
        processing_due_at=processing_due_at, created_at=ctx.now, updated_at=ctx.now,
        **measures,
    )
    ctx.session.add(sample)
    ctx.session.flush()
    audit.record(ctx, "sample_created", "sample", sample.id, after={
        **snapshot(sample), "parent_id": sample.parent_id, "collection_id": collection.id})
    return sample


def facts(ctx: Context, sample: Sample, guards: Iterable[str] = workflow.GUARDS, *,
          lock_donor: bool = False) -> workflow.SampleFacts:
    """Gather what these guards look at, and nothing more: most events have no guard, so
    most transitions read only the sample row.

    `lock_donor`: a release or distribution reads the consents; locking the donor row
    makes a consent withdrawal at the same moment wait for it, or be seen by it.
    """
    need = set(guards)
    found: dict[str, Any] = {"state": State(sample.state), "on_hold": sample.on_hold,
                             "processing_due_at": sample.processing_due_at}
    if lock_donor or need & {"donor_eligible", "consent_for_use"}:
        donor = queries.get(ctx.session, Donor, sample.donor_id, lock=lock_donor)
        found["donor_eligibility"] = donor.eligibility
        if "consent_for_use" in need:
            found["consent_scopes"] = donors.active_scopes(
                queries.consents_of(ctx.session, donor.id))
    if "qc_passed" in need:
        found["qc_results"] = tuple(
            q.result for q in queries.latest_qc(ctx.session, sample.id).values())
    if "no_open_excursion" in need:
        found["open_excursions"] = len(queries.open_excursions(ctx.session, sample.id))
    if need & {"not_own_processing", "never_thawed"}:
        family = [sample.id, *(a.id for a in queries.ancestors(ctx.session, sample))]
        if "not_own_processing" in need:
            found["processed_by"] = queries.operators_of(ctx.session, family)
        if "never_thawed" in need:
            # An aliquot of thawed material is thawed material: never refrozen either.
            found["ever_thawed"] = queries.last_thaw(ctx.session, family) is not None
    return workflow.SampleFacts(**found)


@dataclass(frozen=True)
class SignatureInput:
    password: str
    meaning: str
    verified: bool = False  # the password was already checked in this unit of work


def apply_event(
    ctx: Context, sample_id: str, event: str, *, reason: str | None = None,
    data: dict[str, Any] | None = None, expected_version: int | None = None,
    signature: SignatureInput | None = None, internal: bool = False,
) -> Sample:
    """Apply one event: lock, check the table and guards, write, log, audit, sign.
    `internal`: the system itself applies it (consume after a derivation)."""
    data = dict(data or {})
    _check_words(data)
    sample = queries.get(ctx.session, Sample, sample_id, lock=True)
    if expected_version is not None and expected_version != sample.version:
        raise StaleVersion(
            f"Sample {sample.code} changed since you loaded it (your version "
            f"{expected_version}, now {sample.version}). Reload it and try again.",
            current_version=sample.version,
        )
    rule = workflow.transition(event)  # an unknown event is refused before any reading
    f = facts(ctx, sample, rule.guards, lock_donor=event in ("release", "distribute"))
    if event == "cryopreserve":  # the position itself is checked once the step is allowed
        f = replace(f, has_storage_position=bool(data.get("box_id"))
                    and data.get("position") is not None)
    if signature is not None and not signature.verified:
        signatures.check_password(ctx, signature.password)
    outcome = workflow.decide(f, workflow.Request(
        event=event, actor_id=ctx.actor.id, roles=ctx.actor.roles, now=ctx.now,
        reason=reason, intended_use=data.get("intended_use"), signed=signature is not None,
        signature_meaning=signature.meaning if signature else None, internal=internal,
    ))
    box = _storage_position(ctx, data) if event == "cryopreserve" else None
    before = snapshot(sample)
    _effects(ctx, sample, event, reason, data, outcome.deviation)
    if box is not None:
        sample.location_id, sample.position = box.id, int(data["position"])
    if event in LEAVES_POSITION:
        sample.location_id = sample.position = None
    sample.state = outcome.to_state.value
    sample.on_hold = outcome.on_hold
    sample.version += 1
    sample.updated_at = ctx.now
    ctx.session.add(sample)
    log = TransitionLog(
        sample_id=sample.id, event=event, from_state=outcome.from_state.value,
        to_state=outcome.to_state.value, actor_id=ctx.actor.id, actor_name=ctx.actor.name,
        reason=reason, deviation=outcome.deviation, data=audit.hashing.jsonable(data),
        at=ctx.now, request_id=ctx.request_id,
    )
    ctx.session.add(log)
    entry = audit.record(ctx, f"event:{event}", "sample", sample.id, before=before,
                         after=snapshot(sample), reason=reason)
    if signature is not None:
        log.signature_id = signatures.sign(ctx, entry, signature.meaning).id
    return sample


def _storage_position(ctx: Context, data: dict[str, Any]) -> Location:
    box_id, position = data.get("box_id"), data.get("position")
    if not box_id or position is None:
        raise Invalid("Freezing needs a storage position: give 'box_id' and 'position'.")
    box = queries.get(ctx.session, Location, str(box_id))
    if box.kind != "box" or not box.rows or not box.cols:
        raise Invalid(f"{box.path} is not a box with positions.")
    if (not isinstance(position, int) or isinstance(position, bool)
            or not 1 <= position <= box.rows * box.cols):
        raise Invalid(f"Position must be a number from 1 to {box.rows * box.cols} in {box.path}.")
    taken = queries.position_taken(ctx.session, box.id, position)
    if taken is not None:
        raise Conflict(f"{box.path}, position {position} already holds sample {taken.code}.")
    return box


def _effects(ctx: Context, sample: Sample, event: str, reason: str | None,
             data: dict[str, Any], deviation: bool) -> None:
    """What each event records beyond the state change."""
    src = sources.Source(sample.source)
    if event in ("start_processing", "start_culture"):
        method = data.get("method") or ("plastic_adherence" if event == "start_culture" else None)
        if not isinstance(method, str):
            raise Invalid("Say which method is used ('method' in data, e.g. density_gradient).")
        sources.check_method(method, src)
        ctx.session.add(ProcessingStep(
            sample_id=sample.id, method=method, parameters=_mapping(data, "parameters"),
            operator_id=ctx.actor.id, started_at=ctx.now,
            deviation_reason=reason if deviation else None,
        ))
        if event == "start_culture":
            sample.passage = 0
    elif event in ("complete_processing", "harvest_culture"):
        step = queries.open_step(ctx.session, sample.id)
        if step is not None:
            step.ended_at, step.results = ctx.now, _mapping(data, "results")
            ctx.session.add(step)
    elif event == "distribute":
        use = data.get("intended_use")
        if use not in ("clinical", "research"):
            raise Invalid("Say what the product is distributed for: intended_use 'clinical' "
                          "or 'research'.")
        recipient = distribution.recipient_for_distribution(ctx, sample, data)
        sample.recipient_id = recipient.id if recipient else None
        sample.intended_use = use
        sample.distributed_to = str(data.get("destination") or "")[:120] or None
    elif event == "administer":
        distribution.use_check(ctx, sample, data.get("check_id"))
    elif event == "passage":
        sample.passage = (sample.passage or 0) + 1
    elif event == "place_hold":
        if reason and len(reason) > 500:
            raise Invalid("Keep the hold reason under 500 characters; details go in QA records.")
        sample.hold_reason = reason
    elif event == "lift_hold":
        sample.hold_reason = None
    for measure in ("cell_count", "viability_pct"):
        if measure in data:
            setattr(sample, measure, _positive(data[measure], measure))
    if "volume_ml" in data:
        # The volume changes only where it is measured; derivation accounts for the rest.
        if event not in MEASURES_VOLUME:
            raise Invalid(f"The volume is measured at {', '.join(sorted(MEASURES_VOLUME))}, "
                          f"not at '{event}'.")
        sample.volume_ml = _positive(data["volume_ml"], "volume_ml")
    if "expires_at" in data:
        sample.expires_at = _aware(data["expires_at"], "expires_at")


def _aware(value: Any, name: str) -> datetime:
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise Invalid(f"'{name}' must be a date and time with its zone, e.g. "
                      "2027-01-31T12:00:00+01:00.") from None
    return clock.plausible(when, name)


# Fields of `data` that name something: they must be text (ids, methods, places).
TEXT_FIELDS = ("intended_use", "recipient_id", "check_id", "box_id", "method", "destination")


def _check_words(data: dict[str, Any]) -> None:
    for name in TEXT_FIELDS:
        value = data.get(name)
        if value not in (None, "") and not isinstance(value, str):  # empty means not given
            raise Invalid(f"'{name}' must be text, e.g. an id or a name.")
    use = data.get("intended_use")
    if use is not None and use not in {u.value for u in workflow.Use}:
        raise Invalid("'intended_use' is clinical, research or banking.")


def _positive(value: Any, name: str) -> float:
    try:
        number = float(value) if isinstance(value, int | float) else math.nan
    except OverflowError:  # a JSON integer with hundreds of digits
        number = math.inf
    if isinstance(value, bool) or not math.isfinite(number) or number < 0:
        raise Invalid(f"'{name}' must be a number of 0 or more.")
    return number


def _mapping(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name) or {}
    if not isinstance(value, dict):
        raise Invalid(f"'{name}' must be an object of names and values, e.g. "
                      '{"g_force": 400, "minutes": 30}.')
    return value


def derive(ctx: Context, parent_id: str, *, kind: str | None, volume_ml: float,
           count: int = 1, **measures: Any) -> list[Sample]:
    """Take `count` children of `volume_ml` each from the parent. Same kind = aliquots.

    The parent's remaining volume goes down; if nothing is left it becomes `consumed`.
    """
    permissions.require(ctx.actor.roles, "derive")
    parent = queries.get(ctx.session, Sample, parent_id, lock=True)
    kind = kind or parent.kind
    if State(parent.state) not in workflow.DERIVABLE_STATES:
        raise Conflict(
            f"Cannot take material from a sample that is {parent.state}; it must be one of "
            f"{', '.join(sorted(s.value for s in workflow.DERIVABLE_STATES))}."
        )
    sources.check_kind(kind, sources.Source(parent.source))
    if count < 1 or count > 96:
        raise Invalid("Make between 1 and 96 children at a time.")
    if volume_ml <= 0:
        raise Invalid("Each child needs a volume above 0 mL.")
    total = round(volume_ml * count, 6)
    if total > parent.volume_ml + 1e-9:
        raise Conflict(
            f"{count} x {volume_ml} mL = {total} mL is more than the {parent.volume_ml} mL "
            f"left in {parent.code}."
        )
    collection = queries.get(ctx.session, Collection, parent.collection_id)
    donor = queries.get(ctx.session, Donor, parent.donor_id)
    product = isbt.product_type(kind)
    # Children of processed material are processed material; raw material stays raw.
    state = State.received if parent.state == State.received else State.processed
    children = []
    for _ in range(count):
        division = next_division(ctx, collection.id, product.code, parent)
        # Children inherit what must follow the material: a quarantine, and the processing
        # window while it is still unprocessed.
        children.append(create_sample(
            ctx, collection=collection, donor=donor, kind=kind, volume_ml=volume_ml,
            division=division, parent=parent, state=state,
            passage=parent.passage if kind == parent.kind else None,
            processing_due_at=parent.processing_due_at if state == State.received else None,
            on_hold=parent.on_hold, hold_reason=parent.hold_reason, **measures,
        ))
    before = snapshot(parent)
    parent.volume_ml = round(parent.volume_ml - total, 6)
    parent.version += 1
    parent.updated_at = ctx.now
    ctx.session.add(parent)
    audit.record(ctx, "derivation", "sample", parent.id, before=before, after={
        **snapshot(parent), "children": [c.code for c in children]})
    if parent.volume_ml <= 1e-9:
        apply_event(ctx, parent.id, "consume", internal=True,
                    reason=f"whole volume used for {', '.join(c.code for c in children)}")
    return children


def is_overdue(sample: Sample, now: datetime) -> bool:
    return bool(sample.processing_due_at and now > sample.processing_due_at
                and State(sample.state) in workflow.AWAITING_PROCESSING)
