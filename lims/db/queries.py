"""The queries. Services ask here instead of writing SQL themselves."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func
from sqlmodel import Session, SQLModel, col, select

from lims.db.tables import (
    AuditEntry,
    Collection,
    Consent,
    Donor,
    Excursion,
    Location,
    ProcessingStep,
    QcResult,
    Recipient,
    Sample,
    SampleTransition,
    Scan,
    Signature,
)
from lims.domain.errors import Invalid, NotFound

M = TypeVar("M", bound=SQLModel)

LABELS = {Donor: "donor", Collection: "collection", Sample: "sample", Location: "location"}


def get(session: Session, model: type[M], id_: str, *, lock: bool = False) -> M:
    """Load by id or raise NotFound naming what was missing. `lock` takes a row lock
    (PostgreSQL; SQLite serialises writers at BEGIN IMMEDIATE anyway)."""
    if lock:
        # populate_existing: a copy loaded earlier in this session (e.g. by a scan lookup)
        # must be refreshed from the locked row, or decisions are made on stale values.
        q = select(model).where(model.id == id_)  # type: ignore[attr-defined]
        q = q.with_for_update().execution_options(populate_existing=True)
        found = session.execute(q).scalar_one_or_none()
    else:  # the copy this unit of work holds already, without a round trip
        found = session.get(model, id_)
    if found is None:
        what = LABELS.get(model, model.__name__.lower())
        raise NotFound(f"No {what} with id {id_}. Check the id or scan the label again.")
    return found


def ancestors(session: Session, sample: Sample) -> list[Sample]:
    """Parent, grandparent, ... up to the primary container."""
    chain: list[Sample] = []
    current = sample
    while current.parent_id:
        current = get(session, Sample, current.parent_id)
        chain.append(current)
    return chain


def donor_by_code(session: Session, code: str) -> Donor | None:
    return session.execute(select(Donor).where(Donor.code == code)).scalar_one_or_none()


def collections_of(session: Session, donor_id: str) -> list[Collection]:
    q = select(Collection).where(Collection.donor_id == donor_id).order_by(col(Collection.id))
    return list(session.execute(q).scalars())


def consents_of(session: Session, donor_id: str) -> list[Consent]:
    q = select(Consent).where(Consent.donor_id == donor_id).order_by(col(Consent.obtained_at))
    return list(session.execute(q).scalars())


def withdrawn_scopes(session: Session, donor_ids: Sequence[str]) -> dict[str, list[str]]:
    """Per donor, the consent scopes withdrawn (one query for a whole page of samples)."""
    q = select(Consent.donor_id, Consent.withdrawn_scopes).where(
        Consent.donor_id.in_(set(donor_ids)))  # type: ignore[attr-defined]
    out: dict[str, set[str]] = {}
    for donor_id, scopes in session.execute(q):
        out.setdefault(donor_id, set()).update(scopes or [])
    return {d: sorted(s) for d, s in out.items() if s}


def consents_of_donors(session: Session, donor_ids: Sequence[str]) -> dict[str, list[Consent]]:
    """Consents of a page of donors, in one query."""
    q = (select(Consent).where(col(Consent.donor_id).in_(donor_ids))
         .order_by(col(Consent.obtained_at)))
    out: dict[str, list[Consent]] = {}
    for c in session.execute(q).scalars():
        out.setdefault(c.donor_id, []).append(c)
    return out


def latest_qc(session: Session, sample_id: str) -> dict[str, QcResult]:
    """The latest result per QC test: a re-test replaces a pending or failed result."""
    rows = session.execute(
        select(QcResult).where(QcResult.sample_id == sample_id).order_by(col(QcResult.recorded_at))
    ).scalars()
    return {r.test: r for r in rows}


def qc_of(session: Session, sample_id: str) -> list[QcResult]:
    q = select(QcResult).where(QcResult.sample_id == sample_id).order_by(col(QcResult.recorded_at))
    return list(session.execute(q).scalars())


def open_excursions(session: Session, sample_id: str) -> list[Excursion]:
    q = select(Excursion).where(Excursion.sample_id == sample_id,
                                Excursion.reviewed_at.is_(None))  # type: ignore[union-attr]
    return list(session.execute(q).scalars())


def excursions_of(session: Session, sample_id: str) -> list[Excursion]:
    """Every temperature excursion of the sample, reviewed or not, oldest first."""
    q = (select(Excursion).where(Excursion.sample_id == sample_id)
         .order_by(col(Excursion.detected_at)))
    return list(session.execute(q).scalars())


def operators_of(session: Session, sample_ids: Sequence[str]) -> frozenset[str]:
    q = select(ProcessingStep.operator_id).where(ProcessingStep.sample_id.in_(sample_ids))  # type: ignore[attr-defined]
    return frozenset(session.execute(q).scalars())


def signatures_of(session: Session, entity_ids: Sequence[str]) -> dict[str, list[Signature]]:
    q = (select(Signature).where(col(Signature.entity_id).in_(entity_ids))
         .order_by(col(Signature.signed_at)))
    out: dict[str, list[Signature]] = {}
    for sig in session.execute(q).scalars():
        out.setdefault(sig.entity_id, []).append(sig)
    return out


def signatures_by_id(session: Session, ids: Sequence[str]) -> dict[str, Signature]:
    q = select(Signature).where(col(Signature.id).in_(ids))
    return {sig.id: sig for sig in session.execute(q).scalars()}


def last_thaw(session: Session, sample_ids: Sequence[str]) -> datetime | None:
    """When any of these samples (a sample and its ancestors) was last thawed."""
    q = select(func.max(SampleTransition.at)).where(
        col(SampleTransition.sample_id).in_(sample_ids), SampleTransition.event == "thaw")
    return session.execute(q).scalar_one_or_none()


def open_step(session: Session, sample_id: str) -> ProcessingStep | None:
    q = (select(ProcessingStep)
         .where(ProcessingStep.sample_id == sample_id,
                ProcessingStep.ended_at.is_(None))  # type: ignore[union-attr]
         .order_by(ProcessingStep.started_at.desc()).limit(1))  # type: ignore[attr-defined]
    return session.execute(q).scalar_one_or_none()


def steps_of(session: Session, sample_id: str) -> list[ProcessingStep]:
    q = (select(ProcessingStep).where(ProcessingStep.sample_id == sample_id)
         .order_by(col(ProcessingStep.started_at)))
    return list(session.execute(q).scalars())


def transitions_of(session: Session, sample_id: str) -> list[SampleTransition]:
    q = (select(SampleTransition).where(SampleTransition.sample_id == sample_id)
         .order_by(col(SampleTransition.at), col(SampleTransition.id)))
    return list(session.execute(q).scalars())


def samples_where(session: Session, **equal: Any) -> list[Sample]:
    q = select(Sample)
    for name, value in equal.items():
        q = q.where(getattr(Sample, name) == value)
    return list(session.execute(q.order_by(col(Sample.id))).scalars())


def used_divisions(session: Session, collection_id: str, product_code: str) -> set[str]:
    q = select(Sample.division).where(Sample.collection_id == collection_id,
                                      Sample.product_code == product_code)
    return set(session.execute(q).scalars())


def position_taken(session: Session, location_id: str, position: int) -> Sample | None:
    q = select(Sample).where(Sample.location_id == location_id, Sample.position == position)
    return session.execute(q).scalar_one_or_none()


def children_of(session: Session, location_id: str) -> list[Location]:
    q = select(Location).where(Location.parent_id == location_id).order_by(col(Location.name))
    return list(session.execute(q).scalars())


def locations_by_path(session: Session, parent_id: str | None = None) -> list[Location]:
    """Every location, or only the direct children of `parent_id`, ordered by path."""
    q = select(Location).where(Location.parent_id == parent_id) if parent_id else select(Location)
    return list(session.execute(q.order_by(col(Location.path))).scalars())


def samples_at(session: Session, location_id: str) -> list[Sample]:
    """The samples stored at a location (a box: its occupied positions), by position."""
    q = select(Sample).where(Sample.location_id == location_id).order_by(col(Sample.position))
    return list(session.execute(q).scalars())


# --- audit trail -----------------------------------------------------------------------

def sample_timeline(session: Session, sample_id: str) -> list[AuditEntry]:
    """The sample's own entries and those of its QC results (approvals), in time order."""
    qc_ids = select(QcResult.id).where(QcResult.sample_id == sample_id)
    q = (select(AuditEntry)
         .where(((col(AuditEntry.entity_type) == "sample")
                 & (col(AuditEntry.entity_id) == sample_id))
                | ((col(AuditEntry.entity_type) == "qc_result")
                   & col(AuditEntry.entity_id).in_(qc_ids)))
         .order_by(col(AuditEntry.at), col(AuditEntry.id)))
    return list(session.execute(q).scalars())


# --- keyset pagination -----------------------------------------------------------------

def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        # Any text is a valid keyset bound; NUL is not storable text.
        value = raw.decode(errors="replace").replace("\x00", "\ufffd")
    except (ValueError, UnicodeDecodeError):
        value = ""
    if not value:
        raise Invalid("The cursor is not valid: start again from the first page.")
    return value


def page(session: Session, q: Any, model: type[M], cursor: str | None,
         limit: int) -> tuple[list[M], str | None]:
    """One page ordered by id (UUIDv7: creation order); the cursor is the last id seen."""
    id_col = model.id  # type: ignore[attr-defined]
    if cursor:
        q = q.where(id_col > decode_cursor(cursor))
    rows = list(session.execute(q.order_by(id_col).limit(limit + 1)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1].id) if more and rows else None)


def scans_page(session: Session, cursor: str | None, limit: int, *,
               station: str | None = None, sample_id: str | None = None,
               ) -> tuple[list[Scan], str | None]:
    """Scans oldest first; an empty station or sample id does not filter."""
    q = select(Scan)
    if station:
        q = q.where(Scan.station == station)
    if sample_id:
        q = q.where(Scan.sample_id == sample_id)
    return page(session, q, Scan, cursor, limit)


def audit_page(session: Session, cursor: str | None, limit: int, *,
               entity_type: str | None = None, entity_id: str | None = None,
               actor_id: str | None = None, action: str | None = None,
               since: datetime | None = None, until: datetime | None = None,
               ) -> tuple[list[AuditEntry], str | None]:
    """Audit entries in the order they were written, filtered. Audit ids are integers,
    so the cursor is the last integer id seen (not `page`'s string id)."""
    q = select(AuditEntry)
    for column, value in ((AuditEntry.entity_type, entity_type),
                          (AuditEntry.entity_id, entity_id), (AuditEntry.actor_id, actor_id),
                          (AuditEntry.action, action)):
        if value is not None:
            q = q.where(column == value)
    if since:
        q = q.where(AuditEntry.at >= since)
    if until:
        q = q.where(AuditEntry.at < until)
    after = 0
    if cursor:
        raw = decode_cursor(cursor)
        if not (raw.isascii() and raw.isdigit()):
            raise Invalid("The cursor is not valid: start again from the first page.")
        after = int(raw)
    q = q.where(col(AuditEntry.id) > after).order_by(col(AuditEntry.id)).limit(limit + 1)
    rows = list(session.execute(q).scalars())
    nxt = encode_cursor(str(rows[limit - 1].id)) if len(rows) > limit else None
    return rows[:limit], nxt


def recipient_of_donor(session: Session, donor_id: str) -> Recipient | None:
    """The patient record of a donor (autologous: the donor is the recipient)."""
    q = select(Recipient).where(Recipient.donor_id == donor_id)
    return session.execute(q).scalar_one_or_none()


def count_by_state(session: Session) -> dict[str, int]:
    q = select(Sample.state, func.count()).group_by(Sample.state)
    return {state: n for state, n in session.execute(q)}
