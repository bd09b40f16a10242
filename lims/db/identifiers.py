"""The DIN counter: one row per facility and year, incremented atomically."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from lims.db.tables import DinSequence


def next_din_sequence(session: Session, facility: str, year: int) -> int:
    """The next sequence number. The row lock taken by the UPDATE (PostgreSQL) or the write
    lock (SQLite) makes two concurrent requests get different numbers."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(DinSequence).values(facility_id=facility, year=year, last_sequence=0)
        .on_conflict_do_nothing(index_elements=["facility_id", "year"])
    )
    return session.execute(
        update(DinSequence)
        .where(col(DinSequence.facility_id) == facility, col(DinSequence.year) == year)
        .values(last_sequence=DinSequence.last_sequence + 1)
        .returning(col(DinSequence.last_sequence))
    ).scalar_one()
