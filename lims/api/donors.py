"""Donors and their consents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from lims.api.contract import ContractRoute
from lims.api.deps import Auth
from lims.api.filters import Code, Cursor, Since
from lims.api.problems import responses
from lims.api.schemas import (
    BloodGroupIn,
    ConsentIn,
    ConsentOut,
    DonorIn,
    DonorOut,
    EligibilityIn,
    Page,
    WithdrawIn,
)
from lims.db.tables import Consent, Donor
from lims.services import donors
from lims.services.context import Context

router = APIRouter(prefix="/donors", tags=["donors"], route_class=ContractRoute)


def donor_out(donor: Donor, consents: list[Consent]) -> DonorOut:
    return DonorOut.model_validate(donor).model_copy(update={
        "consents": [ConsentOut.model_validate(c) for c in consents],
        "active_consent_scopes": sorted(donors.active_scopes(consents)),
    })


def _one(ctx: Context, donor: Donor) -> DonorOut:
    return donor_out(donor, donors.consents(ctx, donor.id))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DonorOut,
             operation_id="register_donor", responses=responses(401, 403, 409, 422))
def register_donor(body: DonorIn, ctx: Auth) -> DonorOut:
    """Register a donor under a pseudonymous code."""
    return _one(ctx, donors.register_donor(ctx, **body.model_dump()))


@router.get("", response_model=Page, operation_id="list_donors", responses=responses(401, 403, 422))
def list_donors(ctx: Auth, code: Code = None, updated_since: Since = None,
                cursor: Cursor = None,
                limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page:
    """Donors, oldest first; `code` looks one up by its pseudonymous code."""
    rows, nxt, consents = donors.page(ctx, cursor, limit, code=code,
                                      updated_since=updated_since)
    return Page(items=[donor_out(d, consents.get(d.id, [])) for d in rows], next_cursor=nxt)


@router.get("/{donor_id}", response_model=DonorOut, operation_id="get_donor",
            responses=responses(401, 403, 404))
def get_donor(donor_id: str, ctx: Auth) -> DonorOut:
    return _one(ctx, donors.donor(ctx, donor_id))


@router.put("/{donor_id}/eligibility", response_model=DonorOut,
            operation_id="determine_eligibility", responses=responses(401, 403, 404, 422))
def determine_eligibility(donor_id: str, body: EligibilityIn, ctx: Auth) -> DonorOut:
    """Record the donor-eligibility determination (21 CFR 1271.50): QA or coordinators."""
    return _one(ctx, donors.set_eligibility(ctx, donor_id, body.eligibility, body.note))


@router.put("/{donor_id}/blood-group", response_model=DonorOut,
            operation_id="record_blood_group", responses=responses(401, 403, 404, 422))
def record_blood_group(donor_id: str, body: BloodGroupIn, ctx: Auth) -> DonorOut:
    """Record the donor's ABO/Rh typing (printed on bag labels): QA or coordinators."""
    return _one(ctx, donors.set_blood_group(ctx, donor_id, body.abo_rh, body.reason))


@router.post("/{donor_id}/consents", status_code=status.HTTP_201_CREATED,
             response_model=ConsentOut, operation_id="record_consent",
             responses=responses(401, 403, 404, 422))
def record_consent(donor_id: str, body: ConsentIn, ctx: Auth) -> ConsentOut:
    return ConsentOut.model_validate(donors.add_consent(ctx, donor_id, **body.model_dump()))


@router.post("/{donor_id}/consents/{consent_id}/withdrawal", response_model=ConsentOut,
             operation_id="withdraw_consent", responses=responses(401, 403, 404, 422))
def withdraw_consent(donor_id: str, consent_id: str, body: WithdrawIn, ctx: Auth) -> ConsentOut:
    """Withdraw some or all scopes of a consent. Collected material is flagged, not lost."""
    return ConsentOut.model_validate(
        donors.withdraw_consent(ctx, donor_id, consent_id, body.scopes, body.reason))
