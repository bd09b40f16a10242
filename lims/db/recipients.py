"""Recipients (patients) and the bedside checks made for them."""

from __future__ import annotations

from sqlmodel import Session, select

from lims.db.tables import Recipient


def recipient_by_code(session: Session, code: str) -> Recipient | None:
    return session.execute(select(Recipient).where(Recipient.code == code)).scalar_one_or_none()


def recipient_by_wristband(session: Session, wristband_id: str) -> Recipient | None:
    q = select(Recipient).where(Recipient.wristband_id == wristband_id)
    return session.execute(q).scalar_one_or_none()
