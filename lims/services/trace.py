"""Two-way traceability (21 CFR 1271.290): donor -> every product and its recipient or
final disposition, and recipient -> every product back to its donor and collection.

Besides the lineage, a trace carries what an inspector (FACT-JACIE) asks for next: holds
and their reasons, QC results, deviations, temperature excursions and their review, and
every signature. Times stay ISO 8601 with offsets; each ``*_at`` has a ``*_at_local``
twin that reads in the lab's zone ('2026-12-01 19:20 CET'), which the PDF prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from lims.db import queries
from lims.db import trace as db
from lims.db.tables import Collection, Donor, ProcessingStep, Recipient, Sample, SampleTransition
from lims.domain import audit as hashing
from lims.domain import clock, isbt
from lims.services import lineage
from lims.services.context import Context

RECORDS = ("holds", "qc_results", "deviations", "excursions", "signatures")


def with_local_times(value: Any, zone: tzinfo) -> Any:
    """A copy in which every ``x_at`` datetime has an ``x_at_local`` readable twin."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out[k] = with_local_times(v, zone)
            if k.endswith("_at") and (isinstance(v, datetime) or v is None):
                out[f"{k}_local"] = None if v is None else clock.readable(v, zone)
        return out
    if isinstance(value, list):
        return [with_local_times(v, zone) for v in value]
    return value


class _Family:
    """Everything recorded about a set of samples, loaded once."""

    def __init__(self, ctx: Context, items: Sequence[Sample]) -> None:
        s = ctx.session
        self.zone = ctx.settings.zone
        self.samples = {x.id: x for x in items}
        ids = list(self.samples)
        self.events = db.transitions(s, ids)
        self.recipients = db.recipients(s, {x.recipient_id for x in items if x.recipient_id})
        self.locations = db.locations(s, {x.location_id for x in items if x.location_id})
        self.qc = db.qc_results(s, ids)
        self.deviations = db.deviations(s, ids)
        self.excursions = db.excursions(s, ids)
        self.collections = db.collections(s, {x.collection_id for x in items})
        qc_sample = {q.id: q.sample_id for q in self.qc}
        self.signed = db.signatures(s, ids + list(qc_sample))
        self.sample_of = {**{i: i for i in ids}, **qc_sample}  # signed record -> sample
        self.qc_test = {q.id: q.test for q in self.qc}
        self.names = db.user_names(s, {q.recorded_by for q in self.qc}
                                   | {d.operator_id for d in self.deviations}
                                   | {e.reviewed_by for e in self.excursions if e.reviewed_by})

    def _name(self, user_id: str | None) -> str | None:
        return None if user_id is None else self.names.get(user_id, user_id)

    def last(self, s: Sample, event: str) -> SampleTransition | None:
        found = [t for t in self.events.get(s.id, []) if t.event == event]
        return found[-1] if found else None

    def disposition(self, s: Sample) -> str:
        r = self.recipients.get(s.recipient_id or "")
        who = r.code if r else "no recipient"
        if s.state == "administered":
            t = self.last(s, "administer")
            return f"administered to {who} at {clock.readable(t.at, self.zone) if t else '?'}"
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
                            "signed_at": g.signed_at}
                           for g, _ in self.signed if g.entity_id == s.id],
        }

    def tree(self, nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**self.node(n["sample"]), "children": self.tree(n["children"])} for n in nodes]

    # ---- what an inspector reads next to the lineage ----------------------------------

    def records(self, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Holds, QC results, deviations, excursions and signatures of these samples."""
        wanted = set(ids)
        code = {i: self.samples[i].code for i in wanted}
        return {
            "holds": [h for i in ids for h in self._holds(self.samples[i])],
            "qc_results": [{
                "sample_code": code[q.sample_id], "test": q.test, "value": q.value,
                "unit": q.unit, "specification": q.specification, "result": q.result,
                "recorded_at": q.recorded_at, "recorded_by": self._name(q.recorded_by),
            } for q in self.qc if q.sample_id in wanted],
            "deviations": [self._deviation(d) for d in self.deviations if d.sample_id in wanted],
            "excursions": [{
                "sample_code": code[e.sample_id], "temperature_c": e.temperature_c,
                "allowed_min_c": e.allowed_min_c, "allowed_max_c": e.allowed_max_c,
                "detected_at": e.detected_at, "reviewed_at": e.reviewed_at,
                "reviewed_by": self._name(e.reviewed_by), "assessment": e.assessment,
            } for e in self.excursions if e.sample_id in wanted],
            "signatures": [{
                "sample_code": code[self.sample_of[g.entity_id]],
                "record": self._signed_what(g.entity_id, action), "meaning": g.meaning,
                "signer_name": g.signer_name, "signed_at": g.signed_at,
            } for g, action in self.signed if self.sample_of[g.entity_id] in wanted],
        }

    def _holds(self, s: Sample) -> list[dict[str, Any]]:
        """Each hold from the event that placed it to the one that lifted it (if any)."""
        out: list[dict[str, Any]] = []
        for t in self.events.get(s.id, []):
            if t.event == "place_hold":
                out.append({"sample_code": s.code, "reason": t.reason, "placed_at": t.at,
                            "placed_by": t.actor_name, "lifted_at": None, "lifted_by": None,
                            "lift_reason": None})
            elif t.event == "lift_hold" and out and out[-1]["lifted_at"] is None:
                out[-1] |= {"lifted_at": t.at, "lifted_by": t.actor_name,
                            "lift_reason": t.reason}
        if s.on_hold and not (out and out[-1]["lifted_at"] is None):
            # A derivative of a held sample is born on hold: no event placed its hold. (Its
            # parent is the line above it in the lineage.)
            out.append({"sample_code": s.code, "reason": s.hold_reason, "placed_at": s.created_at,
                        "placed_by": "derivation from a held parent", "lifted_at": None,
                        "lifted_by": None, "lift_reason": None})
        return out

    def _deviation(self, step: ProcessingStep) -> dict[str, Any]:
        s = self.samples[step.sample_id]
        due = s.processing_due_at
        late = clock.elapsed(due, step.started_at) if due else None
        ended = self.collections[s.collection_id].ended_at
        return {
            "sample_code": s.code, "kind": "processing window", "step": step.method,
            "started_at": step.started_at, "started_by": self._name(step.operator_id),
            "window_closed_at": due,
            "late_by": clock.hours(late) if late is not None else None,
            "since_collection": clock.hours(clock.elapsed(ended, step.started_at)),
            "reason": step.deviation_reason,
        }

    def _signed_what(self, entity_id: str, action: str) -> str:
        if entity_id in self.qc_test:
            return f"QC {self.qc_test[entity_id]}: {action.replace('_', ' ')}"
        return action.removeprefix("event:").replace("_", " ")


def _header(ctx: Context, kind: str) -> dict[str, Any]:
    return {"kind": kind, "generated_at": ctx.now, "timezone": ctx.settings.timezone,
            "facility": f"{ctx.settings.facility_name} ({ctx.settings.facility_id})"}


def _out(ctx: Context, trace: dict[str, Any]) -> dict[str, Any]:
    return hashing.jsonable(with_local_times(trace, ctx.settings.zone))


def donor_trace(ctx: Context, donor: Donor) -> dict[str, Any]:
    family = queries.samples_where(ctx.session, donor_id=donor.id)
    f = _Family(ctx, family)
    return _out(ctx, {
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
        } for c in db.collections_of_donor(ctx.session, donor.id)],
        **f.records([s.id for s in family]),
    })


def recipient_trace(ctx: Context, recipient: Recipient) -> dict[str, Any]:
    products = db.products_of_recipient(ctx.session, recipient.id)
    paths = {p.id: [*reversed(lineage.ancestors(ctx, p)), p] for p in products}
    f = _Family(ctx, [s for path in paths.values() for s in path])
    donor = queries.get(ctx.session, Donor, recipient.donor_id) if recipient.donor_id else None
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
            **f.records([s.id for s in paths[p.id]]),
        })
    return _out(ctx, {
        **_header(ctx, "recipient_trace"),
        "recipient": {"id": recipient.id, "code": recipient.code,
                      "wristband_id": recipient.wristband_id,
                      "donor_code": donor.code if donor else None},
        "products": out,
    })
