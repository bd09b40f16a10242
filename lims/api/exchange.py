"""Bulk exchange: CSV export of a sample list, CSV import of collections, bulk events."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import Field

from lims.api.contract import ContractRoute
from lims.api.deps import Auth, get_engine
from lims.api.filters import SampleFilters, sample_filter
from lims.api.problems import STATUS, responses
from lims.api.schemas import FreeData, In, Out, SignatureIn
from lims.domain.errors import DomainError
from lims.services import exchange, samples

router = APIRouter(tags=["bulk exchange"], route_class=ContractRoute)
Mode = Literal["all_or_nothing", "best_effort"]

CSV_EXAMPLE = (
    "external_ref,donor_code,source,site,started_at,ended_at,volume_ml,anticoagulant,"
    "collector,local_timezone\r\n"
    "ORD-2026-0001,CB-2026-0412,cord_blood,Maternity unit,2026-03-04T09:15:00+01:00,"
    "2026-03-04T09:23:00+01:00,95,CPD,Midwife M.,Europe/Berlin\r\n")


class ImportOut(Out):
    created: int
    existing: int
    failed: int
    rows: list[dict[str, Any]] = Field(description="One report per row: row (line number), "
                                       "external_ref, outcome (created, exists, failed), "
                                       "collection_id, din, detail")


class BulkStepIn(In):
    sample_id: str = Field(min_length=1, max_length=36)
    event: str = Field(min_length=1, max_length=30, examples=["receive"])
    reason: str | None = Field(default=None, max_length=1000)
    data: FreeData = Field(default_factory=dict,
                           description="The event's data fields (GET /workflow)")
    if_match: str | None = Field(default=None, pattern=r'^(W/)?"?[0-9]+"?$',
                                 description="The sample's ETag you last saw; stale: this "
                                             "item fails with status 412")


class BulkIn(In):
    mode: Mode = "best_effort"
    items: list[BulkStepIn] = Field(min_length=1, max_length=200)
    signature: SignatureIn | None = Field(default=None, description="One signature for every "
                                          "item, for events that need one")


class BulkOut(Out):
    applied: int
    failed: int
    results: list[dict[str, Any]] = Field(description="One result per item: row, sample_id, "
                                          "outcome (applied, failed), state, version, "
                                          "status, detail, allowed_events")


def _status(exc: DomainError) -> int:
    return next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)


@router.get("/samples.csv", operation_id="export_samples_csv",
            summary="Export a sample list as CSV",
            responses={**responses(401, 403, 422), 200: {
                "description": "CSV (RFC 4180), one sample per line, streamed",
                "content": {"text/csv": {"schema": {"type": "string"}}}}})
def export_samples_csv(request: Request, ctx: Auth, f: SampleFilters) -> StreamingResponse:
    """The same filters as GET /samples; the whole list, not a page, streamed."""
    lines = exchange.export_samples(get_engine(request), ctx.actor, ctx.settings,
                                    sample_filter(ctx, f))
    return StreamingResponse(lines, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="samples.csv"'})


@router.post("/collections/import", response_model=ImportOut,
             operation_id="import_collections", summary="Import collections from CSV",
             responses=responses(401, 403, 409, 422),
             openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {
                 "schema": {"type": "string", "pattern": exchange.HEADER_PATTERN},
                 "example": CSV_EXAMPLE}}}})
def import_collections(ctx: Auth, csv_text: Annotated[str, Body(
        media_type="text/csv", include_in_schema=False)] = "",
                       mode: Annotated[Mode, Query()] = "best_effort") -> ImportOut:
    """One collection per row (columns: see the example). Idempotent per row by
    external_ref: a file sent twice records nothing twice. all_or_nothing: one bad row
    refuses the file (409 with the report)."""
    rows = exchange.import_collections(ctx, csv_text, mode)
    return ImportOut(created=sum(r["outcome"] == "created" for r in rows),
                     existing=sum(r["outcome"] == "exists" for r in rows),
                     failed=sum(r["outcome"] == "failed" for r in rows), rows=rows)


@router.post("/samples/bulk-transitions", response_model=BulkOut,
             operation_id="apply_transitions_in_bulk", summary="Apply events to many samples",
             responses=responses(401, 403, 409, 422))
def bulk_transitions(body: BulkIn, ctx: Auth) -> BulkOut:
    """Each item is applied as POST /samples/{id}/transitions would apply it, with a result
    per item. best_effort: good items are applied; all_or_nothing: any failure refuses all
    (409 with the results)."""
    from lims.api.contract import parse_if_match

    steps = [exchange.Step(i.sample_id, i.event, i.reason, i.data, parse_if_match(i.if_match))
             for i in body.items]
    sig = samples.SignatureInput(**body.signature.model_dump()) if body.signature else None
    results = exchange.bulk_transition(ctx, steps, body.mode, sig, _status)
    return BulkOut(applied=sum(r["outcome"] == "applied" for r in results),
                   failed=sum(r["outcome"] == "failed" for r in results), results=results)
