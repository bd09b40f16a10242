"""Storage locations, custody hand-overs and receipts, temperature excursions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, status
from pydantic import Field

from lims.api.contract import ContractRoute
from lims.api.deps import Auth
from lims.api.problems import responses
from lims.api.schemas import In, Instant, LocationIn, LocationOut, Out
from lims.services import custody

router = APIRouter(tags=["custody"], route_class=ContractRoute)


class HandOverIn(In):
    to: str = Field(examples=["user:tech2", "location:<id>"], max_length=200,
                    pattern=r"^(user:[a-z0-9._-]{2,60}|location:[^\x00]{1,36})$",
                    description="'user:<username>' or 'location:<id>'")
    handed_over_at: Instant | None = None
    temperature_c: float | None = Field(default=None, ge=-273, le=100)
    shipper: str | None = Field(default=None, max_length=120)
    condition: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=1000)


class ReceiptIn(In):
    received_at: Instant | None = None
    temperature_c: float | None = Field(default=None, ge=-273, le=100)


class ReviewIn(In):
    assessment: str = Field(min_length=1, max_length=2000)


class TransferOut(Out):
    id: str
    seq: int
    from_party: str
    to_party: str
    handed_over_at: datetime
    temperature_c: float | None
    shipper: str | None
    condition: str | None
    note: str | None
    received_at: datetime | None
    received_by: str | None


class ExcursionOut(Out):
    id: str
    temperature_c: float
    allowed_min_c: float
    allowed_max_c: float
    detected_at: datetime
    reviewed_at: datetime | None
    assessment: str | None


@router.post("/locations", status_code=status.HTTP_201_CREATED, response_model=LocationOut,
             operation_id="add_location", responses=responses(401, 403, 404, 409, 422))
def add_location(body: LocationIn, ctx: Auth) -> LocationOut:
    """Sites, storage units (freezers, LN2 dewars), racks and boxes with a position grid."""
    return LocationOut.model_validate(custody.add_location(ctx, **body.model_dump()))


@router.get("/locations", response_model=list[LocationOut], operation_id="list_locations",
            responses=responses(401, 403))
def list_locations(ctx: Auth, parent_id: str | None = None) -> list[LocationOut]:
    return [LocationOut.model_validate(x) for x in custody.locations(ctx, parent_id)]


@router.get("/locations/{location_id}", operation_id="get_location",
            responses=responses(401, 403, 404))
def get_location(location_id: str, ctx: Auth) -> dict[str, Any]:
    """A location with its children, and for a box the occupied positions."""
    loc, children, held = custody.contents(ctx, location_id)
    return {**LocationOut.model_validate(loc).model_dump(),
            "children": [LocationOut.model_validate(c) for c in children],
            "positions": [{"position": s.position, "sample_id": s.id, "code": s.code}
                          for s in held]}


@router.post("/samples/{sample_id}/custody", status_code=status.HTTP_201_CREATED,
             response_model=TransferOut, operation_id="hand_over",
             responses=responses(401, 403, 404, 409, 422))
def hand_over(sample_id: str, body: HandOverIn, ctx: Auth) -> TransferOut:
    """Hand the sample to a person or a location. The receiver confirms the receipt."""
    return TransferOut.model_validate(custody.hand_over(ctx, sample_id, **body.model_dump()))


@router.post("/samples/{sample_id}/custody/{transfer_id}/receipt", response_model=TransferOut,
             operation_id="confirm_receipt", responses=responses(401, 403, 404, 409, 422))
def confirm_receipt(sample_id: str, transfer_id: str, body: ReceiptIn, ctx: Auth) -> TransferOut:
    return TransferOut.model_validate(
        custody.confirm_receipt(ctx, sample_id, transfer_id, **body.model_dump()))


@router.get("/samples/{sample_id}/custody", operation_id="custody_timeline",
            responses=responses(401, 403, 404))
def custody_timeline(sample_id: str, ctx: Auth) -> dict[str, Any]:
    s, transfers, excursions = custody.record(ctx, sample_id)
    return {"custodian": s.custodian,
            "transfers": [TransferOut.model_validate(t) for t in transfers],
            "excursions": [ExcursionOut.model_validate(e) for e in excursions]}


@router.post("/samples/{sample_id}/excursions/{excursion_id}/review",
             response_model=ExcursionOut, operation_id="review_excursion",
             responses=responses(401, 403, 404, 409, 422))
def review_excursion(sample_id: str, excursion_id: str, body: ReviewIn, ctx: Auth) -> ExcursionOut:
    """QA documents its assessment; the excursion stops blocking release."""
    return ExcursionOut.model_validate(
        custody.review_excursion(ctx, sample_id, excursion_id, body.assessment))
