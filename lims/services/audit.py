"""Appending to the audit trail, in the caller's transaction, and verifying it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import func, text
from sqlmodel import col, select

from lims.db.tables import AuditCheckpoint, AuditEntry, Signature
from lims.domain import audit as hashing
from lims.services import feed
from lims.services.context import Context


def record(
    ctx: Context,
    action: str,
    entity_type: str,
    entity_id: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    chain: str | None = None,
) -> AuditEntry:
    """Append one entry to the entity's chain, and its event to the feed (same
    transaction). One line per audited write."""
    chain = chain or f"{entity_type}:{entity_id}"
    head = ctx.session.execute(
        select(AuditEntry.chain_seq, AuditEntry.hash)
        .where(AuditEntry.chain == chain)
        .order_by(AuditEntry.chain_seq.desc())  # type: ignore[attr-defined]
        .limit(1)
    ).first()
    seq, prev = (head[0] + 1, head[1]) if head else (1, hashing.GENESIS)
    entry = AuditEntry(
        chain=chain, chain_seq=seq, prev_hash=prev, hash="", at=ctx.now,
        actor_id=ctx.actor.id, actor_name=ctx.actor.name, action=action,
        entity_type=entity_type, entity_id=entity_id,
        before=hashing.jsonable(before) if before is not None else None,
        after=hashing.jsonable(after) if after is not None else None,
        reason=reason, request_id=ctx.request_id, client_addr=ctx.client_addr,
    )
    entry.hash = hashing.entry_hash(entry.model_dump(), prev)
    ctx.session.add(entry)
    ctx.session.flush()  # a racing writer on the same chain fails here, not silently later
    feed.publish(ctx, entry)
    return entry


def checkpoint(ctx: Context) -> AuditCheckpoint:
    """Seal the current head of every chain (run periodically: `lims audit checkpoint`)."""
    if ctx.session.get_bind().dialect.name == "postgresql":
        # Checkpoints take turns (cron on two replicas, a manual run): each seals on top of
        # the last committed one. SQLite writers are serialised at BEGIN IMMEDIATE already.
        ctx.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('lims_checkpoint'))"))
    latest = (
        select(col(AuditEntry.chain).label("c"), func.max(AuditEntry.chain_seq).label("s"))
        .group_by(AuditEntry.chain)
        .subquery()
    )
    rows = ctx.session.execute(
        select(AuditEntry.chain, AuditEntry.chain_seq, AuditEntry.hash).join(
            latest,
            (col(AuditEntry.chain) == latest.c.c) & (col(AuditEntry.chain_seq) == latest.c.s),
        )
    )
    heads = {chain: [seq, h] for chain, seq, h in rows}
    last = ctx.session.execute(
        select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)  # type: ignore[union-attr]
    ).scalar_one_or_none()
    prev = last.hash if last else hashing.GENESIS
    cp = AuditCheckpoint(at=ctx.now, heads=heads, prev_hash=prev,
                         hash=hashing.checkpoint_hash(heads, ctx.now, prev))
    ctx.session.add(cp)
    ctx.session.flush()
    return cp


def _entries(ctx: Context) -> Iterator[dict[str, Any]]:
    q = select(AuditEntry).order_by(col(AuditEntry.chain), col(AuditEntry.chain_seq))
    for (entry,) in ctx.session.execute(q.execution_options(yield_per=2000)):
        yield entry.model_dump()


def verify(ctx: Context, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Check every chain, every checkpoint and every signature; name the first break."""
    total = ctx.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    first: hashing.Break | None = None
    hashes: dict[tuple[str, int], str] = {}
    chain_rows: list[dict[str, Any]] = []
    checked = 0

    def close(rows: list[dict[str, Any]]) -> hashing.Break | None:
        return hashing.verify_chain(rows[0]["chain"], rows) if rows else None

    for e in _entries(ctx):
        if chain_rows and e["chain"] != chain_rows[0]["chain"]:
            first = first or close(chain_rows)
            chain_rows = []
        chain_rows.append(e)
        hashes[(e["chain"], e["chain_seq"])] = e["hash"]
        checked += 1
        if progress and checked % 500 == 0:
            progress(500)
    first = first or close(chain_rows)
    if progress:
        progress(checked % 500)
    cps = ctx.session.execute(select(AuditCheckpoint).order_by(col(AuditCheckpoint.id))).scalars()
    first = first or hashing.verify_checkpoints((c.model_dump() for c in cps), hashes)
    first = first or _verify_signatures(ctx)
    return {
        "ok": first is None,
        "entries_checked": total,
        "first_break": None if first is None else {
            "entry_id": first.entry_id, "chain": first.chain, "chain_seq": first.chain_seq,
            "problem": first.problem,
        },
    }


def _verify_signatures(ctx: Context) -> hashing.Break | None:
    for sig in ctx.session.execute(select(Signature).order_by(col(Signature.signed_at))).scalars():
        entry = ctx.session.get(AuditEntry, sig.audit_entry_id)
        binding = None if entry is None else hashing.signature_binding(
            signer_id=sig.signer_id, meaning=sig.meaning, signed_at=sig.signed_at,
            entity_type=sig.entity_type, entity_id=sig.entity_id,
            record_state=entry.after or {}, audit_hash=entry.hash,
        )
        if entry is None or entry.entity_id != sig.entity_id or binding != sig.binding_hash:
            return hashing.Break(sig.audit_entry_id, f"signature:{sig.id}", None,
                                 "signature does not match the record it claims to sign")
    return None


def export(ctx: Context, fh: Any) -> int:
    """JSON Lines: every entry, then every checkpoint and signature. `python -m
    lims.domain.audit FILE` verifies such a file offline with the standard library only."""
    n = 0
    for e in _entries(ctx):
        fh.write(hashing.canonical({"kind": "entry", **e}).decode() + "\n")
        n += 1
    checkpoints = select(AuditCheckpoint).order_by(col(AuditCheckpoint.id))
    for cp in ctx.session.execute(checkpoints).scalars():
        fh.write(hashing.canonical({"kind": "checkpoint", **cp.model_dump()}).decode() + "\n")
        n += 1
    for sig in ctx.session.execute(select(Signature).order_by(col(Signature.signed_at))).scalars():
        fh.write(hashing.canonical({"kind": "signature", **sig.model_dump()}).decode() + "\n")
        n += 1
    return n
