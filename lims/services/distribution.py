"""What distribution and administration record about the patient (chain of identity).

Called by the sample workflow for the `distribute` and `administer` events.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from lims.db import queries
from lims.db.tables import BedsideCheck, Donor, Recipient, Sample
from lims.domain.errors import GuardFailed, Invalid
from lims.services.context import Context


def recipient_by_donor(ctx: Context, donor_id: str) -> Recipient | None:
    q = select(Recipient).where(Recipient.donor_id == donor_id)
    return ctx.session.execute(q).scalar_one_or_none()


def recipient_for_distribution(ctx: Context, sample: Sample, data: dict) -> Recipient | None:
    """Who a distributed product is for. Autologous: always the donor-patient."""
    donor = queries.get(ctx.session, Donor, sample.donor_id)
    wanted = data.get("recipient_id")
    if donor.donor_type == "autologous":
        own = recipient_by_donor(ctx, donor.id)
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
    if sample.expires_at and sample.expires_at <= ctx.now:
        problems.append("the product expired after the bedside check")
    if problems:
        raise GuardFailed("Cannot record the administration: " + "; ".join(problems) + ".",
                          blocked_by=problems)
    check.used_at = ctx.now
    ctx.session.add(check)
    return check
