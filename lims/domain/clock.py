"""Times a lab record can plausibly hold. Pure: the time comes in as an argument."""

from __future__ import annotations

from datetime import datetime

from lims.domain.errors import Invalid

# Wide enough for any real record, narrow enough that converting zones or adding a
# processing window can never overflow Python's date range.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2200


def plausible(when: datetime, name: str) -> datetime:
    """Refuse times without a zone or outside the years a lab record can hold."""
    if when.tzinfo is None:
        raise Invalid(f"'{name}' must be a date and time with its zone, e.g. "
                      "2027-01-31T12:00:00+01:00.")
    if not EARLIEST_YEAR <= when.year <= LATEST_YEAR:
        raise Invalid(f"'{name}' ({when:%Y-%m-%d}) is not a plausible date: check the year.")
    return when
