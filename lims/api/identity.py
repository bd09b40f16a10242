"""Chain of identity: recipients, the bedside check, two-way trace reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Response, status
from pydantic import Field

from lims.api.contract import ContractRoute
from lims.api.deps import Auth
from lims.api.problems import responses
from lims.api.schemas import In, Out
from lims.domain.identity import WRISTBAND_PATTERN
from lims.services import donors, identity, trace

router = APIRouter(tags=["chain of identity"], route_class=ContractRoute)


class RecipientIn(In):
    code: str = Field(min_length=2, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    wristband_id: str = Field(min_length=3, max_length=60, pattern=WRISTBAND_PATTERN,
                              description="As printed (and barcoded) on the wristband")
    donor_id: str | None = Field(default=None, min_length=1,
                                 description="For an autologous patient: the donor record")


class RecipientOut(Out):
    id: str
    code: str
    wristband_id: str
    donor_id: str | None
    created_at: datetime


class VerifyIn(In):
    wristband: str = Field(min_length=1, max_length=200, pattern=WRISTBAND_PATTERN,
                           description="As the scanner typed it")
    product: str = Field(min_length=1, max_length=200, description="As the scanner typed it")
    site: str | None = Field(default=None, max_length=120,
                             description="Where the check happens (ward or clinic)")


class VerifyOut(Out):
    id: str
    sample_id: str | None
    match: bool
    reasons: list[str]
    at: datetime


@router.post("/recipients", status_code=status.HTTP_201_CREATED, response_model=RecipientOut,
             operation_id="register_recipient", responses=responses(401, 403, 404, 409, 422))
def register_recipient(body: RecipientIn, ctx: Auth) -> RecipientOut:
    return RecipientOut.model_validate(identity.register_recipient(ctx, **body.model_dump()))


@router.get("/recipients/{recipient_id}", response_model=RecipientOut,
            operation_id="get_recipient", responses=responses(401, 403, 404))
def get_recipient(recipient_id: str, ctx: Auth) -> RecipientOut:
    return RecipientOut.model_validate(identity.recipient(ctx, recipient_id))


@router.post("/administrations/verify", response_model=VerifyOut,
             operation_id="verify_bedside", responses=responses(401, 403, 422))
def verify_bedside(body: VerifyIn, ctx: Auth) -> VerifyOut:
    """The bedside check: match, or mismatch with every reason. Every check is recorded;
    `administer` needs a matching check_id made by the same person moments before."""
    return VerifyOut.model_validate(identity.verify_bedside(ctx, **body.model_dump()))


def _report(body: dict[str, Any], fmt: str) -> Any:
    if fmt == "json":
        return body
    from lims.reports import trace_pdf

    return Response(trace_pdf(body), media_type="application/pdf")


PDF: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "application/pdf": {}},
          "description": "The trace as JSON or as a printable PDF"}}


@router.get("/donors/{donor_id}/trace", operation_id="donor_trace", tags=["donors"],
            responses={**responses(401, 403, 404), **PDF})
def donor_trace(donor_id: str, ctx: Auth, format: Literal["json", "pdf"] = "json") -> Any:  # noqa: A002
    """From a donor to every product and every recipient or final disposition."""
    return _report(trace.donor_trace(ctx, donors.donor(ctx, donor_id)), format)


@router.get("/recipients/{recipient_id}/trace", operation_id="recipient_trace",
            responses={**responses(401, 403, 404), **PDF})
def recipient_trace(recipient_id: str, ctx: Auth,
                    format: Literal["json", "pdf"] = "json") -> Any:  # noqa: A002
    """From a recipient back through every product to its donor and collection."""
    return _report(trace.recipient_trace(
        ctx, identity.recipient(ctx, recipient_id)), format)
