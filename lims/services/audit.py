"""Appending to the audit trail, in the caller's transaction, and verifying it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from lims.db import audit as trail
from lims.db import queries
from lims.db.tables import AuditCheckpoint, AuditEntry, Sample
from lims.domain import audit as hashing
from lims.domain import permissions
from lims.domain.checks import PageSize, checked
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
    head = trail.chain_head(ctx.session, chain)
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
    trail.append(ctx.session, entry)
    feed.publish(ctx, entry)
    return entry


def checkpoint(ctx: Context) -> AuditCheckpoint:
    """Seal the current head of every chain (run periodically: `lims audit checkpoint`)."""
    trail.take_checkpoint_turn(ctx.session)
    heads = trail.chain_heads(ctx.session)
    last = trail.last_checkpoint(ctx.session)
    prev = last.hash if last else hashing.GENESIS
    cp = AuditCheckpoint(at=ctx.now, heads=heads, prev_hash=prev,
                         hash=hashing.checkpoint_hash(heads, ctx.now, prev))
    trail.append(ctx.session, cp)
    return cp


@checked
def entries_page(ctx: Context, cursor: str | None, limit: PageSize, *,
                 entity_type: str | None = None, entity_id: str | None = None,
                 actor_id: str | None = None, action: str | None = None,
                 since: datetime | None = None, until: datetime | None = None,
                 ) -> tuple[list[dict[str, Any]], str | None]:
    """Audit entries in the order they were written, each with its sentence for people."""
    permissions.require(ctx.actor.roles, "read_audit")
    # Audit ids are integers: the cursor is the last one seen, as it is.
    rows, nxt = queries.audit_page(ctx.session, queries.encode_cursor(cursor) if cursor else None,
                                   limit, entity_type=entity_type, entity_id=entity_id,
                                   actor_id=actor_id, action=action, since=since, until=until)
    return [_readable(e, ctx) for e in rows], queries.decode_cursor(nxt) if nxt else None


def sample_history(ctx: Context, sample_id: str) -> list[dict[str, Any]]:
    """Everything that happened to one sample, oldest first, as sentences."""
    queries.get(ctx.session, Sample, sample_id)
    return [{"at": e.at, "action": e.action, "actor": e.actor_name,
             "text": hashing.describe(e.model_dump(), ctx.settings.zone)}
            for e in queries.sample_timeline(ctx.session, sample_id)]


def _readable(e: AuditEntry, ctx: Context) -> dict[str, Any]:
    d = e.model_dump()
    d["text"] = hashing.describe(d, ctx.settings.zone)
    return d


def verify(ctx: Context, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Check every chain, every checkpoint and every signature; name the first break."""
    permissions.require(ctx.actor.roles, "verify_audit")
    total = trail.count_entries(ctx.session)
    first: hashing.Break | None = None
    hashes: dict[tuple[str, int], str] = {}
    chain_rows: list[dict[str, Any]] = []
    checked = 0

    def close(rows: list[dict[str, Any]]) -> hashing.Break | None:
        return hashing.verify_chain(rows[0]["chain"], rows) if rows else None

    for e in trail.entries(ctx.session):
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
    cps = trail.checkpoints(ctx.session)
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
    for sig in trail.signatures(ctx.session):
        entry = trail.entry(ctx.session, sig.audit_entry_id)
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
    for e in trail.entries(ctx.session):
        fh.write(hashing.canonical({"kind": "entry", **e}).decode() + "\n")
        n += 1
    for cp in trail.checkpoints(ctx.session):
        fh.write(hashing.canonical({"kind": "checkpoint", **cp.model_dump()}).decode() + "\n")
        n += 1
    for sig in trail.signatures(ctx.session):
        fh.write(hashing.canonical({"kind": "signature", **sig.model_dump()}).decode() + "\n")
        n += 1
    return n
