"""Stored answers of requests sent with an Idempotency-Key."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from lims.db.tables import IdempotencyRecord


def find(session: Session, actor_id: str, key: str) -> IdempotencyRecord | None:
    q = select(IdempotencyRecord).where(IdempotencyRecord.actor_id == actor_id,
                                        IdempotencyRecord.key == key)
    return session.execute(q).scalar_one_or_none()


def claim(session: Session, record: IdempotencyRecord) -> bool:
    """Insert the key row; False when another request holds the key already. A concurrent
    duplicate waits on the unique index (PostgreSQL) or the write lock (SQLite)."""
    savepoint = session.begin_nested()
    try:
        session.add(record)
        session.flush()
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()
        return False
    return True
