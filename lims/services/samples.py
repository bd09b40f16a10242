"""Samples: creation, events through the state machine, derivation, QC, lineage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from lims.db import queries
from lims.db.tables import (
    BedsideCheck,
    Collection,
    Donor,
    Location,
    ProcessingStep,
    Recipient,
    Sample,
)
from lims.db.tables import SampleTransition as TransitionLog
from lims.domain import custody as rules
from lims.domain import isbt, permissions, sources, workflow
from lims.domain.checks import Count, KindName, Version, Volume, checked
from lims.domain.errors import Conflict, Invalid, StaleVersion
from lims.domain.guards import BedsideFacts, StorageFacts
from lims.domain.workflow import State
from lims.services import audit, custody, donors, signatures
from lims.services.context import Context


def snapshot(s: Sample) -> dict[str, Any]:
    """The sample fields the audit trail records before and after each change."""
    return {
        "code": s.code, "kind": s.kind, "state": s.state, "on_hold": s.on_hold,
        "hold_reason": s.hold_reason, "volume_ml": s.volume_ml, "cell_count": s.cell_count,
        "viability_pct": s.viability_pct, "passage": s.passage, "location_id": s.location_id,
        "position": s.position, "expires_at": s.expires_at, "version": s.version,
        "recipient_id": s.recipient_id, "intended_use": s.intended_use,
        "distributed_to": s.distributed_to, "custodian": s.custodian,
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


@checked
def create_sample(ctx: Context, *, collection: Collection, donor: Donor, kind: KindName,
                  volume_ml: Volume, division: str, parent: Sample | None,
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
        created_by=ctx.actor.id, **measures,
    )
    ctx.session.add(sample)
    ctx.session.flush()
    if parent is None:  # custody starts with the collector at the collection site
        custody.begin(ctx, sample, origin=rules.site(collection.site),
                      holder=rules.collector(collection.collector))
    else:  # a tube made at the bench is in the hands of who made it
        custody.begin(ctx, sample, origin=rules.parent(parent.code),
                      holder=rules.person(ctx.actor.username))
    audit.record(ctx, "sample_created", "sample", sample.id, after={
        **snapshot(sample), "parent_id": sample.parent_id, "collection_id": collection.id})
    return sample


def facts(ctx: Context, sample: Sample, guards: Iterable[str] = workflow.GUARDS, *,
          data: Mapping[str, Any] | None = None, lock_donor: bool = False
          ) -> workflow.SampleFacts:
    """Gather what these guards look at, and nothing more: most events have no guard, so
    most transitions read only the sample row. `data`: the event's cleaned data, whose
    references (box, bedside check) some guards look at.

    `lock_donor`: a release or distribution reads the consents; locking the donor row
    makes a consent withdrawal at the same moment wait for it, or be seen by it.
    """
    need = set(guards)
    data = data or {}
    found: dict[str, Any] = {
        "state": State(sample.state), "on_hold": sample.on_hold, "sample_id": sample.id,
        "kind": sample.kind,
        "source": sample.source, "passage": sample.passage,
        "processing_due_at": sample.processing_due_at, "expires_at": sample.expires_at,
        "recipient_id": sample.recipient_id}
    if lock_donor or need & {"donor_eligible", "consent_for_use", "autologous_recipient"}:
        donor = queries.get(ctx.session, Donor, sample.donor_id, lock=lock_donor)
        found.update(donor_eligibility=donor.eligibility, donor_code=donor.code,
                     donor_type=donor.donor_type)
        if "consent_for_use" in need:
            found["consent_scopes"] = donors.active_scopes(
                queries.consents_of(ctx.session, donor.id))
        if "autologous_recipient" in need and donor.donor_type == "autologous":
            own = queries.recipient_of_donor(ctx.session, donor.id)
            found["own_recipient_id"] = own.id if own else None
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
    if "has_storage_position" in need:
        found.update(_storage(ctx, data))
    if "bedside_match" in need and data.get("check_id"):
        check = queries.get(ctx.session, BedsideCheck, data["check_id"], lock=True)
        found["bedside"] = BedsideFacts(
            sample_id=check.sample_id or "", match=check.match, reasons=tuple(check.reasons),
            user_id=check.user_id, at=check.at, used=check.used_at is not None)
        found["bedside_window"] = timedelta(minutes=ctx.settings.bedside_check_minutes)
    return workflow.SampleFacts(**found)


def _storage(ctx: Context, data: Mapping[str, Any]) -> dict[str, Any]:
    box_id, position = data.get("box_id"), data.get("position")
    if not box_id or position is None:
        return {"has_storage_position": False}
    box = queries.get(ctx.session, Location, box_id)
    taken = queries.position_taken(ctx.session, box.id, position)
    return {"has_storage_position": True, "storage": StorageFacts(
        path=box.path, kind=box.kind, rows=box.rows, cols=box.cols, position=position,
        holder_code=taken.code if taken else None)}


# What the references in event data name: loading one that does not exist is a 404.
REFERENCES: dict[str, Any] = {"recipient": Recipient}


@dataclass(frozen=True)
class SignatureInput:
    password: str
    meaning: str
    verified: bool = False  # the password was already checked in this unit of work


@checked
def apply_event(
    ctx: Context, sample_id: str, event: str, *, reason: str | None = None,
    data: Mapping[str, Any] | None = None, expected_version: Version | None = None,
    signature: SignatureInput | None = None, internal: bool = False,
) -> Sample:
    """Apply any declared event in one path: lock, check the state and the role, then the
    data, then the password, then the guards; then the effect, the log and the audit entry.
    `internal`: the system itself applies it (consume after a derivation)."""
    sample = queries.get(ctx.session, Sample, sample_id, lock=True)
    if expected_version is not None and expected_version != sample.version:
        raise StaleVersion(
            f"Sample {sample.code} changed since you loaded it (your version "
            f"{expected_version}, now {sample.version}). Reload it and try again.",
            current_version=sample.version,
        )
    ask = workflow.Request(
        event=event, actor_id=ctx.actor.id, actor_username=ctx.actor.username,
        roles=ctx.actor.roles, now=ctx.now,
        reason=reason, signed=signature is not None,
        signature_meaning=signature.meaning if signature else None, internal=internal,
        zone=ctx.settings.zone)
    rule = workflow.check_step(workflow.SampleFacts(
        state=State(sample.state), on_hold=sample.on_hold), ask)
    # Every event reads the sample's own facts (kind, expiry, window); guards add more.
    clean = workflow.check_data(event, data or {}, sample.source)
    ask = replace(ask, data=clean, intended_use=clean.get("intended_use"))
    if signature is not None and not signature.verified:
        signatures.check_password(ctx, signature.password)
    for field in rule.fields:  # a named record must exist before a guard looks at it
        if field.refers_to in REFERENCES and field.name in clean:
            queries.get(ctx.session, REFERENCES[field.refers_to], clean[field.name])
    known = facts(ctx, sample, rule.guards, data=clean,
                  lock_donor=event in ("release", "distribute"))
    outcome = workflow.check_guards(rule, known, ask)
    change = workflow.changes(outcome, known, ask)
    before = snapshot(sample)
    # Custody first: its read would otherwise flush the sample's changes as an UPDATE of
    # their own, and the version below as a second one.
    if change.custody is not None:
        custody.follow(ctx, sample, change.custody, because=event)
    for name, value in change.sample.items():
        setattr(sample, name, value)
    for record in change.records:
        _write(ctx, sample, record)
    sample.state = outcome.to_state.value
    sample.on_hold = outcome.on_hold
    sample.version += 1
    sample.updated_at = ctx.now
    ctx.session.add(sample)
    log = TransitionLog(
        sample_id=sample.id, event=event, from_state=outcome.from_state.value,
        to_state=outcome.to_state.value, actor_id=ctx.actor.id, actor_name=ctx.actor.name,
        reason=reason, deviation=outcome.deviation, data=audit.hashing.jsonable(clean),
        at=ctx.now, request_id=ctx.request_id,
    )
    ctx.session.add(log)
    entry = audit.record(ctx, f"event:{event}", "sample", sample.id, before=before,
                         after=snapshot(sample), reason=reason)
    if signature is not None:
        log.signature_id = signatures.sign(ctx, entry, signature.meaning).id
    return sample


def _write(ctx: Context, sample: Sample, record: workflow.Record) -> None:
    """Write what an effect records besides the sample itself."""
    if isinstance(record, workflow.StartStep):
        ctx.session.add(ProcessingStep(
            sample_id=sample.id, method=record.method, parameters=dict(record.parameters),
            operator_id=ctx.actor.id, started_at=ctx.now,
            deviation_reason=record.deviation_reason))
    elif isinstance(record, workflow.EndStep):
        step = queries.open_step(ctx.session, sample.id)
        if step is not None:
            step.ended_at, step.results = ctx.now, dict(record.results)
            ctx.session.add(step)
    elif isinstance(record, workflow.UseBedsideCheck):
        check = queries.get(ctx.session, BedsideCheck, record.check_id, lock=True)
        check.used_at = ctx.now
        ctx.session.add(check)


@checked
def derive(ctx: Context, parent_id: str, *, kind: KindName | None, volume_ml: Volume,
           count: Count = 1, **measures: Any) -> list[Sample]:
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
            on_hold=parent.on_hold, hold_reason=parent.hold_reason,
            # A split of a thawed bag expires with the bag (its post-thaw window).
            **({"expires_at": parent.expires_at} if parent.state == State.thawed else {}),
            **measures,
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

