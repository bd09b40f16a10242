"""Who may do what, outside the sample workflow (whose roles are in workflow.TRANSITIONS).

One table, checked by the services, so a page handler, the API and the CLI all get the
same answer (21 CFR 11.10(g): authority checks).
"""

from __future__ import annotations

from collections.abc import Iterable

from lims.domain.errors import NotPermitted
from lims.domain.workflow import Role

T, C, QA, A, INT = Role.technician, Role.coordinator, Role.qa, Role.admin, Role.integration

ACTIONS: dict[str, frozenset[Role]] = {
    # Donors and consent come from the clinic: coordinators, or the hospital's system.
    "register_donor": frozenset({C, INT}),
    "determine_eligibility": frozenset({QA, C}),
    "record_consent": frozenset({C, INT}),
    # A withdrawal is often recorded at the clinic first and mirrored by its system.
    "withdraw_consent": frozenset({C, QA, INT}),
    "record_collection": frozenset({T, C, INT}),
    "derive": frozenset({T}),
    "record_qc": frozenset({T, QA}),
    "approve_qc": frozenset({QA}),
    "manage_locations": frozenset({C, A}),
    "hand_over": frozenset({T, C, QA}),
    "review_excursion": frozenset({QA}),
    "print_label": frozenset({T, C, QA}),
    "scan": frozenset({T, C, QA}),
    "register_recipient": frozenset({C}),
    "bedside_check": frozenset({T, C}),
    "read_audit": frozenset({QA, C, A}),
    "verify_audit": frozenset({QA, A}),
    "manage_users": frozenset({A}),
    # The event feed carries every change: for connected systems and the people who
    # oversee the lab; webhooks are set up by a connected system itself or an admin.
    "follow_events": frozenset({INT, C, QA, A}),
    "manage_webhooks": frozenset({INT, A}),
}

WHAT = {
    "register_donor": "register donors", "determine_eligibility": "record the eligibility "
    "determination", "record_consent": "record consent", "withdraw_consent": "record a "
    "consent withdrawal", "record_collection": "record collections", "derive": "take aliquots "
    "or derived samples", "record_qc": "record QC results", "approve_qc": "approve QC "
    "results", "manage_locations": "set up storage locations", "hand_over": "hand samples "
    "over", "review_excursion": "review temperature excursions", "print_label": "print "
    "labels", "scan": "use the bench scanner", "register_recipient": "register recipients",
    "bedside_check": "make the bedside check", "read_audit": "read the audit trail",
    "verify_audit": "verify the audit trail", "manage_users": "manage users and API keys",
    "follow_events": "follow the event feed", "manage_webhooks": "manage webhooks",
}


def allowed(roles: Iterable[str], action: str) -> bool:
    return bool(ACTIONS[action] & set(roles))


def require(roles: Iterable[str], action: str) -> None:
    """Raise NotPermitted naming the roles that may, in words a person understands."""
    roles = set(roles)
    if not ACTIONS[action] & roles:
        who = " or ".join(sorted(ACTIONS[action]))
        raise NotPermitted(f"To {WHAT[action]} you need the role {who}; you have "
                           f"{', '.join(sorted(roles)) or 'no role'}.")
