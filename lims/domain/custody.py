"""Chain-of-custody rules: temperature ranges and the no-gap rule. Pure."""

from __future__ import annotations

from collections.abc import Callable
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

def _party(kind: str) -> Callable[[str], str]:
    def name(who: str) -> str:
        return f"{kind}:{who}"
    return name


person = _party("user")  # a user name
place = _party("location")  # a storage location id (a box)
courier = _party("courier")  # a courier's name or company
site = _party("site")  # a collection site or a destination outside the lab
collector = _party("collector")  # who collected (not necessarily a user of lims)
patient = _party("recipient")  # a recipient id
parent = _party("tube")  # a tube made from another tube starts from that tube's code


_READ = {"user": "{}", "collector": "{} (collector)", "courier": "{} (courier)",
         "site": "{}", "tube": "tube {}", "recipient": "the patient"}


def party_text(party: str | None, place: str | None = None) -> str:
    """A custodian as a person reads it: 'Midwife M. (collector)', 'MedExpress (courier)',
    the box's path for a storage location (given as `place` when known)."""
    if not party:
        return "nobody recorded"
    kind, _, who = party.partition(":")
    if kind == "location":
        return place or "a storage location"
    return _READ.get(kind, "{}").format(who or party)
