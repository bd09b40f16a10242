"""Part 11 electronic signatures: re-entered password, printed name, time, meaning."""

from __future__ import annotations

from lims.db import queries
from lims.db.tables import AppUser, AuditEntry, Signature
from lims.domain import audit as hashing
from lims.domain.errors import NotPermitted
from lims.services import audit, passwords, users
from lims.services.context import Context


def check_password(ctx: Context, password: str) -> AppUser:
    """The signer proves identity again: the password of the signed-in user. Wrong
    passwords count towards the lockout like failed sign-ins, and are audited."""
    user = ctx.session.get(AppUser, ctx.actor.id)
    if user is not None and users.is_locked(ctx, user):
        raise NotPermitted("Too many wrong passwords: your account is locked for a while.")
    if user is None or not user.password_hash or not passwords.verify(user.password_hash,
                                                                       password):
        wrong = NotPermitted("The signature password is wrong: nothing was signed or changed.")
        if user is not None:
            def record() -> None:
                fresh = queries.get(ctx.session, AppUser, ctx.actor.id, lock=True)
                users.count_failure(ctx, fresh, fresh.username, "signature_failed")

            wrong.keeping(record)
        raise wrong
    return user


def sign(ctx: Context, entry: AuditEntry, meaning: str) -> Signature:
    """Bind a signature to the record state and the audit entry that just changed it."""
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
