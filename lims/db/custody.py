"""Storage locations and custody hand-overs."""

from __future__ import annotations

from sqlmodel import Session, col, select

from lims.db.tables import CustodyTransfer, Location


def location_by_path(session: Session, path: str) -> Location | None:
    return session.execute(select(Location).where(Location.path == path)).scalar_one_or_none()


def last_transfer(session: Session, sample_id: str) -> CustodyTransfer | None:
    q = (select(CustodyTransfer).where(CustodyTransfer.sample_id == sample_id)
         .order_by(col(CustodyTransfer.seq).desc()).limit(1))
    return session.execute(q).scalar_one_or_none()


def transfers_of(session: Session, sample_id: str) -> list[CustodyTransfer]:
    q = select(CustodyTransfer).where(CustodyTransfer.sample_id == sample_id)
    return list(session.execute(q.order_by(col(CustodyTransfer.seq))).scalars())
