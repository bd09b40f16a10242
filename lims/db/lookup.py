"""Lists and look-ups by the identifiers other systems hold: filters as data, keyset pages,
and a streamed walk over a whole filtered list (CSV export) without holding it in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from lims.db import queries
from lims.db.tables import Collection, Donor, IdempotencyRecord, Sample
from lims.domain.workflow import AWAITING_PROCESSING


@dataclass(frozen=True)
class SampleFilter:
    """What a sample list can be narrowed by; empty tuples and None do not narrow."""

    states: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    donor_id: str | None = None
    collection_id: str | None = None
    on_hold: bool | None = None
    overdue: bool | None = None
    code: str | None = None
    din: str | None = None
    donor_code: str | None = None
    external_ref: str | None = None
    owner_id: str | None = None  # whose external_ref (refs are unique per account)
    updated_since: datetime | None = None


def sample_query(f: SampleFilter, now: datetime) -> Any:
    q = select(Sample)
    for column, values in ((Sample.state, f.states), (Sample.source, f.sources),
                           (Sample.kind, f.kinds)):
        if values:
            q = q.where(col(column).in_(values))
    for column, value in ((Sample.donor_id, f.donor_id),
                          (Sample.collection_id, f.collection_id), (Sample.code, f.code)):
        if value is not None:
            q = q.where(column == value)
    if f.on_hold is not None:
        q = q.where(Sample.on_hold == f.on_hold)
    if f.external_ref is not None:
        q = q.where(Sample.external_ref == f.external_ref, Sample.created_by == f.owner_id)
    if f.din is not None:
        q = q.where(col(Sample.collection_id).in_(
            select(Collection.id).where(Collection.din == f.din)))
    if f.donor_code is not None:
        q = q.where(col(Sample.donor_id).in_(select(Donor.id).where(Donor.code == f.donor_code)))
    if f.updated_since is not None:
        q = q.where(col(Sample.updated_at) >= f.updated_since)
    if f.overdue is not None:
        late = (col(Sample.state).in_([s.value for s in AWAITING_PROCESSING])
                & (col(Sample.processing_due_at) < now))
        q = q.where(late if f.overdue else ~late | col(Sample.processing_due_at).is_(None))
    return q


def samples_page(session: Session, f: SampleFilter, now: datetime, cursor: str | None,
                 limit: int) -> tuple[list[Sample], str | None]:
    return queries.page(session, sample_query(f, now), Sample, cursor, limit)


def samples_streamed(session: Session, f: SampleFilter, now: datetime,
                     chunk: int = 500) -> Iterator[list[Sample]]:
    """The whole filtered list in pages of `chunk` rows: memory holds one page at a time."""
    cursor = None
    while True:
        rows, cursor = samples_page(session, f, now, cursor, chunk)
        if rows:
            yield rows
        session.expunge_all()  # what was sent need not stay in the identity map
        if cursor is None:
            return


def donors_page(session: Session, cursor: str | None, limit: int, *, code: str | None = None,
                updated_since: datetime | None = None) -> tuple[list[Donor], str | None]:
    q = select(Donor)
    if code is not None:
        q = q.where(Donor.code == code)
    if updated_since is not None:
        q = q.where(col(Donor.updated_at) >= updated_since)
    return queries.page(session, q, Donor, cursor, limit)


def collections_page(session: Session, cursor: str | None, limit: int, *,
                     donor_id: str | None = None, sources: tuple[str, ...] = (),
                     din: str | None = None, external_ref: str | None = None,
                     owner_id: str | None = None, updated_since: datetime | None = None,
                     ) -> tuple[list[Collection], str | None]:
    """Collections never change after they are recorded: `updated_since` is their creation."""
    q = select(Collection)
    if sources:
        q = q.where(col(Collection.source).in_(sources))
    for column, value in ((Collection.donor_id, donor_id), (Collection.din, din)):
        if value is not None:
            q = q.where(column == value)
    if external_ref is not None:
        q = q.where(Collection.external_ref == external_ref, Collection.created_by == owner_id)
    if updated_since is not None:
        q = q.where(col(Collection.created_at) >= updated_since)
    return queries.page(session, q, Collection, cursor, limit)


def collection_by_external_ref(session: Session, owner_id: str, ref: str) -> Collection | None:
    """The caller's own reference: unique per account that stored it."""
    q = select(Collection).where(Collection.external_ref == ref,
                                 Collection.created_by == owner_id)
    return session.execute(q).scalar_one_or_none()


def samples_by_codes(session: Session, codes: list[str]) -> list[Sample]:
    q = select(Sample).where(col(Sample.code).in_(codes)).order_by(col(Sample.code))
    return list(session.execute(q).scalars())


def idempotency_record(session: Session, actor_id: str, key: str) -> IdempotencyRecord | None:
    q = select(IdempotencyRecord).where(IdempotencyRecord.actor_id == actor_id,
                                        IdempotencyRecord.key == key)
    return session.execute(q).scalar_one_or_none()


def samples_of_donation(session: Session, din: str) -> list[Sample]:
    """Every sample of the donation `din`, oldest first."""
    q = select(Sample).join(Collection, col(Sample.collection_id) == Collection.id)
    return list(session.execute(q.where(Collection.din == din).order_by(col(Sample.id))).scalars())
