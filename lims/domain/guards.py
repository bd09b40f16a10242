"""The guards of the workflow: pure rules over facts the service gathered beforehand.

A guard returns None when its rule is met and a sentence a technician can act on when it
is not; the workflow collects every failing sentence into one refusal. A guard raises
instead when the request itself names something wrong (a box that is not a box).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from lims.domain.clock import elapsed, hours, readable
from lims.domain.errors import GuardFailed, Invalid
from lims.domain.states import State, Use, is_overdue


@dataclass(frozen=True)
class StorageFacts:
    """The box a freezing names, and who holds the position asked for."""

    path: str
    kind: str
    rows: int | None
    cols: int | None
    position: int
    holder_code: str | None = None  # the sample already at that position, if any


@dataclass(frozen=True)
class BedsideFacts:
    """The bedside check an administration names (POST /administrations/verify)."""

    sample_id: str
    match: bool
    reasons: tuple[str, ...]
    user_id: str
    at: datetime
    used: bool


@dataclass(frozen=True)
class SampleFacts:
    """Everything the guards may look at, gathered by the service before deciding."""

    state: State
    on_hold: bool = False
    sample_id: str = ""
    kind: str | None = None
    source: str | None = None
    donor_code: str = ""
    donor_type: str | None = None
    donor_eligibility: str = "pending"
    consent_scopes: frozenset[str] = frozenset()  # scopes of active (not withdrawn) consents
    qc_results: tuple[str, ...] = ()  # "pass" | "fail" | "pending", one per QC test
    open_excursions: int = 0  # temperature excursions QA has not reviewed
    processing_due_at: datetime | None = None
    passage: int | None = None
    expires_at: datetime | None = None
    processed_by: frozenset[str] = frozenset()  # user ids who performed processing steps
    has_storage_position: bool = False
    storage: StorageFacts | None = None
    ever_thawed: bool = False  # thawed at any time: never refrozen, whatever came between
    own_recipient_id: str | None = None  # an autologous donor registered as a patient
    recipient_id: str | None = None  # the patient the product was distributed to
    bedside: BedsideFacts | None = None
    bedside_window: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class Request:
    """Who asks for which event, when, why and with what data."""

    event: str
    actor_id: str
    roles: frozenset[str]
    now: datetime
    actor_username: str = ""  # custody passes to people by user name
    reason: str | None = None
    intended_use: str | None = None
    signed: bool = False
    signature_meaning: str | None = None
    internal: bool = False  # raised by the system itself (derivation), not by a person
    data: Mapping[str, Any] = field(default_factory=dict)
    zone: tzinfo = UTC  # the lab's (LIMS_TIMEZONE): times in messages read on its clocks


Guard = Callable[[SampleFacts, Request], str | None]


def donor_eligible(f: SampleFacts, r: Request) -> str | None:
    if f.donor_eligibility != "eligible":
        return (
            f"the donor eligibility determination is '{f.donor_eligibility}', not 'eligible' "
            "(21 CFR 1271.60: material stays in quarantine until the donor is eligible)"
        )
    return None


def consent_for_use(f: SampleFacts, r: Request) -> str | None:
    use = r.intended_use or Use.clinical
    if use not in f.consent_scopes:
        have = ", ".join(sorted(f.consent_scopes)) or "none"
        return f"the donor has no active consent for {use} use (active consents: {have})"
    return None


def qc_passed(f: SampleFacts, r: Request) -> str | None:
    if not f.qc_results:
        return "no QC result is recorded for this sample"
    if "fail" in f.qc_results:
        return "a QC test failed"
    if "pending" in f.qc_results:
        return "a QC test is still pending"
    return None


def no_open_excursion(f: SampleFacts, r: Request) -> str | None:
    if f.open_excursions:
        return f"{f.open_excursions} temperature excursion(s) await QA review"
    return None


def not_own_processing(f: SampleFacts, r: Request) -> str | None:
    # Two-person rule: whoever processed the product may not also release it.
    if r.actor_id in f.processed_by:
        return "you processed this product; release needs a second person from QA"
    return None


def late(f: SampleFacts, now: datetime) -> bool:
    return is_overdue(f.state, f.processing_due_at, now)


def within_window_or_deviation(f: SampleFacts, r: Request) -> str | None:
    due = f.processing_due_at
    if due is None or not late(f, r.now) or (r.reason and r.reason.strip()):
        return None
    return (f"the processing window closed at {readable(due, r.zone)}, "
            f"{hours(elapsed(due, r.now))} ago; give a deviation reason to proceed")


def never_thawed(f: SampleFacts, r: Request) -> str | None:
    if f.ever_thawed:
        return "this sample was thawed before, and thawed material is never refrozen"
    return None


def has_storage_position(f: SampleFacts, r: Request) -> str | None:
    if not f.has_storage_position:
        return "choose a storage position (box and position) for the frozen sample"
    box = f.storage
    if box is None:
        return None
    if box.kind != "box" or not box.rows or not box.cols:
        raise Invalid(f"{box.path} is not a box with positions.")
    if not 1 <= box.position <= box.rows * box.cols:
        raise Invalid(f"Position must be a number from 1 to {box.rows * box.cols} "
                      f"in {box.path}.")
    if box.holder_code is not None:
        return f"{box.path}, position {box.position} already holds sample {box.holder_code}"
    return None


def not_expired(f: SampleFacts, r: Request) -> str | None:
    if f.expires_at is not None and f.expires_at <= r.now:
        return "the product has expired"
    return None


def autologous_recipient(f: SampleFacts, r: Request) -> str | None:
    """An autologous product goes to its own donor-patient and to nobody else; a clinical
    distribution of any other product names its recipient."""
    wanted = r.data.get("recipient_id")
    if f.donor_type == "autologous":
        if f.own_recipient_id is None:
            raise Invalid(f"Register patient {f.donor_code} as a recipient (with the "
                          "wristband) before distributing an autologous product.")
        if wanted and wanted != f.own_recipient_id:
            raise GuardFailed("An autologous product can only go to its own donor, "
                              f"{f.donor_code}: refused.",
                              blocked_by=["autologous_other_patient"])
    elif not wanted and r.intended_use == Use.clinical:
        raise Invalid("A clinical distribution names its recipient ('recipient_id').")
    return None


def bedside_match(f: SampleFacts, r: Request) -> str | None:
    """An administration needs a matching bedside check of this product, made by the same
    person moments before and not used yet. There is no override."""
    check = f.bedside
    if check is None:
        raise GuardFailed("Scan the patient's wristband and the product at the bedside "
                          "first (POST /administrations/verify) and give its check_id.",
                          blocked_by=["bedside_check_missing"])
    problems = []
    if check.sample_id != f.sample_id:
        problems.append("the bedside check was made for another product")
    if not check.match:
        problems.append("the bedside check did not match: " + "; ".join(check.reasons))
    if check.user_id != r.actor_id:
        problems.append("the bedside check was made by someone else")
    if r.now - check.at > f.bedside_window:
        problems.append(f"the bedside check is older than "
                        f"{f.bedside_window.seconds // 60} minutes")
    if check.used:
        problems.append("this bedside check was already used")
    if f.expires_at and f.expires_at <= r.now:
        problems.append("the product expired after the bedside check")
    return "; ".join(problems) or None


GUARDS: dict[str, Guard] = {
    "donor_eligible": donor_eligible,
    "consent_for_use": consent_for_use,
    "qc_passed": qc_passed,
    "no_open_excursion": no_open_excursion,
    "not_own_processing": not_own_processing,
    "within_window_or_deviation": within_window_or_deviation,
    "has_storage_position": has_storage_position,
    "never_thawed": never_thawed,
    "not_expired": not_expired,
    "autologous_recipient": autologous_recipient,
    "bedside_match": bedside_match,
}
