"""Chain-of-custody rules: temperature ranges and the no-gap rule. Pure."""

from __future__ import annotations

from datetime import datetime, tzinfo

from lims.domain.clock import readable
from lims.domain.errors import Conflict

# Validated transport/holding ranges in degrees C. Fresh cord blood and marrow travel at
# controlled room temperature or cooled; frozen material must stay in LN2 vapour phase.
FRESH_RANGE: dict[str, tuple[float, float]] = {
    "cord_blood": (4.0, 25.0),
    "bone_marrow": (2.0, 25.0),
    "lipoaspirate": (2.0, 25.0),
}
DEFAULT_FRESH = (2.0, 25.0)
FROZEN = (-196.0, -150.0)


def allowed_range(kind: str, frozen: bool) -> tuple[float, float]:
    return FROZEN if frozen else FRESH_RANGE.get(kind, DEFAULT_FRESH)


def is_excursion(temperature_c: float | None, kind: str, frozen: bool) -> bool:
    if temperature_c is None:
        return False
    low, high = allowed_range(kind, frozen)
    return not low <= temperature_c <= high


def check_handover(previous_received_at: datetime | None, previous_pending: bool,
                   handed_over_at: datetime, zone: tzinfo) -> None:
    """A new hand-over starts where the previous one ended: never while the previous
    receipt is unconfirmed, never before it was received (no gap, no overlap)."""
    if previous_pending:
        raise Conflict("The previous hand-over has not been confirmed by its receiver yet: "
                       "confirm the receipt first, so the custody chain has no gap.")
    if previous_received_at and handed_over_at < previous_received_at:
        raise Conflict(
            f"This hand-over ({readable(handed_over_at, zone)}) starts before the sample "
            f"was received by its current custodian ({readable(previous_received_at, zone)}): "
            "the custody timeline would overlap. Check the time.")


# --- who or what holds a tube: one string per party, "<kind>:<who>" ------------------------
# Custody follows the events (see the effects in lims/domain/workflow.py): the collector at
# the collection site, the courier, the receiving person, the box it is frozen into, the
# technician who thaws it, the destination it is distributed to, the patient.

def person(username: str) -> str:
    return f"user:{username}"


def place(location_id: str) -> str:
    return f"location:{location_id}"


def courier(name: str) -> str:
    return f"courier:{name}"


def site(name: str) -> str:
    return f"site:{name}"


def collector(name: str) -> str:
    return f"collector:{name}"


def patient(recipient_id: str) -> str:
    return f"recipient:{recipient_id}"


def parent(code: str) -> str:
    """A tube made from another tube: its custody starts from that tube."""
    return f"tube:{code}"
