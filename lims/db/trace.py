"""The reads behind the trace reports: everything recorded about a set of samples, in a
few queries whatever the size of the family (no query per sample)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlmodel import Session, col, select

from lims.db.tables import (
    AppUser,
    AuditEntry,
    Collection,
    Excursion,
    Location,
    ProcessingStep,
    QcResult,
    Recipient,
    Sample,
    SampleTransition,
    Signature,
)


def transitions(session: Session, sample_ids: Sequence[str]) -> dict[str, list[SampleTransition]]:
    """Per sample, the state log oldest first."""
    q = (select(SampleTransition).where(col(SampleTransition.sample_id).in_(sample_ids))
         .order_by(col(SampleTransition.at), col(SampleTransition.id)))
    out: dict[str, list[SampleTransition]] = {}
    for t in session.execute(q).scalars():
        out.setdefault(t.sample_id, []).append(t)
    return out


def recipients(session: Session, ids: Iterable[str]) -> dict[str, Recipient]:
    q = select(Recipient).where(col(Recipient.id).in_(set(ids)))
    return {r.id: r for r in session.execute(q).scalars()}


def locations(session: Session, ids: Iterable[str]) -> dict[str, Location]:
    q = select(Location).where(col(Location.id).in_(set(ids)))
    return {x.id: x for x in session.execute(q).scalars()}


def collections(session: Session, ids: Iterable[str]) -> dict[str, Collection]:
    q = select(Collection).where(col(Collection.id).in_(set(ids)))
    return {c.id: c for c in session.execute(q).scalars()}


def collections_of_donor(session: Session, donor_id: str) -> list[Collection]:
    q = select(Collection).where(Collection.donor_id == donor_id).order_by(col(Collection.id))
    return list(session.execute(q).scalars())


def products_of_recipient(session: Session, recipient_id: str) -> list[Sample]:
    q = select(Sample).where(Sample.recipient_id == recipient_id).order_by(col(Sample.id))
    return list(session.execute(q).scalars())


def qc_results(session: Session, sample_ids: Sequence[str]) -> list[QcResult]:
    """Every QC result recorded, re-tests included (an inspector sees the failed one too)."""
    q = (select(QcResult).where(col(QcResult.sample_id).in_(sample_ids))
         .order_by(col(QcResult.recorded_at), col(QcResult.id)))
    return list(session.execute(q).scalars())


def deviations(session: Session, sample_ids: Sequence[str]) -> list[ProcessingStep]:
    """Processing steps started with a deviation (past the processing window)."""
    q = (select(ProcessingStep).where(col(ProcessingStep.sample_id).in_(sample_ids),
                                      col(ProcessingStep.deviation_reason).is_not(None))
         .order_by(col(ProcessingStep.started_at), col(ProcessingStep.id)))
    return list(session.execute(q).scalars())


def excursions(session: Session, sample_ids: Sequence[str]) -> list[Excursion]:
    q = (select(Excursion).where(col(Excursion.sample_id).in_(sample_ids))
         .order_by(col(Excursion.detected_at), col(Excursion.id)))
    return list(session.execute(q).scalars())


def signatures(session: Session, entity_ids: Sequence[str]) -> list[tuple[Signature, str]]:
    """Signatures on these records (samples, QC results), each with the audited action it
    signs (e.g. 'event:release', 'qc_approved'), oldest first."""
    q = (select(Signature, AuditEntry.action)
         .join(AuditEntry, col(AuditEntry.id) == col(Signature.audit_entry_id))
         .where(col(Signature.entity_id).in_(entity_ids))
         .order_by(col(Signature.signed_at), col(Signature.id)))
    return [(sig, action) for sig, action in session.execute(q)]


def user_names(session: Session, ids: Iterable[str]) -> dict[str, str]:
    """Full names of the people behind user ids (records store the id)."""
    q = select(AppUser.id, AppUser.full_name).where(col(AppUser.id).in_(set(ids)))
    return {uid: name for uid, name in session.execute(q)}
