"""The bench: scans, scan-and-act (idempotent), whole boxes, labels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response
from pydantic import Field

from lims.api.contract import ContractRoute
from lims.api.deps import Auth
from lims.api.filters import Cursor
from lims.api.problems import responses
from lims.api.schemas import FreeData, In, SignatureIn
from lims.domain import workflow
from lims.services import labelling, samples, scanning, views

router = APIRouter(tags=["bench"], route_class=ContractRoute)
# Required where a scan acts: a double trigger or a retry must never act twice (the key
# itself is kept by lims/api/contract.py, as on every POST).
IdemKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=200,
                                description="Same key = same answer, applied once")]


# The vocabularies the document states: the events of the workflow table, the label
# templates in labels/ (read once, when the app starts).
if TYPE_CHECKING:
    Event = str
    Template = str
else:
    Event = Literal[tuple(t.event for t in workflow.TRANSITIONS)]
    Template = Literal[tuple(sorted(labelling.container_templates()))]


class ScanIn(In):
    payload: str = Field(min_length=1, max_length=200,
                         description="Exactly what the scanner typed (prefixes, CR/LF welcome)")
    station: str = Field(min_length=1, max_length=60, examples=["bench-2"])


class ScanActIn(ScanIn):
    event: Event
    reason: str | None = Field(default=None, max_length=1000)
    data: FreeData = Field(default_factory=dict)
    signature: SignatureIn | None = None


class BatchIn(In):
    payloads: list[str] = Field(min_length=1, max_length=96)
    station: str = Field(min_length=1, max_length=60)
    event: Event
    mode: Literal["all_or_nothing", "best_effort"] = "all_or_nothing"
    reason: str | None = Field(default=None, max_length=1000)
    data: FreeData = Field(default_factory=dict,
                           description="For cryopreserve: box_id (and optional positions)")
    expected_donor_id: str | None = None
    signature: SignatureIn | None = None


class SheetIn(In):
    sample_ids: list[str] = Field(min_length=1, max_length=96)
    template: Template = "cryovial"
    layout: Literal["roll", "sheet"] = "sheet"
    symbology: Literal["qr", "datamatrix"] = "qr"
    reason: str | None = Field(default=None, description="Needed if any label is a reprint")


def _sig(body: ScanActIn | BatchIn) -> samples.SignatureInput | None:
    return samples.SignatureInput(**body.signature.model_dump()) if body.signature else None


@router.post("/scans", operation_id="scan", responses=responses(401, 403, 404, 409, 422))
def scan(body: ScanIn, ctx: Auth) -> dict[str, Any]:
    """Resolve a scanned label to the sample card (warnings and allowed events). Every
    scan is recorded as seen at the station, including codes that resolve to nothing."""
    return scanning.resolve_card(ctx, body.payload, body.station)


@router.get("/scans", operation_id="list_scans", responses=responses(401, 403, 422))
def list_scans(ctx: Auth, station: str | None = None, sample_id: str | None = None,
               cursor: Cursor = None,
               limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    """What was seen where: every scan, oldest first, resolved or not."""
    rows, nxt = scanning.scans(ctx, cursor, limit, station=station, sample_id=sample_id)
    return {"items": [r.model_dump() for r in rows], "next_cursor": nxt}


@router.post("/scans/act", operation_id="scan_and_act",
             responses=responses(401, 403, 404, 409, 412, 422))
def scan_and_act(body: ScanActIn, ctx: Auth, key: IdemKey) -> dict[str, Any]:
    """Scan a tube and apply an event. With an Idempotency-Key a double scan or a retry
    applies once and gets the same answer (header Idempotent-Replay: true)."""
    s = scanning.resolve(ctx, body.payload, body.station)
    s = samples.apply_event(ctx, s.id, body.event, reason=body.reason, data=body.data,
                            signature=_sig(body))
    return views.card(ctx, s)


@router.post("/scans/batch", operation_id="scan_batch",
             responses=responses(401, 403, 409, 422))
def scan_batch(body: BatchIn, ctx: Auth, key: IdemKey) -> dict[str, Any]:
    """One event for a whole box of scanned tubes (up to 96), with a result per tube.
    all_or_nothing: any bad tube refuses the batch (409, per-tube results, nothing applied);
    best_effort: good tubes are applied, bad ones reported."""
    results = scanning.batch(
        ctx, body.payloads, body.station, body.event, mode=body.mode, reason=body.reason,
        data=body.data, expected_donor_id=body.expected_donor_id, signature=_sig(body))
    return {"applied": sum(r["ok"] for r in results),
            "failed": sum(not r["ok"] for r in results), "results": results}


@router.get("/samples/{sample_id}/label", operation_id="print_label", tags=["labels"],
            responses={**responses(401, 403, 404, 422),
                       200: {"content": {m: {} for m in labelling.MEDIA.values()},
                             "description": "The label, ready for the printer"}})
def print_label(
    sample_id: str, ctx: Auth,
    template: Annotated[Template, Query(description="A container label template")] = "cryovial",
    format: Annotated[Literal["png", "svg", "pdf", "zpl"], Query()] = "png",  # noqa: A002
    symbology: Literal["qr", "datamatrix"] = "qr",
    reason: Annotated[str | None, Query(description="Required for a reprint")] = None,
    preview: Annotated[bool, Query(description="Only look (PNG or SVG, crossed out): "
                                               "records nothing, needs no reason")] = False,
) -> Response:
    """Render the sample's label. A print is recorded; after the first, a reason is
    required and the label says REPRINT. A preview records nothing. When text has to
    move off a small label, the accompanying label follows it (next label on the roll)."""
    if preview:
        body = labelling.preview_label(ctx, sample_id, template_name=template, fmt=format,
                                       symbology=symbology)
    else:
        body = labelling.print_labels(ctx, [sample_id], template_name=template, fmt=format,
                                      symbology=symbology, reason=reason)
    return Response(body, media_type=labelling.MEDIA[format])


@router.post("/labels/sheet", operation_id="print_label_sheet", tags=["labels"],
             responses={**responses(401, 403, 404, 422),
                        200: {"content": {"application/pdf": {}}, "description": "PDF"}})
def print_label_sheet(body: SheetIn, ctx: Auth) -> Response:
    """Many labels (e.g. a whole box of 96) as one PDF: A4 sheet or one page per label."""
    pdf = labelling.print_labels(ctx, body.sample_ids, template_name=body.template, fmt="pdf",
                                 symbology=body.symbology, reason=body.reason,
                                 layout=body.layout)
    return Response(pdf, media_type="application/pdf")
