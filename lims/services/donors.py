"""Donors, consents and the eligibility determination."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lims.db import lookup, queries
from lims.db.tables import Consent, Donor
from lims.domain import permissions, vocabulary
from lims.domain.checks import BloodGroup, DonorType, Eligibility, PageSize, Scopes, checked
from lims.domain.errors import Conflict, Invalid, NotFound
from lims.domain.workflow import Use
from lims.services import audit
from lims.services.context import Context

DONOR_TYPES = vocabulary.DONOR_TYPES
ELIGIBILITY = vocabulary.ELIGIBILITY
SCOPES = tuple(u.value for u in Use)


def _snapshot(d: Donor) -> dict:
    return {"code": d.code, "donor_type": d.donor_type, "related": d.related,
            "eligibility": d.eligibility, "eligibility_note": d.eligibility_note,
            "abo_rh": d.abo_rh}


@checked
def register_donor(ctx: Context, *, code: str, donor_type: DonorType, related: bool = False,
                   eligibility: Eligibility = "pending", abo_rh: BloodGroup | None = None) -> Donor:
    permissions.require(ctx.actor.roles, "register_donor")
    if eligibility != "pending":
        permissions.require(ctx.actor.roles, "determine_eligibility")
    code = code.strip()
    if donor_type not in DONOR_TYPES:
        raise Invalid(f"Donor type must be one of {', '.join(DONOR_TYPES)}.")
    if eligibility not in ELIGIBILITY:
        raise Invalid(f"Eligibility must be one of {', '.join(ELIGIBILITY)}.")
    if related and donor_type == "autologous":
        raise Invalid("An autologous donor is the patient: 'related' applies to allogeneic only.")
    if queries.donor_by_code(ctx.session, code):
        raise Conflict(f"A donor with code {code} is already registered.")
    donor = Donor(code=code, donor_type=donor_type, related=related, eligibility=eligibility,
                  abo_rh=abo_rh, created_at=ctx.now, updated_at=ctx.now)
    ctx.session.add(donor)
    ctx.session.flush()
    audit.record(ctx, "donor_registered", "donor", donor.id, after=_snapshot(donor))
    return donor


@checked
def set_eligibility(ctx: Context, donor_id: str, eligibility: Eligibility,
                    note: str | None) -> Donor:
    permissions.require(ctx.actor.roles, "determine_eligibility")
    if eligibility not in ELIGIBILITY:
        raise Invalid(f"Eligibility must be one of {', '.join(ELIGIBILITY)}.")
    # Locked: a collection or release reading the eligibility takes turns with this change.
    donor = queries.get(ctx.session, Donor, donor_id, lock=True)
    before = _snapshot(donor)
    donor.eligibility, donor.eligibility_note = eligibility, note
    donor.updated_at, donor.version = ctx.now, donor.version + 1
    ctx.session.add(donor)
    audit.record(ctx, "eligibility_determined", "donor", donor.id, before=before,
                 after=_snapshot(donor), reason=note)
    return donor


@checked
def set_blood_group(ctx: Context, donor_id: str, abo_rh: BloodGroup, reason: str | None) -> Donor:
    """Record the ABO/Rh typing result. A correction of an earlier value needs a reason."""
    permissions.require(ctx.actor.roles, "determine_eligibility")
    donor = queries.get(ctx.session, Donor, donor_id, lock=True)
    if donor.abo_rh and donor.abo_rh != abo_rh and not (reason or "").strip():
        raise Invalid(f"The donor is typed {donor.abo_rh} already: say why it changes (reason).")
    before = _snapshot(donor)
    donor.abo_rh, donor.updated_at, donor.version = abo_rh, ctx.now, donor.version + 1
    ctx.session.add(donor)
    audit.record(ctx, "blood_group_recorded", "donor", donor.id, before=before,
                 after=_snapshot(donor), reason=reason)
    return donor


@checked
def add_consent(ctx: Context, donor_id: str, *, form_version: str, scopes: Scopes,
                obtained_at: datetime, obtained_by: str) -> Consent:
    permissions.require(ctx.actor.roles, "record_consent")
    donor = queries.get(ctx.session, Donor, donor_id)
    bad = sorted(set(scopes) - set(SCOPES))
    if not scopes or bad:
        raise Invalid(f"Consent scopes must be a non-empty subset of {', '.join(SCOPES)}.")
    if obtained_at > ctx.now:
        raise Invalid("Consent cannot be obtained in the future: check the date and time.")
    consent = Consent(donor_id=donor.id, form_version=form_version,
                      scopes=sorted(set(scopes)), obtained_at=obtained_at,
                      obtained_by=obtained_by, created_at=ctx.now)
    ctx.session.add(consent)
    ctx.session.flush()
    audit.record(ctx, "consent_recorded", "donor", donor.id, after={
        "consent_id": consent.id, "form_version": form_version, "scopes": consent.scopes,
        "obtained_at": obtained_at, "obtained_by": obtained_by})
    return consent


@checked
def withdraw_consent(ctx: Context, donor_id: str, consent_id: str,
                     scopes: Scopes | None, reason: str) -> Consent:
    """Withdraw some or all scopes. Nothing recorded is lost: the scopes stay listed."""
    permissions.require(ctx.actor.roles, "withdraw_consent")
    # Lock the donor: a release or distribution reading these consents takes turns with us.
    queries.get(ctx.session, Donor, donor_id, lock=True)
    consent = queries.get(ctx.session, Consent, consent_id, lock=True)
    if consent.donor_id != donor_id:
        raise NotFound("This consent belongs to another donor.")
    if not reason.strip():
        raise Invalid("Say why the consent is withdrawn (reason).")
    wanted = set(scopes or consent.scopes)
    if not wanted <= set(consent.scopes):
        raise Invalid(f"This consent covers only {', '.join(consent.scopes)}.")
    before = {"withdrawn_scopes": consent.withdrawn_scopes}
    consent.withdrawn_scopes = sorted(set(consent.withdrawn_scopes) | wanted)
    consent.withdrawn_at, consent.withdrawal_reason = ctx.now, reason
    ctx.session.add(consent)
    audit.record(ctx, "consent_withdrawn", "donor", consent.donor_id, before=before,
                 after={"consent_id": consent.id, "withdrawn_scopes": consent.withdrawn_scopes},
                 reason=reason)
    return consent


def active_scopes(consents: list[Consent]) -> frozenset[str]:
    """Scopes covered by at least one consent that has not withdrawn them."""
    return frozenset(s for c in consents for s in c.scopes if s not in c.withdrawn_scopes)



# --- reads --------------------------------------------------------------------------

def donor(ctx: Context, donor_id: str) -> Donor:
    return queries.get(ctx.session, Donor, donor_id)


def consents(ctx: Context, donor_id: str) -> list[Consent]:
    return queries.consents_of(ctx.session, donor_id)


@checked
def page(ctx: Context, cursor: str | None, limit: PageSize, **filters: Any,
         ) -> tuple[list[Donor], str | None, dict[str, list[Consent]]]:
    """Donors, oldest first, with the consents of each (one query for the page)."""
    rows, nxt = lookup.donors_page(ctx.session, cursor, limit, **filters)
    return rows, nxt, queries.consents_of_donors(ctx.session, [d.id for d in rows])
