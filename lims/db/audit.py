"""The audit trail's reads and writes: chain heads, checkpoints, signatures, streaming."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from lims.db.tables import AuditCheckpoint, AuditEntry, Signature


def chain_head(session: Session, chain: str) -> tuple[int, str] | None:
    """(sequence, hash) of the newest entry of a chain, or None for a new chain."""
    head = session.execute(
        select(AuditEntry.chain_seq, AuditEntry.hash)
        .where(AuditEntry.chain == chain)
        .order_by(col(AuditEntry.chain_seq).desc())
        .limit(1)
    ).first()
    return (head[0], head[1]) if head else None


def append(session: Session, entry: AuditEntry | AuditCheckpoint) -> None:
    session.add(entry)
    session.flush()  # a racing writer on the same chain fails here, not silently later


def take_checkpoint_turn(session: Session) -> None:
    """Checkpoints take turns (cron on two replicas, a manual run): each seals on top of
    the last committed one. SQLite writers are serialised at BEGIN IMMEDIATE already."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('lims_checkpoint'))"))


def chain_heads(session: Session) -> dict[str, list[Any]]:
    """Every chain's newest (sequence, hash)."""
    latest = (
        select(col(AuditEntry.chain).label("c"), func.max(AuditEntry.chain_seq).label("s"))
        .group_by(AuditEntry.chain)
        .subquery()
    )
    rows = session.execute(
        select(AuditEntry.chain, AuditEntry.chain_seq, AuditEntry.hash).join(
            latest,
            (col(AuditEntry.chain) == latest.c.c) & (col(AuditEntry.chain_seq) == latest.c.s),
        )
    )
    return {chain: [seq, h] for chain, seq, h in rows}


def last_checkpoint(session: Session) -> AuditCheckpoint | None:
    q = select(AuditCheckpoint).order_by(col(AuditCheckpoint.id).desc()).limit(1)
    return session.execute(q).scalar_one_or_none()


def count_entries(session: Session) -> int:
    return session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()


def entries(session: Session) -> Iterator[dict[str, Any]]:
    """Every entry, chain by chain, oldest first, streamed in batches. Plain rows, not
    ORM objects: a verification reads millions of entries and changes none."""
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    q = select(*table.columns).order_by(table.c.chain, table.c.chain_seq)
    for batch in session.execute(q.execution_options(yield_per=5000)).mappings().partitions():
        yield from map(dict, batch)


def checkpoints(session: Session) -> Iterator[AuditCheckpoint]:
    yield from session.execute(select(AuditCheckpoint).order_by(col(AuditCheckpoint.id))).scalars()


def signatures(session: Session) -> Iterator[Signature]:
    yield from session.execute(select(Signature).order_by(col(Signature.signed_at))).scalars()


def entry(session: Session, entry_id: int) -> AuditEntry | None:
    return session.get(AuditEntry, entry_id)
