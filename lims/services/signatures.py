"""Part 11 electronic signatures: re-entered password, printed name, time, meaning."""

from __future__ import annotations

from lims.db import queries
from lims.db.tables import AppUser, AuditEntry, Signature
from lims.domain import audit as hashing
from lims.domain.errors import Invalid, NotPermitted
from lims.services import audit, passwords
from lims.services.context import Context

MEANINGS = ("performed", "reviewed", "approved", "released")


def check_password(ctx: Context, password: str) -> AppUser:
    """The signer proves identity again: the password of the signed-in user."""
    user = queries.get(ctx.session, AppUser, ctx.actor.id) if ctx.actor.id != "system" else None
    if user is None or not user.password_hash or not passwords.verify(user.password_hash,
                                                                       password):
        raise NotPermitted("The signature password is wrong: nothing was signed or changed.")
    return user


def sign(ctx: Context, entry: AuditEntry, meaning: str) -> Signature:
    """Bind a signature to the record state and the audit entry that just changed it."""
    if meaning not in MEANINGS:
        raise Invalid(f"A signature means one of: {', '.join(MEANINGS)}.")
    assert entry.id is not None
    sig = Signature(
        signer_id=ctx.actor.id, signer_name=ctx.actor.name, meaning=meaning,
        signed_at=ctx.now, entity_type=entry.entity_type, entity_id=entry.entity_id,
        audit_entry_id=entry.id,
        binding_hash=hashing.signature_binding(
            signer_id=ctx.actor.id, meaning=meaning, signed_at=ctx.now,
            entity_type=entry.entity_type, entity_id=entry.entity_id,
            record_state=entry.after or {}, audit_hash=entry.hash,
        ),
    )
    ctx.session.add(sig)
    ctx.session.flush()
    audit.record(ctx, "signed", entry.entity_type, entry.entity_id, after={
        "signature_id": sig.id, "meaning": meaning, "signer": ctx.actor.name,
        "audit_entry_id": entry.id})
    return sig
