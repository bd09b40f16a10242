"""Allocation of ISBT 128 donation identification numbers (DIN)."""

from __future__ import annotations

from lims.db.identifiers import next_din_sequence
from lims.domain import isbt
from lims.domain.errors import Conflict
from lims.services.context import Context


def allocate_din(ctx: Context) -> str:
    """The next DIN for this facility and year: an atomic increment of one counter row.

    A rolled-back request leaves a gap, which ISBT allows (a DIN must never be reused,
    not never skipped).
    """
    facility = isbt.validate_facility(ctx.settings.facility_id)
    year = ctx.now.astimezone(ctx.settings.zone).year % 100
    seq = next_din_sequence(ctx.session, facility, year)
    if seq > 999_999:
        raise Conflict(f"All DINs for facility {facility} in 20{year:02d} are used up.")
    return isbt.format_din(facility, year, seq)
