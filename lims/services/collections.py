"""Harvest: a collection at a site, its DIN and the primary containers it fills."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from lims.db import lookup, queries
from lims.db.tables import Collection, Donor, Sample
from lims.domain import isbt, permissions, sources
from lims.domain.checks import PageSize, SourceName, Volume, checked
from lims.domain.errors import Conflict, Invalid
from lims.services import audit, donors, samples
from lims.services.context import Context
from lims.services.identifiers import allocate_din


@dataclass(frozen=True)
class Container:
    kind: str
    volume_ml: float


@checked
def create_collection(
    ctx: Context, donor: Donor, *, source: SourceName, site: str, started_at: datetime,
    ended_at: datetime, local_timezone: str | None, volume_ml: Volume, anticoagulant: str,
    collector: str, containers: list[Container] | None = None,
    external_ref: str | None = None,
) -> tuple[Collection, list[Sample]]:
    """Record a harvest, allocate its DIN and create its primary samples.

    Without an explicit list the collection fills one container of the source's primary
    kind with the whole volume. Samples start `registered`; a collection that has already
    ended is applied the `collect` event at once, through the state machine.
    """
    permissions.require(ctx.actor.roles, "record_collection")
    if not donors.active_scopes(queries.consents_of(ctx.session, donor.id)):
        raise Conflict(f"Donor {donor.code} has no active consent: record the consent "
                       "before collecting.")
    try:
        src = sources.Source(source)
    except ValueError:
        raise Invalid(f"Source must be one of {', '.join(s.value for s in sources.Source)}.") \
            from None
    if ended_at < started_at:
        raise Invalid("The collection ends before it starts: check the times.")
    if started_at > ctx.now + timedelta(minutes=5):
        raise Invalid("The collection starts in the future: check the date, time and zone.")
    if ended_at - started_at > timedelta(hours=24):
        raise Invalid("A collection lasting more than 24 hours is not plausible: check the "
                      "end time and zone.")
    zone = local_timezone or ctx.settings.timezone
    try:
        ZoneInfo(zone)
    except (KeyError, ValueError):
        raise Invalid(f"Unknown time zone '{zone}' (use e.g. Europe/Berlin).") from None
    if external_ref and lookup.collection_by_external_ref(ctx.session, ctx.actor.id,
                                                          external_ref):
        raise Conflict(f"You already recorded a collection with external reference "
                       f"{external_ref}.")
    containers = containers or [Container(sources.PRIMARY_KIND[src], volume_ml)]
    for c in containers:
        if c.kind not in sources.COLLECTED_KINDS[src]:
            raise Invalid(
                f"A {src.value.replace('_', ' ')} collection cannot fill a {c.kind} container "
                f"(allowed: {', '.join(sorted(sources.COLLECTED_KINDS[src]))})."
            )
        if c.volume_ml <= 0:
            raise Invalid("Every container needs a volume above 0 mL.")
    primary = sum(c.volume_ml for c in containers if c.kind == sources.PRIMARY_KIND[src])
    if primary > volume_ml + 1e-9:
        raise Invalid(f"The containers hold {primary} mL but only {volume_ml} mL was collected.")

    collection = Collection(
        din=allocate_din(ctx), donor_id=donor.id, source=src.value, site=site,
        started_at=started_at, ended_at=ended_at, local_timezone=zone, volume_ml=volume_ml,
        anticoagulant=anticoagulant, collector=collector, external_ref=external_ref,
        created_by=ctx.actor.id, created_at=ctx.now,
    )
    ctx.session.add(collection)
    ctx.session.flush()
    audit.record(ctx, "collection_recorded", "collection", collection.id, after={
        "din": collection.din, "donor": donor.code, "source": src.value, "site": site,
        "started_at": started_at, "ended_at": ended_at, "volume_ml": volume_ml,
        "anticoagulant": anticoagulant, "collector": collector, "external_ref": external_ref})
    due = ended_at + timedelta(hours=ctx.settings.processing_windows()[src.value])
    created = []
    for c in containers:
        product = isbt.product_type(c.kind)
        division = samples.next_division(ctx, collection.id, product.code, None)
        sample = samples.create_sample(
            ctx, collection=collection, donor=donor, kind=c.kind, volume_ml=c.volume_ml,
            division=division, parent=None,
            processing_due_at=due if c.kind == sources.PRIMARY_KIND[src] else None,
        )
        if ended_at <= ctx.now:
            samples.apply_event(ctx, sample.id, "collect")
        created.append(sample)
    return collection, created


# --- reads --------------------------------------------------------------------------

def collection(ctx: Context, collection_id: str) -> Collection:
    return queries.get(ctx.session, Collection, collection_id)


def samples_of(ctx: Context, collection_id: str) -> list[Sample]:
    """Every sample of the collection, primary containers and derivatives."""
    return queries.samples_where(ctx.session, collection_id=collection_id)


@checked
def page(ctx: Context, cursor: str | None, limit: PageSize, **filters: Any,
         ) -> tuple[list[Collection], str | None]:
    """Collections, oldest first; external_ref looks up the caller's own reference."""
    return lookup.collections_page(ctx.session, cursor, limit, owner_id=ctx.actor.id, **filters)


def of_donor(ctx: Context, donor_id: str) -> tuple[Donor, list[Collection], list[Sample]]:
    """The donor, every collection of theirs and every sample descended from them."""
    donor = queries.get(ctx.session, Donor, donor_id)
    return (donor, queries.collections_of(ctx.session, donor.id),
            queries.samples_where(ctx.session, donor_id=donor.id))
