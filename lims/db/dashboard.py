"""The SQL behind the coordinator dashboard, the bench's recent scans and the admin page.

Queries only narrow the rows; the rules (overdue, expired, what waits for release) are
decided by the domain on what these return, so no rule is written twice in SQL.
"""

from __future__ import annotations

from collections.abc import Collection as Many
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select

from lims.db.engine import Session
from lims.db.tables import (
    AppUser,
    AuditEntry,
    AuthToken,
    Excursion,
    Location,
    Sample,
    SampleTransition,
    Scan,
)

LIST_LIMIT = 200


def _scoped(q, source: str | None):  # noqa: ANN001, ANN202 - a select, narrowed
    return q.where(Sample.source == source) if source else q


def count_by(session: Session, column: str, *, states: Many[str],
             source: str | None) -> dict[str, int]:
    """Number of samples per value of `column` (state or source) among `states`."""
    c = getattr(Sample, column)
    q = _scoped(select(c, func.count()).where(col(Sample.state).in_(list(states))), source)
    return {k: n for k, n in session.execute(q.group_by(c))}


def samples_due_before(session: Session, now: datetime, *, states: Many[str],
                       source: str | None) -> list[Sample]:
    """Samples whose processing window closed before `now` (candidates for overdue)."""
    q = select(Sample).where(col(Sample.state).in_(list(states)),
                             col(Sample.processing_due_at) < now)
    return list(session.execute(_scoped(q, source).order_by(
        col(Sample.processing_due_at)).limit(LIST_LIMIT)).scalars())


def samples_on_hold(session: Session, *, states: Many[str], source: str | None) -> list[Sample]:
    q = select(Sample).where(col(Sample.on_hold).is_(True), col(Sample.state).in_(list(states)))
    return list(session.execute(_scoped(q, source).order_by(col(Sample.updated_at))
                                .limit(LIST_LIMIT)).scalars())


def samples_with_open_excursion(session: Session, *, source: str | None) -> list[Sample]:
    open_ = select(Excursion.sample_id).where(col(Excursion.reviewed_at).is_(None))
    q = select(Sample).where(col(Sample.id).in_(open_))
    return list(session.execute(_scoped(q, source).order_by(col(Sample.id))
                                .limit(LIST_LIMIT)).scalars())


def samples_expiring(session: Session, start: datetime, end: datetime, *,
                     states: Many[str], source: str | None) -> list[Sample]:
    q = select(Sample).where(col(Sample.state).in_(list(states)),
                             col(Sample.expires_at) > start, col(Sample.expires_at) <= end)
    return list(session.execute(_scoped(q, source).order_by(col(Sample.expires_at))
                                .limit(LIST_LIMIT)).scalars())


def samples_in(session: Session, *, states: Many[str], on_hold: bool,
               source: str | None) -> list[Sample]:
    q = select(Sample).where(col(Sample.state).in_(list(states)), Sample.on_hold == on_hold)
    return list(session.execute(_scoped(q, source).order_by(col(Sample.updated_at))
                                .limit(LIST_LIMIT)).scalars())


def transitions_since(session: Session, since: datetime, *,
                      source: str | None) -> list[tuple[str, datetime]]:
    """(event, when) of every applied event since `since`, for throughput per day."""
    q = select(SampleTransition.event, SampleTransition.at).where(
        col(SampleTransition.at) >= since)
    if source:
        q = q.join(Sample, col(Sample.id) == SampleTransition.sample_id).where(
            Sample.source == source)
    return [(e, at) for e, at in session.execute(q)]


def change_marker(session: Session) -> int:
    """The newest audit entry id: every audited write anywhere moves it (any process)."""
    return session.execute(select(func.max(AuditEntry.id))).scalar_one() or 0


def recent_scans(session: Session, station: str, limit: int = 10) -> list[tuple[Scan, str | None]]:
    """The last scans at a station, newest first, with the sample code they resolved to."""
    q = (select(Scan, Sample.code).outerjoin(Sample, col(Sample.id) == Scan.sample_id)
         .where(Scan.station == station).order_by(col(Scan.at).desc(), col(Scan.id).desc())
         .limit(limit))
    return [(s, code) for s, code in session.execute(q)]


def stations(session: Session) -> list[tuple[str, datetime, int]]:
    """Every station that scanned something: name, last scan, number of scans."""
    q = select(Scan.station, func.max(Scan.at), func.count()).group_by(Scan.station)
    return [(s, at, n) for s, at, n in session.execute(q.order_by(Scan.station))]


def all_users(session: Session) -> list[AppUser]:
    return list(session.execute(select(AppUser).order_by(col(AppUser.username))).scalars())


def revoke_token(session: Session, token_hash: str, now: datetime) -> None:
    """Sign-out: the session's bearer token stops working at once."""
    q = select(AuthToken).where(AuthToken.token_hash == token_hash)
    for token in session.execute(q).scalars():
        token.revoked_at = now
        session.add(token)


def boxes(session: Session) -> list[Location]:
    """Every storage box, by its path (for the box chooser of the bench forms)."""
    q = select(Location).where(Location.kind == "box").order_by(col(Location.path))
    return list(session.execute(q).scalars())
