"""The tables. Created and changed only by Alembic migrations (migrations/).

Conventions decided on day one: ids are UUIDv7 strings (36 chars); enums are stored as
short strings checked by the domain; every timestamp is aware UTC; constraint names
follow `NAMING` so migrations can refer to them on both databases.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from lims.db.types import UTCDateTime, new_id, utcnow
from lims.domain import sources, vocabulary
from lims.domain.workflow import State

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING

ID = 36


def one_of(column: str, values: Iterable[str]) -> CheckConstraint:
    """CHECK that a string-enum column holds one of the domain's words (ck_<table>_<column>)."""
    words = ", ".join(f"'{v}'" for v in sorted(values))
    return CheckConstraint(f"{column} IN ({words})", name=column)


def _id() -> Any:
    return Field(default_factory=new_id, primary_key=True, max_length=ID)


def _when(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


def _now() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime)


def _json(**kw: Any) -> Any:
    return Field(sa_type=JSON, **kw)


class Donor(SQLModel, table=True):
    __table_args__ = (one_of("donor_type", vocabulary.DONOR_TYPES),
                      one_of("eligibility", vocabulary.ELIGIBILITY),
                      one_of("abo_rh", vocabulary.ABO_RH))

    id: str = _id()
    code: str = Field(max_length=40, unique=True)  # pseudonymous, e.g. CB-2026-0412
    donor_type: str = Field(max_length=20)  # autologous | allogeneic
    related: bool = False  # allogeneic related (family) donor
    eligibility: str = Field(default="pending", max_length=20)
    eligibility_note: str | None = Field(default=None, max_length=500)
    abo_rh: str | None = Field(default=None, max_length=8)  # where typed, e.g. "A Neg"
    created_at: datetime = _now()
    updated_at: datetime = _now()
    version: int = 1


class Consent(SQLModel, table=True):
    id: str = _id()
    donor_id: str = Field(foreign_key="donor.id", max_length=ID, index=True)
    form_version: str = Field(max_length=40)
    scopes: list[str] = _json(default_factory=list)
    withdrawn_scopes: list[str] = _json(default_factory=list)
    obtained_at: datetime = _when()
    obtained_by: str = Field(max_length=120)
    withdrawn_at: datetime | None = _when(default=None)
    withdrawal_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = _now()


class Collection(SQLModel, table=True):
    __table_args__ = (
        one_of("source", sources.Source),
        # A caller's own reference is unique per account, not across all callers.
        UniqueConstraint("created_by", "external_ref",
                         name="uq_collection_created_by_external_ref"),
    )

    id: str = _id()
    din: str = Field(max_length=13, unique=True)  # ISBT 128 donation identification number
    donor_id: str = Field(foreign_key="donor.id", max_length=ID, index=True)
    source: str = Field(max_length=20)
    site: str = Field(max_length=120)
    started_at: datetime = _when()
    ended_at: datetime = _when()
    local_timezone: str = Field(max_length=60)  # where it happened, for readable times
    volume_ml: float
    anticoagulant: str = Field(max_length=60)
    collector: str = Field(max_length=120)
    external_ref: str | None = Field(default=None, max_length=80)
    created_by: str = Field(max_length=ID)
    created_at: datetime = _now()


class Recipient(SQLModel, table=True):
    """A patient who receives products. An autologous patient is also a donor (donor_id)."""

    id: str = _id()
    code: str = Field(max_length=40, unique=True)  # pseudonymous
    wristband_id: str = Field(max_length=60, unique=True)  # as printed on the wristband
    donor_id: str | None = Field(default=None, foreign_key="donor.id", max_length=ID,
                                 unique=True)
    created_at: datetime = _now()


class BedsideCheck(SQLModel, table=True):
    """One scan of wristband + product at the bedside, matching or not (never deleted)."""

    __tablename__ = "bedside_check"

    id: str = _id()
    user_id: str = Field(max_length=ID, index=True)
    sample_id: str | None = Field(default=None, foreign_key="sample.id", max_length=ID,
                                  index=True)
    wristband_scanned: str = Field(max_length=200)
    product_scanned: str = Field(max_length=200)
    site: str | None = Field(default=None, max_length=120)
    match: bool
    reasons: list[str] = _json(default_factory=list)
    at: datetime = _now()
    used_at: datetime | None = _when(default=None)  # the administration it allowed


class Location(SQLModel, table=True):
    """Site -> storage unit (freezer, LN2 dewar) -> rack -> box; boxes have positions."""

    __table_args__ = (one_of("kind", vocabulary.LOCATION_PARENT),)

    id: str = _id()
    parent_id: str | None = Field(default=None, foreign_key="location.id", max_length=ID)
    kind: str = Field(max_length=20)  # site | storage_unit | rack | box
    name: str = Field(max_length=80)
    path: str = Field(max_length=400, unique=True)  # "Lab 1 / Dewar 2 / Rack C / Box 7"
    rows: int | None = None  # box grid; capacity = rows * cols
    cols: int | None = None
    min_temp_c: float | None = None
    max_temp_c: float | None = None
    created_at: datetime = _now()


class Sample(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("location_id", "position", name="uq_sample_location_position"),
        UniqueConstraint("collection_id", "product_code", "division",
                         name="uq_sample_collection_product_division"),
        Index("ix_sample_state_due", "state", "processing_due_at"),
        UniqueConstraint("created_by", "external_ref", name="uq_sample_created_by_external_ref"),
        # Lists filter on these and page by id (migration 0010).
        Index("ix_sample_state_id", "state", "id"),
        Index("ix_sample_source_id", "source", "id"),
        Index("ix_sample_kind_id", "kind", "id"),
        # The dashboard's lists read the first rows in these orders (migration 0012).
        Index("ix_sample_processing_due_at", "processing_due_at"),
        Index("ix_sample_expires_at", "expires_at"),
        Index("ix_sample_on_hold_updated_at", "on_hold", "updated_at"),
        one_of("state", State),
        one_of("source", sources.Source),
        one_of("kind", sources.KINDS),
    )

    id: str = _id()
    code: str = Field(max_length=40, unique=True)  # DIN + product code + division
    collection_id: str = Field(foreign_key="collection.id", max_length=ID, index=True)
    donor_id: str = Field(foreign_key="donor.id", max_length=ID, index=True)
    parent_id: str | None = Field(
        default=None, foreign_key="sample.id", max_length=ID, index=True
    )
    source: str = Field(max_length=20)  # copied from the collection for filters
    kind: str = Field(max_length=30)
    product_code: str = Field(max_length=5)
    division: str = Field(default="00", max_length=2)
    state: str = Field(max_length=20)
    on_hold: bool = False
    hold_reason: str | None = Field(default=None, max_length=500)
    volume_ml: float  # what is left in the container
    initial_volume_ml: float
    cell_count: float | None = None
    viability_pct: float | None = None
    passage: int | None = None
    location_id: str | None = Field(default=None, foreign_key="location.id", max_length=ID)
    position: int | None = None
    custodian: str | None = Field(default=None, max_length=200)
    # Chain of identity to the patient: set when the product is distributed.
    recipient_id: str | None = Field(default=None, foreign_key="recipient.id", max_length=ID,
                                     index=True)
    intended_use: str | None = Field(default=None, max_length=20)
    distributed_to: str | None = Field(default=None, max_length=120)
    processing_due_at: datetime | None = _when(default=None)
    expires_at: datetime | None = _when(default=None)
    external_ref: str | None = Field(default=None, max_length=80)  # the caller's own id
    created_by: str | None = Field(default=None, max_length=ID)
    version: int = 1
    created_at: datetime = _now()
    updated_at: datetime = _now()


class SampleTransition(SQLModel, table=True):
    """The state log: one row per applied event (django-fsm-log style)."""

    __tablename__ = "sample_transition"

    id: str = _id()
    sample_id: str = Field(foreign_key="sample.id", max_length=ID, index=True)
    event: str = Field(max_length=30)
    from_state: str = Field(max_length=20)
    to_state: str = Field(max_length=20)
    actor_id: str = Field(max_length=ID)
    actor_name: str = Field(max_length=120)
    reason: str | None = Field(default=None, max_length=1000)
    deviation: bool = False
    data: dict[str, Any] = _json(default_factory=dict)
    at: datetime = _now()
    request_id: str | None = Field(default=None, max_length=64)
    signature_id: str | None = Field(default=None, foreign_key="signature.id", max_length=ID)


class ProcessingStep(SQLModel, table=True):
    __tablename__ = "processing_step"
    id: str = _id()
    sample_id: str = Field(foreign_key="sample.id", max_length=ID, index=True)
    method: str = Field(max_length=40)
    parameters: dict[str, Any] = _json(default_factory=dict)
    operator_id: str = Field(max_length=ID)
    started_at: datetime = _when()
    ended_at: datetime | None = _when(default=None)
    results: dict[str, Any] = _json(default_factory=dict)
    deviation_reason: str | None = Field(default=None, max_length=1000)


class QcResult(SQLModel, table=True):
    __tablename__ = "qc_result"
    __table_args__ = (one_of("result", vocabulary.QC_RESULTS),)

    id: str = _id()
    sample_id: str = Field(foreign_key="sample.id", max_length=ID, index=True)
    test: str = Field(max_length=40)  # cell_count | viability | cd34 | sterility | ...
    value: float | None = None
    unit: str | None = Field(default=None, max_length=20)
    specification: str | None = Field(default=None, max_length=80)
    result: str = Field(max_length=10)  # pass | fail | pending
    recorded_by: str = Field(max_length=ID)
    recorded_at: datetime = _now()


class DinSequence(SQLModel, table=True):
    """Last DIN sequence number per facility and year (allocation is an UPDATE ... +1)."""

    __tablename__ = "din_sequence"

    facility_id: str = Field(primary_key=True, max_length=5)
    year: int = Field(primary_key=True)
    last_sequence: int = Field(default=0, sa_column_kwargs={"nullable": False})


class AppUser(SQLModel, table=True):
    __tablename__ = "app_user"

    id: str = _id()
    username: str = Field(max_length=60, unique=True)
    full_name: str = Field(max_length=120)
    roles: list[str] = _json(default_factory=list)
    password_hash: str | None = Field(default=None, max_length=200)  # None: service account
    active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = _when(default=None)
    version: int = 1
    created_at: datetime = _now()


class AuthToken(SQLModel, table=True):
    """Bearer tokens for people: only the SHA-256 of the token is stored."""

    __tablename__ = "auth_token"

    id: str = _id()
    user_id: str = Field(foreign_key="app_user.id", max_length=ID, index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _now()
    expires_at: datetime = _when()
    revoked_at: datetime | None = _when(default=None)


class ApiKey(SQLModel, table=True):
    """Keys for service accounts: shown once, stored as a hash, scoped and revocable."""

    __tablename__ = "api_key"

    id: str = _id()
    user_id: str = Field(foreign_key="app_user.id", max_length=ID, index=True)
    name: str = Field(max_length=80)
    prefix: str = Field(max_length=12, unique=True)
    key_hash: str = Field(max_length=64)
    scopes: list[str] = _json(default_factory=list)
    created_at: datetime = _now()
    revoked_at: datetime | None = _when(default=None)
    last_used_at: datetime | None = _when(default=None)


class AuditEntry(SQLModel, table=True):
    """Append-only and hash-chained per entity (see lims/domain/audit.py).

    One chain per entity lets unrelated samples be written concurrently; the unique
    (chain, chain_seq) pair makes two writers racing on one chain fail instead of fork.
    Triggers created by the migration refuse UPDATE and DELETE.
    """

    __tablename__ = "audit_entry"

    __table_args__ = (UniqueConstraint("chain", "chain_seq", name="uq_audit_entry_chain_seq"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True,
                                                           autoincrement=True))
    chain: str = Field(max_length=80)
    chain_seq: int
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    at: datetime = _when(index=True)
    actor_id: str | None = Field(default=None, max_length=ID, index=True)
    actor_name: str = Field(max_length=120)
    action: str = Field(max_length=40, index=True)
    entity_type: str = Field(max_length=30)
    entity_id: str = Field(max_length=80)
    before: dict[str, Any] | None = _json(default=None)
    after: dict[str, Any] | None = _json(default=None)
    reason: str | None = Field(default=None, max_length=1000)
    request_id: str | None = Field(default=None, max_length=64)
    client_addr: str | None = Field(default=None, max_length=64)


Index("ix_audit_entry_entity", AuditEntry.entity_type, AuditEntry.entity_id)


class AuditCheckpoint(SQLModel, table=True):
    """A seal over every chain head at one moment, itself chained to the previous seal."""

    __tablename__ = "audit_checkpoint"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True,
                                                           autoincrement=True))
    at: datetime = _now()
    heads: dict[str, Any] = _json(default_factory=dict)  # chain -> [chain_seq, hash]
    # Unique: two checkpoints sealed at once can never both claim the same predecessor.
    prev_hash: str = Field(max_length=64, index=True, unique=True)
    hash: str = Field(max_length=64)


class Signature(SQLModel, table=True):
    """A Part 11 electronic signature bound to one record state and one audit entry."""

    id: str = _id()
    signer_id: str = Field(max_length=ID, index=True)
    signer_name: str = Field(max_length=120)
    meaning: str = Field(max_length=20)  # performed | reviewed | approved | released
    signed_at: datetime = _when()
    entity_type: str = Field(max_length=30)
    entity_id: str = Field(max_length=80, index=True)
    audit_entry_id: int = Field(foreign_key="audit_entry.id")
    binding_hash: str = Field(max_length=64)


class CustodyTransfer(SQLModel, table=True):
    """A hand-over of a container; the next one must start where this one ended."""

    __tablename__ = "custody_transfer"

    __table_args__ = (UniqueConstraint("sample_id", "seq", name="uq_custody_transfer_sample_seq"),)

    id: str = _id()
    sample_id: str = Field(foreign_key="sample.id", max_length=ID, index=True)
    seq: int
    from_party: str = Field(max_length=200)
    to_party: str = Field(max_length=200)  # "user:<id>" or "location:<id>"
    handed_over_at: datetime = _when()
    handed_over_by: str = Field(max_length=ID)
    temperature_c: float | None = None
    shipper: str | None = Field(default=None, max_length=120)
    condition: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=1000)
    received_at: datetime | None = _when(default=None)
    received_by: str | None = Field(default=None, max_length=ID)


class Excursion(SQLModel, table=True):
    """A temperature outside the range for the sample kind; blocks release until reviewed."""

    id: str = _id()
    sample_id: str = Field(foreign_key="sample.id", max_length=ID, index=True)
    custody_transfer_id: str | None = Field(
        default=None, foreign_key="custody_transfer.id", max_length=ID
    )
    temperature_c: float
    allowed_min_c: float
    allowed_max_c: float
    detected_at: datetime = _now()
    reviewed_by: str | None = Field(default=None, max_length=ID)
    reviewed_at: datetime | None = _when(default=None)
    assessment: str | None = Field(default=None, max_length=2000)


class LabelPrint(SQLModel, table=True):
    __tablename__ = "label_print"
    id: str = _id()
    sample_id: str = Field(foreign_key="sample.id", max_length=ID, index=True)
    template: str = Field(max_length=40)
    format: str = Field(max_length=10)
    content_hash: str = Field(max_length=64)
    reprint: bool = False
    reason: str | None = Field(default=None, max_length=500)
    printed_by: str = Field(max_length=ID)
    printed_at: datetime = _now()


class Scan(SQLModel, table=True):
    """'Seen at station': every scan, resolved or not."""

    id: str = _id()
    station: str = Field(max_length=60)
    payload: str = Field(max_length=200)
    sample_id: str | None = Field(default=None, max_length=ID, index=True)
    user_id: str = Field(max_length=ID)
    at: datetime = _now()


class IdempotencyRecord(SQLModel, table=True):
    """The stored answer to a POST with an Idempotency-Key, written in its transaction."""

    __tablename__ = "idempotency_record"

    __table_args__ = (
        UniqueConstraint("actor_id", "key", name="uq_idempotency_record_actor_key"),
    )

    id: str = _id()
    actor_id: str = Field(max_length=ID)
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status_code: int
    response: dict[str, Any] = _json(default_factory=dict)
    created_at: datetime = _now()


class OutboxEvent(SQLModel, table=True):
    """The event feed (transactional outbox): one row per audited change, written in the
    change's own transaction. `position` is handed out just before COMMIT under a lock
    (lims/db/outbox.py), so positions follow commit order and a reader never skips one."""

    __tablename__ = "outbox_event"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True,
                                                           autoincrement=True))
    event_id: str = Field(default_factory=new_id, max_length=ID, unique=True)
    position: int | None = Field(default=None, sa_column=Column(
        BigInteger, nullable=True, unique=True))
    type: str = Field(max_length=80, index=True)
    entity_type: str = Field(max_length=30)
    entity_id: str = Field(max_length=80)
    entity_version: int
    occurred_at: datetime = _when()
    actor_id: str | None = Field(default=None, max_length=ID)
    actor_name: str = Field(max_length=120)
    request_id: str | None = Field(default=None, max_length=64)
    data: dict[str, Any] = _json(default_factory=dict)


class WebhookSubscription(SQLModel, table=True):
    """A URL that receives the events of some types, signed with its own secret."""

    __tablename__ = "webhook_subscription"

    id: str = _id()
    url: str = Field(max_length=2000)
    event_types: list[str] = _json(default_factory=list)
    description: str | None = Field(default=None, max_length=200)
    # HMAC needs the secret itself: it is shown once and never returned by the API again.
    secret: str = Field(max_length=100)
    owner_id: str = Field(max_length=ID, index=True)
    active: bool = True
    disabled_reason: str | None = Field(default=None, max_length=500)
    consecutive_failures: int = 0
    # Feed position up to which events were fanned out into deliveries.
    fanout_position: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = _now()
    updated_at: datetime = _now()
    version: int = 1


class WebhookDelivery(SQLModel, table=True):
    """One event for one subscription: pending until delivered or given up; the last
    attempts are kept as its log."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_pk", name="uq_webhook_delivery_event"),
        one_of("status", ("pending", "delivered", "failed")),
    )

    id: str = _id()
    subscription_id: str = Field(foreign_key="webhook_subscription.id", max_length=ID,
                                 index=True)
    event_pk: int = Field(foreign_key="outbox_event.id")
    status: str = Field(default="pending", max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = _when(index=True)
    # A claim: a worker owns the delivery until next_attempt_at (its lease) passes.
    lease_token: str | None = Field(default=None, max_length=40)
    last_attempt_at: datetime | None = _when(default=None)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = _when(default=None)
    log: list[dict[str, Any]] = _json(default_factory=list)
    created_at: datetime = _now()
