"""Queries for printing labels: earlier prints, and what has happened to the contents."""

from __future__ import annotations

from sqlmodel import Session, select

from lims.db.tables import LabelPrint, SampleTransition


def printed_before(session: Session, sample_id: str) -> bool:
    """Whether a label of this sample was printed before (previews are not prints)."""
    q = select(LabelPrint.id).where(LabelPrint.sample_id == sample_id).limit(1)
    return session.execute(q).first() is not None


def events_applied(session: Session, sample_id: str) -> frozenset[str]:
    """The events applied to this sample so far (cryopreserve, thaw...)."""
    q = select(SampleTransition.event).where(SampleTransition.sample_id == sample_id).distinct()
    return frozenset(session.execute(q).scalars())
