"""Times a lab record can plausibly hold, and times as people read them. Pure: the time
and the zone come in as arguments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from lims.domain.errors import Invalid

# Wide enough for any real record, narrow enough that converting zones or adding a
# processing window can never overflow Python's date range.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2200
# The same years as a pattern over ISO 8601 text, for the API's document.
YEAR_PATTERN = r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-"


def plausible(when: datetime, name: str) -> datetime:
    """Refuse times without a zone or outside the years a lab record can hold."""
    if when.tzinfo is None:
        raise Invalid(f"'{name}' must be a date and time with its zone, e.g. "
                      "2027-01-31T12:00:00+01:00.")
    if not EARLIEST_YEAR <= when.year <= LATEST_YEAR:
        raise Invalid(f"'{name}' ({when:%Y-%m-%d}) is not a plausible date: check the year.")
    return when


def readable(when: datetime, zone: tzinfo) -> str:
    """The time as a person in the lab reads it: '2026-12-01 19:20 CET'.

    Converted to ``zone``; seconds and microseconds dropped (a clock is read, not rounded);
    the zone named by its abbreviation, so the two 02:30 of a DST change night differ.
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("a readable time needs a datetime with its zone")
    local = when.astimezone(zone)
    name = local.tzname() or ""
    if not name or name[0] in "+-":  # zones without an abbreviation: say the offset
        name = "UTC" + (name if name not in ("+00", "-00") else "")
    return f"{local:%Y-%m-%d %H:%M} {name}"


def hours(span: timedelta) -> str:
    """A duration in the unit processing windows use: '52 h', '4 h 30 min', '45 min'.

    Never days: a 48 h window is compared with '52 h', not with '2 d 4 h'.
    """
    sign = "-" if span < timedelta(0) else ""
    minutes = int(abs(span).total_seconds() // 60)
    h, m = divmod(minutes, 60)
    if not h:
        return f"{sign}{m} min"
    return f"{sign}{h} h" + (f" {m} min" if m else "")


def elapsed(start: datetime, end: datetime) -> timedelta:
    """Real time between two aware datetimes, also across a DST change.

    (Python subtracts two times of the same ZoneInfo by wall clock: 20:00 CEST to 23:00 CET
    two days later would read 51 h instead of the 52 h that passed.)
    """
    return end.astimezone(UTC) - start.astimezone(UTC)
