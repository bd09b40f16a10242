"""Two-way traceability (21 CFR 1271.290): donor -> every product and its recipient or
final disposition, and recipient -> every product back to its donor and collection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import col, select

from lims.db import queries
from lims.db.tables import (
    Collection,
    Donor,
    Location,
    Recipient,
    Sample,
    SampleTransition,
)
from lims.domain import audit as hashing
from lims.domain import isbt
from lims.services import lineage
from lims.services.context import Context


class _Family:
    """Transitions, signatures, recipients and locations of a set of samples, loaded once."""

    def __init__(self, ctx: Context, items: Sequence[Sample]) -> None:
        ids = [s.id for s in items]
        self.events: dict[str, list[SampleTransition]] = {}
        for t in ctx.session.execute(select(SampleTransition).where(
                SampleTransition.sample_id.in_(ids)).order_by(col(SampleTransition.at))).scalars():  # type: ignore[attr-defined]
            self.events.setdefault(t.sample_id, []).append(t)
        self.signatures = queries.signatures_of(ctx.session, ids)
        rids = {s.recipient_id for s in items if s.recipient_id}
        self.recipients = {r.id: r for r in ctx.session.execute(
            select(Recipient).where(Recipient.id.in_(rids))).scalars()}  # type: ignore[attr-defined]
        lids = {s.location_id for s in items if s.location_id}
        self.locations = {x.id: x for x in ctx.session.execute(
            select(Location).where(Location.id.in_(lids))).scalars()}  # type: ignore[attr-defined]

    def last(self, s: Sample, event: str) -> SampleTransition | None:
        found = [t for t in self.events.get(s.id, []) if t.event == event]
        return found[-1] if found else None

    def disposition(self, s: Sample) -> str:
        r = self.recipients.get(s.recipient_id or "")
        who = r.code if r else "no recipient"
        if s.state == "administered":
            t = self.last(s, "administer")
            return f"administered to {who} at {t.at.isoformat() if t else '?'}"
        if s.state == "distributed":
            return (f"distributed to {s.distributed_to or 'unnamed site'} for "
                    f"{s.intended_use} use ({who})")
        if s.state in ("discarded", "rejected", "consumed"):
            t = self.last(s, {"discarded": "discard", "rejected": "reject",
                              "consumed": "consume"}[s.state])
            return f"{s.state}: {t.reason if t and t.reason else 'no reason recorded'}"
        if s.location_id:
            return f"in storage: {self.locations[s.location_id].path}, position {s.position}"
        if s.state == "released":
            return "released, awaiting distribution"
        return f"in process ({s.state})"

    def node(self, s: Sample) -> dict[str, Any]:
        r = self.recipients.get(s.recipient_id or "")
        return {
            "id": s.id, "code": s.code, "kind": s.kind,
            "product": isbt.product_type(s.kind).class_name, "state": s.state,
            "volume_ml": s.volume_ml, "disposition": self.disposition(s),
            "recipient": {"code": r.code, "wristband_id": r.wristband_id} if r else None,
            "distributed_to": s.distributed_to, "intended_use": s.intended_use,
            "signatures": [{"signer_name": g.signer_name, "meaning": g.meaning,
                            "signed_at": g.signed_at} for g in self.signatures.get(s.id, [])],
        }

    def tree(self, nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**self.node(n["sample"]), "children": self.tree(n["children"])} for n in nodes]


def _header(ctx: Context, kind: str) -> dict[str, Any]:
    return {"kind": kind, "generated_at": ctx.now,
            "facility": f"{ctx.settings.facility_name} ({ctx.settings.facility_id})"}


def donor_trace(ctx: Context, donor: Donor) -> dict[str, Any]:
    family = queries.samples_where(ctx.session, donor_id=donor.id)
    f = _Family(ctx, family)
    cols = ctx.session.execute(select(Collection).where(Collection.donor_id == donor.id)
                               .order_by(col(Collection.id))).scalars()
    return hashing.jsonable({
        **_header(ctx, "donor_trace"),
        "donor": {"id": donor.id, "code": donor.code, "donor_type": donor.donor_type,
                  "eligibility": donor.eligibility},
        "consents": [{"form_version": c.form_version, "scopes": c.scopes,
                      "withdrawn_scopes": c.withdrawn_scopes, "obtained_at": c.obtained_at,
                      "withdrawn_at": c.withdrawn_at}
                     for c in queries.consents_of(ctx.session, donor.id)],
        "collections": [{
            "id": c.id, "din": c.din, "source": c.source, "site": c.site,
            "started_at": c.started_at, "ended_at": c.ended_at, "volume_ml": c.volume_ml,
            "samples": f.tree(lineage.tree([s for s in family if s.collection_id == c.id])),
        } for c in cols],
    })


def recipient_trace(ctx: Context, recipient: Recipient) -> dict[str, Any]:
    products = list(ctx.session.execute(select(Sample).where(
        Sample.recipient_id == recipient.id).order_by(col(Sample.id))).scalars())
    paths = {p.id: [*reversed(lineage.ancestors(ctx, p)), p] for p in products}
    f = _Family(ctx, [s for path in paths.values() for s in path])
    donor = ctx.session.get(Donor, recipient.donor_id) if recipient.donor_id else None
    out = []
    for p in products:
        d = queries.get(ctx.session, Donor, p.donor_id)
        c = queries.get(ctx.session, Collection, p.collection_id)
        t = f.last(p, "administer")
        out.append({
            "sample": f.node(p), "administered_at": t.at if t else None,
            "path": [f.node(s) for s in paths[p.id]],
            "donor": {"code": d.code, "donor_type": d.donor_type, "eligibility": d.eligibility},
            "collection": {"din": c.din, "source": c.source, "site": c.site,
                           "started_at": c.started_at},
        })
    return hashing.jsonable({
        **_header(ctx, "recipient_trace"),
        "recipient": {"id": recipient.id, "code": recipient.code,
                      "wristband_id": recipient.wristband_id,
                      "donor_code": donor.code if donor else None},
        "products": out,
    })
