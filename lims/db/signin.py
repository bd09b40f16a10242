"""Queries behind sign-in throttling (per client address), shared by every process:
the count comes from the audit trail in the database, never from process memory."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import col

from lims.db.engine import Session
from lims.db.tables import AuditEntry


def failed_sign_ins_from(session: Session, client_addr: str, since: datetime) -> int:
    """Failed sign-ins (any user name, known or not) from one client address since then."""
    q = select(func.count()).select_from(AuditEntry).where(
        col(AuditEntry.action) == "login_failed", col(AuditEntry.client_addr) == client_addr,
        col(AuditEntry.at) >= since)
    return int(session.execute(q).scalar_one())
