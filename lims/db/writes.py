"""Small write helpers shared by the contract (idempotency) and the bulk exchange."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel


def insert_unless_duplicate(session: Session, row: SQLModel) -> bool:
    """Insert `row` in a savepoint; False (and nothing inserted) if a unique key clashes."""
    savepoint = session.begin_nested()
    try:
        session.add(row)
        session.flush()
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()
        return False
    return True


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """Run a block in a savepoint: if it raises, only the block's writes are undone."""
    point = session.begin_nested()
    try:
        yield
    except BaseException:
        point.rollback()
        raise
    point.commit()
