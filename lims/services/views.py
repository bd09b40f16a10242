"""What people and systems look at: the read models of a sample, built once here.

`rows` is the light view for lists and write responses (batched, no per-row queries);
`card` is the full card that the API (GET /samples/{id}), the bench scan and the pages
show: identifier, product, donor, place, custodian and the warnings in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lims.db import cards, lookup, queries
from lims.db.lookup import SampleFilter  # what a sample list is filtered by
from lims.db.tables import Consent, Donor, Sample
from lims.domain import custody, flags, isbt, states, workflow
from lims.domain.checks import PageSize, checked
from lims.domain.errors import NotFound
from lims.domain.states import State
from lims.services import donors
from lims.services.context import Context

# The sample's own columns every view carries.
COLUMNS = ("id", "code", "collection_id", "donor_id", "parent_id", "source", "kind",
           "product_code", "division", "state", "on_hold", "hold_reason", "volume_ml",
           "initial_volume_ml", "cell_count", "viability_pct", "passage", "location_id",
           "position", "processing_due_at", "expires_at", "recipient_id", "intended_use",
           "distributed_to", "custodian", "external_ref", "version", "created_at",
           "updated_at")


def _row(ctx: Context, s: Sample, withdrawn: list[str]) -> dict[str, Any]:
    return {
        **{c: getattr(s, c) for c in COLUMNS},
        "din": s.code.split("-")[0],
        "consent_withdrawn": withdrawn,
        "overdue": states.is_overdue(s.state, s.processing_due_at, ctx.now),
        "expired": bool(s.expires_at and s.expires_at <= ctx.now),
        "allowed_events": workflow.allowed_events(State(s.state), s.on_hold, ctx.actor.roles),
    }


def rows(ctx: Context, samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """The list view: one query for the consent withdrawals of all donors on the page."""
    withdrawn = queries.withdrawn_scopes(ctx.session, list({s.donor_id for s in samples}))
    return [_row(ctx, s, withdrawn.get(s.donor_id, [])) for s in samples]


def tube_facts(ctx: Context, s: Sample, donor: Donor) -> flags.TubeFacts:
    """Everything the warnings on a card or a label depend on."""
    return _facts(ctx, s, donor, queries.consents_of(ctx.session, donor.id),
                  open_excursion=bool(queries.open_excursions(ctx.session, s.id)))


def _facts(ctx: Context, s: Sample, donor: Donor, consents: list[Consent], *,
           open_excursion: bool) -> flags.TubeFacts:
    return flags.TubeFacts(
        autologous=donor.donor_type == "autologous", eligibility=donor.eligibility,
        on_hold=s.on_hold, hold_reason=s.hold_reason,
        overdue=states.is_overdue(s.state, s.processing_due_at, ctx.now),
        expired=bool(s.expires_at and s.expires_at <= ctx.now),
        withdrawn_scopes=tuple(sorted({w for c in consents for w in c.withdrawn_scopes})),
        has_active_consent=bool(donors.active_scopes(consents)),
        open_excursion=open_excursion,
    )


def origin(ctx: Context, sample_id: str) -> cards.Origin:
    """The sample with its collection, donor and place (one query), or NotFound."""
    found = cards.origin(ctx.session, sample_id)
    if found is None:
        raise NotFound(f"No sample with id {sample_id}. Check the id or scan the label again.")
    return found


def card(ctx: Context, s: Sample, found: cards.Origin | None = None) -> dict[str, Any]:
    """The sample card: what a bench screen, a sample page and GET /samples/{id} show.
    One query (the origin, with the consents), none if the caller has it."""
    o = found if found is not None and found.sample is s else origin(ctx, s.id)
    donor, collection = o.donor, o.collection
    facts = _facts(ctx, s, donor, list(o.consents), open_excursion=o.open_excursion)
    location = f"{o.location_path}, position {s.position}" if s.location_id else None
    return {
        **_row(ctx, s, list(facts.withdrawn_scopes)),
        "sample_id": s.id, "din": collection.din,
        "identifier": isbt.human_din(collection.din),
        "check": isbt.check_character(collection.din),
        "product": isbt.product_type(s.kind).class_name, "donor_code": donor.code,
        "location": location, "warnings": flags.card_lines(facts),
        "custodian_text": custody.party_text(s.custodian,
                                             o.location_path if s.location_id else None),
    }



@checked
def page(ctx: Context, sample_filter: SampleFilter, cursor: str | None, limit: PageSize,
         ) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the sample list, as list rows."""
    found, nxt = lookup.samples_page(ctx.session, sample_filter, ctx.now, cursor, limit)
    return rows(ctx, found), nxt
