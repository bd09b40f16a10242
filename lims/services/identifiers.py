"""Allocation of ISBT 128 donation identification numbers (DIN)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from lims.db.tables import DinSequence
from lims.domain import isbt
from lims.domain.errors import Conflict
from lims.services.context import Context


def allocate_din(ctx: Context) -> str:
    """The next DIN for this facility and year: an atomic increment of one counter row.

    The row lock taken by the UPDATE (PostgreSQL) or the write lock (SQLite) makes two
    concurrent requests get different numbers; a rolled-back request leaves a gap,
    which ISBT allows (a DIN must never be reused, not never skipped).
    """
    facility = isbt.validate_facility(ctx.settings.facility_id)
    year = ctx.now.astimezone(ctx.settings.zone).year % 100
    dialect = ctx.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    ctx.session.execute(
        insert(DinSequence).values(facility_id=facility, year=year, last_sequence=0)
        .on_conflict_do_nothing(index_elements=["facility_id", "year"])
    )
    seq = ctx.session.execute(
        update(DinSequence)
        .where(DinSequence.facility_id == facility, DinSequence.year == year)  # type: ignore[arg-type]
        .values(last_sequence=DinSequence.last_sequence + 1)
        .returning(col(DinSequence.last_sequence))
    ).scalar_one()
    if seq > 999_999:
        raise Conflict(f"All DINs for facility {facility} in 20{year:02d} are used up.")
    return isbt.format_din(facility, year, seq)
