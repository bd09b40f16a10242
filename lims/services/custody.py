"""Storage locations, custody hand-overs and receipts, temperature excursions."""

from __future__ import annotations

from datetime import datetime

from lims.db import custody as custody_records
from lims.db import dashboard as stations_db
from lims.db import queries
from lims.db.tables import CustodyTransfer, Excursion, Location, Sample
from lims.db.users import user_by_username
from lims.domain import custody as rules
from lims.domain import permissions, vocabulary
from lims.domain.checks import GridSize, LocationKind, Temperature, checked
from lims.domain.errors import Conflict, Invalid, NotPermitted
from lims.domain.workflow import State
from lims.services import audit
from lims.services.context import Context

PARENT_KIND = vocabulary.LOCATION_PARENT


@checked
def add_location(ctx: Context, *, kind: LocationKind, name: str, parent_id: str | None,
                 rows: GridSize | None = None, cols: GridSize | None = None,
                 min_temp_c: Temperature | None = None,
                 max_temp_c: Temperature | None = None) -> Location:
    permissions.require(ctx.actor.roles, "manage_locations")
    parent = queries.get(ctx.session, Location, parent_id) if parent_id else None
    if (parent.kind if parent else None) != PARENT_KIND[kind]:
        # The request may be well formed and still name a parent of the wrong kind.
        error = Conflict if parent else Invalid
        raise error(f"A {kind} belongs in a {PARENT_KIND[kind] or 'nothing (top level)'}.")
    if (kind == "box") != bool(rows and cols):
        raise Invalid("Boxes (and only boxes) have rows and cols, e.g. 9 x 9.")
    path = f"{parent.path} / {name}" if parent else name
    if custody_records.location_by_path(ctx.session, path):
        raise Conflict(f"{path} exists already.")
    loc = Location(kind=kind, name=name, parent_id=parent_id, path=path, rows=rows, cols=cols,
                   min_temp_c=min_temp_c, max_temp_c=max_temp_c, created_at=ctx.now)
    ctx.session.add(loc)
    ctx.session.flush()
    audit.record(ctx, "location_added", "location", loc.id, after={"path": path, "kind": kind})
    return loc


def location(ctx: Context, location_id: str) -> Location:
    """A storage location, or NotFound (404) in words."""
    return queries.get(ctx.session, Location, location_id)


def _party(ctx: Context, to: str) -> str:
    """'user:<username>' or 'location:<id>', checked to exist."""
    kind, _, ref = to.partition(":")
    if kind == "user":
        user = user_by_username(ctx.session, ref)
        if user is None:
            raise Invalid(f"No user '{ref}' to hand the sample to.")
        return f"user:{user.username}"
    if kind == "location":
        return f"location:{queries.get(ctx.session, Location, ref).id}"
    raise Invalid("Hand over to 'user:<username>' or 'location:<id>'.")


def _last(ctx: Context, sample_id: str) -> CustodyTransfer | None:
    return custody_records.last_transfer(ctx.session, sample_id)


def begin(ctx: Context, sample: Sample, *, origin: str, holder: str) -> CustodyTransfer:
    """The first custody record of a new tube: from where it came (the collection site, or
    its parent tube) to who holds it (the collector, or the technician who made it)."""
    return _move(ctx, sample, origin, holder, note="custody starts")


def follow(ctx: Context, sample: Sample, holder: str, *, because: str) -> CustodyTransfer | None:
    """Custody passes with an event, in the event's transaction: the tube is in the hands
    (or box, or courier) the event names. A hand-over still waiting for its receipt is
    closed by the event: whoever applies it demonstrably has the tube."""
    last = _last(ctx, sample.id)
    if last is not None and last.received_at is None:
        last.received_at, last.received_by = ctx.now, ctx.actor.id
        ctx.session.add(last)
        sample.custodian = last.to_party
        audit.record(ctx, "custody_received", "sample", sample.id, after={
            "transfer": last.seq, "custodian": last.to_party, "temperature_c": None},
            reason=f"received with the event {because}")
    if holder == sample.custodian:
        return None
    return _move(ctx, sample, sample.custodian or "unrecorded", holder, note=because, last=last)


def _move(ctx: Context, sample: Sample, source: str, holder: str, *, note: str,
          last: CustodyTransfer | None = None) -> CustodyTransfer:
    last = last or _last(ctx, sample.id)
    transfer = CustodyTransfer(
        sample_id=sample.id, seq=(last.seq + 1) if last else 1, from_party=source,
        to_party=holder, handed_over_at=ctx.now, handed_over_by=ctx.actor.id,
        received_at=ctx.now, received_by=ctx.actor.id, note=note)
    sample.custodian = holder
    ctx.session.add_all([transfer, sample])
    ctx.session.flush()
    return transfer


def timeline(ctx: Context, sample_id: str) -> list[CustodyTransfer]:
    return custody_records.transfers_of(ctx.session, sample_id)


@checked
def hand_over(ctx: Context, sample_id: str, *, to: str, handed_over_at: datetime | None,
              temperature_c: Temperature | None, shipper: str | None, condition: str | None,
              note: str | None) -> CustodyTransfer:
    permissions.require(ctx.actor.roles, "hand_over")
    sample = queries.get(ctx.session, Sample, sample_id, lock=True)
    holder = sample.custodian or ""
    if (holder.startswith("user:") and holder != f"user:{ctx.actor.username}"
            and not ctx.actor.roles & {"coordinator", "qa"}):
        raise NotPermitted(f"The sample is in the hands of {holder.removeprefix('user:')}: "
                           "only that person (or a coordinator or QA) can hand it over.")
    when = handed_over_at or ctx.now
    if when > ctx.now:
        raise Invalid("A hand-over cannot be in the future.")
    last = _last(ctx, sample.id)
    rules.check_handover(last.received_at if last else None,
                         last is not None and last.received_at is None, when,
                         ctx.settings.zone)
    start = sample.custodian or "unrecorded"
    transfer = CustodyTransfer(
        sample_id=sample.id, seq=(last.seq + 1) if last else 1, from_party=start,
        to_party=_party(ctx, to), handed_over_at=when, handed_over_by=ctx.actor.id,
        temperature_c=temperature_c, shipper=shipper, condition=condition, note=note)
    ctx.session.add(transfer)
    ctx.session.flush()
    audit.record(ctx, "custody_handed_over", "sample", sample.id, after={
        "transfer": transfer.seq, "from": start, "to": transfer.to_party,
        "temperature_c": temperature_c, "shipper": shipper, "condition": condition}, reason=note)
    _check_temperature(ctx, sample, transfer, temperature_c)
    return transfer


@checked
def confirm_receipt(ctx: Context, sample_id: str, transfer_id: str, *,
                    received_at: datetime | None,
                    temperature_c: Temperature | None) -> CustodyTransfer:
    permissions.require(ctx.actor.roles, "hand_over")
    sample = queries.get(ctx.session, Sample, sample_id, lock=True)
    transfer = queries.get(ctx.session, CustodyTransfer, transfer_id)
    if transfer.sample_id != sample.id:
        raise Invalid("This hand-over belongs to another sample.")
    if transfer.received_at is not None:
        raise Conflict("This hand-over was already confirmed.")
    if transfer.to_party.startswith("user:") and transfer.to_party != f"user:{ctx.actor.username}":
        raise NotPermitted("Only the person receiving the sample can confirm the receipt.")
    when = received_at or ctx.now
    if when < transfer.handed_over_at or when > ctx.now:
        raise Invalid("The receipt time must be after the hand-over and not in the future.")
    transfer.received_at, transfer.received_by = when, ctx.actor.id
    sample.custodian = transfer.to_party
    ctx.session.add_all([transfer, sample])
    audit.record(ctx, "custody_received", "sample", sample.id, after={
        "transfer": transfer.seq, "custodian": transfer.to_party, "temperature_c": temperature_c})
    _check_temperature(ctx, sample, transfer, temperature_c)
    return transfer


def _check_temperature(ctx: Context, sample: Sample, transfer: CustodyTransfer,
                       temperature_c: float | None) -> None:
    frozen = sample.state == State.cryopreserved
    if not rules.is_excursion(temperature_c, sample.kind, frozen):
        return
    assert temperature_c is not None
    low, high = rules.allowed_range(sample.kind, frozen)
    exc = Excursion(sample_id=sample.id, custody_transfer_id=transfer.id,
                    temperature_c=temperature_c, allowed_min_c=low, allowed_max_c=high,
                    detected_at=ctx.now)
    ctx.session.add(exc)
    ctx.session.flush()
    audit.record(ctx, "temperature_excursion", "sample", sample.id, after={
        "excursion_id": exc.id, "temperature_c": temperature_c, "allowed": [low, high]})


def review_excursion(ctx: Context, sample_id: str, excursion_id: str,
                     assessment: str) -> Excursion:
    permissions.require(ctx.actor.roles, "review_excursion")
    exc = queries.get(ctx.session, Excursion, excursion_id, lock=True)
    if exc.sample_id != sample_id:
        raise Invalid("This excursion belongs to another sample.")
    if exc.reviewed_at is not None:
        raise Conflict("This excursion was already reviewed.")
    if not assessment.strip():
        raise Invalid("Document the QA assessment.")
    exc.reviewed_by, exc.reviewed_at, exc.assessment = ctx.actor.id, ctx.now, assessment
    ctx.session.add(exc)
    audit.record(ctx, "excursion_reviewed", "sample", sample_id,
                 after={"excursion_id": exc.id, "assessment": assessment})
    return exc


def boxes(ctx: Context) -> list[Location]:
    """Every storage box, by its path (the box chooser of the bench forms)."""
    return stations_db.boxes(ctx.session)



def locations(ctx: Context, parent_id: str | None) -> list[Location]:
    """Locations by path, under `parent_id` (or the top level)."""
    return queries.locations_by_path(ctx.session, parent_id)


def contents(ctx: Context, location_id: str) -> tuple[Location, list[Location], list[Sample]]:
    """A location, what sits in it, and for a box the samples at their positions."""
    loc = location(ctx, location_id)
    return loc, queries.children_of(ctx.session, loc.id), queries.samples_at(ctx.session, loc.id)


def record(ctx: Context, sample_id: str) -> tuple[Sample, list[CustodyTransfer], list[Excursion]]:
    """The custodian now, every hand-over, and every temperature excursion."""
    s = queries.get(ctx.session, Sample, sample_id)
    return s, timeline(ctx, s.id), queries.excursions_of(ctx.session, s.id)
