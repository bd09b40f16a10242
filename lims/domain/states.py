"""The words of the sample lifecycle: states, roles, uses, and when a sample is overdue.

Kept apart from the transition table so that the guards and the event declarations can
use them without importing the table itself.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from lims.domain.errors import Invalid


class State(StrEnum):
    registered = "registered"
    collected = "collected"
    in_transit = "in_transit"
    received = "received"
    rejected = "rejected"
    in_processing = "in_processing"
    processed = "processed"
    in_culture = "in_culture"
    cryopreserved = "cryopreserved"
    thawed = "thawed"
    released = "released"
    distributed = "distributed"
    administered = "administered"
    discarded = "discarded"
    consumed = "consumed"


FINAL_STATES = frozenset({State.administered, State.discarded, State.consumed})
NON_FINAL = frozenset(State) - FINAL_STATES
# Material physically in the lab that can be split into aliquots or derived products.
DERIVABLE_STATES = frozenset(
    {State.received, State.in_processing, State.processed, State.in_culture, State.thawed}
)
# Before processing starts, the processing window runs: these samples can be overdue.
AWAITING_PROCESSING = frozenset(
    {State.registered, State.collected, State.in_transit, State.received}
)


class Role(StrEnum):
    technician = "technician"
    coordinator = "coordinator"
    qa = "qa"
    admin = "admin"
    integration = "integration"


class Use(StrEnum):
    """What material is used for; consent scopes name the same uses plus banking."""

    clinical = "clinical"
    research = "research"
    banking = "banking"


# What a product may be distributed for: banking is a consent scope, not a destination.
DISTRIBUTION_USES = (Use.clinical, Use.research)


class Meaning(StrEnum):
    """What an electronic signature means (21 CFR 11.50: part of the signed record)."""

    performed = "performed"
    reviewed = "reviewed"
    approved = "approved"
    released = "released"


def check_meaning(what: str, meaning: str | None, allowed: frozenset[Meaning]) -> None:
    """The one check of what a signature may mean for a step (a release is signed as
    'released', a QC approval as 'approved', a discard as performed/reviewed/approved)."""
    if meaning not in allowed:
        raise Invalid(f"A signature on {what} means {' or '.join(sorted(allowed))}, "
                      f"not '{meaning}'.")


def is_overdue(state: str, processing_due_at: datetime | None, now: datetime) -> bool:
    """Past the processing window of the collection, and processing has not begun yet.
    The one definition: the card, the list filter, the guards and the dashboard use it."""
    return bool(processing_due_at and now > processing_due_at
                and state in AWAITING_PROCESSING)
