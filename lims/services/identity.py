"""Recipients, the bedside check, and the administration it allows."""

from __future__ import annotations

from lims.db import queries, recipients
from lims.db.tables import BedsideCheck, Donor, Recipient, Sample
from lims.domain import identity, permissions
from lims.domain.errors import Conflict, DomainError, Invalid
from lims.services import audit, scanning
from lims.services.context import Context


def register_recipient(ctx: Context, *, code: str, wristband_id: str,
                       donor_id: str | None) -> Recipient:
    """A patient. An autologous patient is the donor: link donor_id."""
    permissions.require(ctx.actor.roles, "register_recipient")
    wristband = identity.parse_wristband(wristband_id)
    if donor_id:
        donor = queries.get(ctx.session, Donor, donor_id)
        if donor.donor_type != "autologous":
            raise Invalid("Only an autologous donor is also the recipient; allogeneic products "
                          "are assigned to a recipient at distribution.")
        if queries.recipient_of_donor(ctx.session, donor_id):
            raise Conflict(f"Donor {donor.code} is already registered as a recipient.")
    if recipients.recipient_by_code(ctx.session, code):
        raise Conflict(f"A recipient with this code ({code}) exists already.")
    if recipients.recipient_by_wristband(ctx.session, wristband):
        raise Conflict(f"A recipient with this wristband ({wristband}) exists already.")
    r = Recipient(code=code, wristband_id=wristband, donor_id=donor_id, created_at=ctx.now)
    ctx.session.add(r)
    ctx.session.flush()
    audit.record(ctx, "recipient_registered", "recipient", r.id,
                 after={"code": code, "wristband_id": wristband, "donor_id": donor_id})
    return r


def verify_bedside(ctx: Context, *, wristband: str, product: str,
                   site: str | None) -> BedsideCheck:
    """Scan wristband and product: match or the reasons for a mismatch. Always recorded."""
    permissions.require(ctx.actor.roles, "bedside_check")
    scanned = identity.parse_wristband(wristband)
    try:
        sample = scanning.resolve(ctx, product, site or "bedside")
    except DomainError as exc:
        return _record(ctx, None, wristband, product, site, [exc.detail])
    recipient = ctx.session.get(Recipient, sample.recipient_id) if sample.recipient_id else None
    # A bag thawed and then split: the clock runs from the thaw of the material.
    thawed_at = queries.last_thaw(ctx.session, [sample.id, *(a.id for a in queries.ancestors(
        ctx.session, sample))])
    reasons = identity.mismatches(identity.BedsideFacts(
        state=sample.state, on_hold=sample.on_hold, expires_at=sample.expires_at,
        thawed_at=thawed_at,
        product_wristband=recipient.wristband_id if recipient else None,
        distributed_to=sample.distributed_to, scanned_wristband=scanned, site=site,
        now=ctx.now,
        zone=ctx.settings.zone))
    return _record(ctx, sample, wristband, product, site, reasons)


def _record(ctx: Context, sample: Sample | None, wristband: str, product: str,
            site: str | None, reasons: list[str]) -> BedsideCheck:
    check = BedsideCheck(user_id=ctx.actor.id, sample_id=sample.id if sample else None,
                         wristband_scanned=wristband.strip()[:200],
                         product_scanned=product.strip()[:200], site=site,
                         match=not reasons, reasons=reasons, at=ctx.now)
    ctx.session.add(check)
    ctx.session.flush()
    audit.record(ctx, "bedside_match" if check.match else "bedside_mismatch", "sample",
                 sample.id if sample else "unknown",
                 after={"check_id": check.id, "wristband": check.wristband_scanned,
                        "product": check.product_scanned, "match": check.match,
                        "reasons": reasons})
    return check



def recipient(ctx: Context, recipient_id: str) -> Recipient:
    return queries.get(ctx.session, Recipient, recipient_id)
