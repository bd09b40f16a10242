"""Samples: lists for dashboards, the sample card, events, derivation, QC, lineage."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from lims.api.contract import ContractRoute
from lims.api.deps import Auth
from lims.api.filters import Cursor, SampleFilters, sample_filter
from lims.api.problems import responses
from lims.api.schemas import (
    DerivativesIn,
    Page,
    ProcessingStepOut,
    QcIn,
    QcOut,
    SampleOut,
    SignatureIn,
    SignatureOut,
    TransitionIn,
    TransitionOut,
    step_data,
)
from lims.db.tables import Sample
from lims.services import lineage, qc, records, samples, views
from lims.services.context import Context

router = APIRouter(prefix="/samples", tags=["samples"], route_class=ContractRoute)


def sample_out(ctx: Context, s: Sample) -> SampleOut:
    return SampleOut.model_validate(views.rows(ctx, [s])[0])


@router.get("", response_model=Page, operation_id="list_samples",
            responses=responses(401, 403, 422))
def list_samples(ctx: Auth, f: SampleFilters, cursor: Cursor = None,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page:
    """Samples, oldest first, filtered (state, source and kind take several values);
    follow `next_cursor` for the next page. Look-ups: `code`, `din`, `donor_code`,
    `external_ref` (your own)."""
    rows, nxt = views.page(ctx, sample_filter(ctx, f), cursor, limit)
    return Page(items=[SampleOut.model_validate(r) for r in rows], next_cursor=nxt)


@router.get("/{sample_id}", response_model=SampleOut, operation_id="get_sample",
            responses=responses(401, 403, 404))
def get_sample(sample_id: str, ctx: Auth) -> SampleOut:
    """The sample card, with the events you may apply now and an ETag for If-Match."""
    found = views.origin(ctx, sample_id)
    return SampleOut.model_validate(views.card(ctx, found.sample, found))


@router.post("/{sample_id}/transitions", response_model=SampleOut,
             operation_id="apply_transition", responses=responses(401, 403, 404, 409, 412, 422))
def apply_transition(sample_id: str, body: TransitionIn, ctx: Auth) -> SampleOut:
    """Apply an event of the workflow (see GET /workflow). Illegal steps answer 409 with
    the allowed events; a stale If-Match answers 412."""
    sig = samples.SignatureInput(**body.signature.model_dump()) if body.signature else None
    s = samples.apply_event(ctx, sample_id, body.event, reason=body.reason,
                            data=step_data(body), signature=sig)
    return sample_out(ctx, s)


@router.post("/{sample_id}/derivatives", status_code=status.HTTP_201_CREATED,
             response_model=list[SampleOut], operation_id="derive_samples",
             responses=responses(401, 403, 404, 409, 422))
def derive_samples(sample_id: str, body: DerivativesIn, ctx: Auth) -> list[SampleOut]:
    """Aliquots (same kind) or derived products (MNC, SVF, MSC, ...) from this sample."""
    measures = body.model_dump(include={"cell_count", "viability_pct", "external_ref"},
                               exclude_none=True)
    children = samples.derive(ctx, sample_id, kind=body.kind, volume_ml=body.volume_ml,
                              count=body.count, **measures)
    return [sample_out(ctx, c) for c in children]


@router.post("/{sample_id}/qc", status_code=status.HTTP_201_CREATED, response_model=QcOut,
             operation_id="record_qc", responses=responses(401, 403, 404, 422))
def record_qc(sample_id: str, body: QcIn, ctx: Auth) -> QcOut:
    return QcOut.model_validate(qc.record_qc(ctx, sample_id, **body.model_dump()))


@router.get("/{sample_id}/qc", response_model=list[QcOut], operation_id="list_qc",
            responses=responses(401, 403, 404))
def list_qc(sample_id: str, ctx: Auth) -> list[QcOut]:
    """QC results with their QA approvals (electronic signatures)."""
    return [QcOut.model_validate(q).model_copy(update={"approvals": [
        SignatureOut.model_validate(g) for g in sigs]}) for q, sigs in records.qc_results(
            ctx, sample_id)]


@router.post("/{sample_id}/qc/{qc_id}/approval", response_model=QcOut,
             operation_id="approve_qc", responses=responses(401, 403, 404, 409, 422))
def approve_qc(sample_id: str, qc_id: str, body: SignatureIn, ctx: Auth) -> QcOut:
    """QA approves a QC result with an electronic signature (meaning: approved)."""
    result = qc.approve_qc(ctx, sample_id, qc_id, samples.SignatureInput(**body.model_dump()))
    return QcOut.model_validate(result).model_copy(update={"approvals": [
        SignatureOut.model_validate(g) for g in records.approvals(ctx, result.id)]})


@router.get("/{sample_id}/processing", response_model=list[ProcessingStepOut],
            operation_id="list_processing_steps", responses=responses(401, 403, 404))
def list_processing_steps(sample_id: str, ctx: Auth) -> list[ProcessingStepOut]:
    """Isolation and processing steps: method, parameters, operator, times, results."""
    return [ProcessingStepOut.model_validate(p) for p in records.steps(ctx, sample_id)]


@router.get("/{sample_id}/history", response_model=list[TransitionOut],
            operation_id="sample_history", responses=responses(401, 403, 404))
def sample_history(sample_id: str, ctx: Auth) -> list[TransitionOut]:
    """Every applied event, oldest first."""
    return [TransitionOut.model_validate(t).model_copy(
        update={"signature": SignatureOut.model_validate(sig) if sig else None})
        for t, sig in records.history(ctx, sample_id)]


@router.get("/{sample_id}/lineage", operation_id="sample_lineage",
            responses=responses(401, 403, 404))
def sample_lineage(sample_id: str, ctx: Auth) -> dict[str, Any]:
    """Up to the donor and collection, down to every derivative."""
    fam = records.family(ctx, sample_id)
    s, donor, collection = fam.sample, fam.donor, fam.collection
    below = lineage.descendants(ctx, s)
    return {
        "donor": {"id": donor.id, "code": donor.code, "donor_type": donor.donor_type},
        "collection": {"id": collection.id, "din": collection.din, "source": collection.source},
        "ancestors": [brief(a) for a in lineage.ancestors(ctx, s)],
        "sample": brief(s),
        "descendants": nest(lineage.tree([s, *below], root_ids=[s.id]))[0]["children"],
    }


def brief(s: Sample) -> dict[str, Any]:
    return {"id": s.id, "code": s.code, "kind": s.kind, "state": s.state,
            "volume_ml": s.volume_ml, "parent_id": s.parent_id}


def nest(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**brief(n["sample"]), "children": nest(n["children"])} for n in nodes]
