"""What people and systems look at: the read models of a sample, built once here.

`rows` is the light view for lists and write responses (batched, no per-row queries);
`card` is the full card that the API (GET /samples/{id}), the bench scan and the pages
show: identifier, product, donor, place, custodian and the warnings in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lims.db import queries
from lims.db.tables import Collection, Donor, Location, Sample
from lims.domain import custody, flags, isbt, states, workflow
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
    consents = queries.consents_of(ctx.session, donor.id)
    return flags.TubeFacts(
        autologous=donor.donor_type == "autologous", eligibility=donor.eligibility,
        on_hold=s.on_hold, hold_reason=s.hold_reason,
        overdue=states.is_overdue(s.state, s.processing_due_at, ctx.now),
        expired=bool(s.expires_at and s.expires_at <= ctx.now),
        withdrawn_scopes=tuple(sorted({w for c in consents for w in c.withdrawn_scopes})),
        has_active_consent=bool(donors.active_scopes(consents)),
        open_excursion=bool(queries.open_excursions(ctx.session, s.id)),
    )


def card(ctx: Context, s: Sample) -> dict[str, Any]:
    """The sample card: what a bench screen, a sample page and GET /samples/{id} show."""
    donor = queries.get(ctx.session, Donor, s.donor_id)
    collection = queries.get(ctx.session, Collection, s.collection_id)
    facts = tube_facts(ctx, s, donor)
    location = place = None
    if s.location_id:
        place = queries.get(ctx.session, Location, s.location_id).path
        location = f"{place}, position {s.position}"
    return {
        **_row(ctx, s, list(facts.withdrawn_scopes)),
        "sample_id": s.id, "din": collection.din,
        "identifier": isbt.human_din(collection.din),
        "check": isbt.check_character(collection.din),
        "product": isbt.product_type(s.kind).class_name, "donor_code": donor.code,
        "location": location, "warnings": flags.card_lines(facts),
        "custodian_text": custody.party_text(s.custodian, place),
    }
