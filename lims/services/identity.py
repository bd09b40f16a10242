"""Recipients, the bedside check, and the administration it allows."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from lims.db import queries
from lims.db.tables import BedsideCheck, Donor, Recipient, Sample
from lims.domain import identity
from lims.domain.errors import Conflict, DomainError, GuardFailed, Invalid
from lims.services import audit
from lims.services.context import Context


def register_recipient(ctx: Context, *, code: str, wristband_id: str,
                       donor_id: str | None) -> Recipient:
    """A patient. An autologous patient is the donor: link donor_id."""
    wristband = identity.parse_wristband(wristband_id)
    if donor_id:
        donor = queries.get(ctx.session, Donor, donor_id)
        if donor.donor_type != "autologous":
            raise Invalid("Only an autologous donor is also the recipient; allogeneic products "
                          "are assigned to a recipient at distribution.")
        if _by(ctx, Recipient.donor_id, donor_id):
            raise Conflict(f"Donor {donor.code} is already registered as a recipient.")
    for col, value, what in ((Recipient.code, code, "code"),
                             (Recipient.wristband_id, wristband, "wristband")):
        if _by(ctx, col, value):
            raise Conflict(f"A recipient with this {what} ({value}) exists already.")
    r = Recipient(code=code, wristband_id=wristband, donor_id=donor_id, created_at=ctx.now)
    ctx.session.add(r)
    ctx.session.flush()
    audit.record(ctx, "recipient_registered", "recipient", r.id,
                 after={"code": code, "wristband_id": wristband, "donor_id": donor_id})
    return r


def _by(ctx: Context, col: object, value: object) -> Recipient | None:
    return ctx.session.execute(select(Recipient).where(col == value)).scalar_one_or_none()


def recipient_for_distribution(ctx: Context, sample: Sample, data: dict) -> Recipient | None:
    """Who a distributed product is for. Autologous: always the donor-patient."""
    donor = queries.get(ctx.session, Donor, sample.donor_id)
    wanted = data.get("recipient_id")
    if donor.donor_type == "autologous":
        own = _by(ctx, Recipient.donor_id, donor.id)
        if own is None:
            raise Invalid(f"Register patient {donor.code} as a recipient (with the wristband) "
                          "before distributing an autologous product.")
        if wanted and wanted != own.id:
            raise GuardFailed("An autologous product can only go to its own donor, "
                              f"{donor.code}: refused.", blocked_by=["autologous_other_patient"])
        return own
    if wanted:
        return queries.get(ctx.session, Recipient, wanted)
    if data.get("intended_use") == "clinical":
        raise Invalid("A clinical distribution names its recipient ('recipient_id').")
    return None


def verify_bedside(ctx: Context, *, wristband: str, product: str,
                   site: str | None) -> BedsideCheck:
    """Scan wristband and product: match or the reasons for a mismatch. Always recorded."""
    from lims.services import scanning  # scanning -> samples -> identity: import late

    scanned = identity.parse_wristband(wristband)
    try:
        sample = scanning.resolve(ctx, product, site or "bedside")
    except DomainError as exc:
        return _record(ctx, None, wristband, product, site, [exc.detail])
    recipient = ctx.session.get(Recipient, sample.recipient_id) if sample.recipient_id else None
    thaws = [t.at for t in queries.transitions_of(ctx.session, sample.id) if t.event == "thaw"]
    reasons = identity.mismatches(identity.BedsideFacts(
        state=sample.state, on_hold=sample.on_hold, expires_at=sample.expires_at,
        thawed_at=thaws[-1] if thaws else None,
        product_wristband=recipient.wristband_id if recipient else None,
        distributed_to=sample.distributed_to, scanned_wristband=scanned, site=site,
        now=ctx.now, post_thaw=timedelta(hours=ctx.settings.post_thaw_hours)))
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


def use_check(ctx: Context, sample: Sample, check_id: str | None) -> BedsideCheck:
    """An administration needs a matching bedside check of this product, made by the same
    person moments before, not used yet. There is no override."""
    if not check_id:
        raise GuardFailed("Scan the patient's wristband and the product at the bedside first "
                          "(POST /administrations/verify) and give its check_id.",
                          blocked_by=["bedside_check_missing"])
    check = queries.get(ctx.session, BedsideCheck, check_id, lock=True)
    window = timedelta(minutes=ctx.settings.bedside_check_minutes)
    problems = []
    if check.sample_id != sample.id:
        problems.append("the bedside check was made for another product")
    if not check.match:
        problems.append("the bedside check did not match: " + "; ".join(check.reasons))
    if check.user_id != ctx.actor.id:
        problems.append("the bedside check was made by someone else")
    if ctx.now - check.at > window:
        problems.append(f"the bedside check is older than {window.seconds // 60} minutes")
    if check.used_at is not None:
        problems.append("this bedside check was already used")
    if problems:
        raise GuardFailed("Cannot record the administration: " + "; ".join(problems) + ".",
                          blocked_by=problems)
    check.used_at = ctx.now
    ctx.session.add(check)
    return check
