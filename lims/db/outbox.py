"""The event feed's SQL: append an event in the writer's transaction, hand out feed
positions in commit order, read the feed after a cursor.

Why positions and not the row id: ids are taken when a row is inserted, so two writers
can commit in the opposite order of their ids; a reader that has seen id 101 would then
skip id 100 committing a moment later. Positions are handed out at the very end of each
writing transaction, under one lock held until COMMIT (PostgreSQL releases a
transaction's locks only after its commit is visible), so a later position always belongs
to a later commit, and every position below one a reader sees is already visible to it.
SQLite serialises writers (BEGIN IMMEDIATE), which gives the same order without a lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import event, func, insert, or_, select, text, update
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col

from lims.db.tables import OutboxEvent

PENDING = "lims_outbox_pending"
# pg_advisory_xact_lock key: any constant not used by another lock ('lims' in ASCII).
FEED_LOCK = 0x6C696D73


def append(session: Session, event_: OutboxEvent) -> None:
    """Insert one event (position still empty) now, in the current transaction: ids follow
    the order of the changes within the transaction."""
    session.execute(insert(OutboxEvent).values(event_.model_dump(exclude={"id", "position"})))
    session.info[PENDING] = True


@event.listens_for(OrmSession, "before_commit")
def assign_positions(session: OrmSession) -> None:
    """Just before COMMIT (a session event): number this transaction's events after every
    committed one. Holds the feed lock until the transaction ends."""
    if not session.info.get(PENDING) or session.in_nested_transaction():
        return
    # Flush first: nothing else may need a row lock while the feed lock is held.
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": FEED_LOCK})
    last = last_position(session)  # type: ignore[arg-type]
    ids = session.execute(select(col(OutboxEvent.id)).where(col(OutboxEvent.position).is_(None))
                          .order_by(col(OutboxEvent.id))).scalars().all()
    if ids:
        session.execute(update(OutboxEvent), [
            {"id": id_, "position": last + n} for n, id_ in enumerate(ids, start=1)])


@event.listens_for(OrmSession, "after_transaction_end")
def _done(session: OrmSession, transaction: Any) -> None:
    # Only the outer transaction: a savepoint rolled back (a best-effort scan of many
    # tubes) leaves the events written before it waiting for their positions.
    if transaction.parent is None and not transaction.nested:
        session.info.pop(PENDING, None)


def _type_filter(types: Sequence[str]) -> Any:
    exact = [t for t in types if not t.endswith("*")]
    prefixes = [t[:-1] for t in types if t.endswith(".*")]
    conditions: list[Any] = [col(OutboxEvent.type).in_(exact)] if exact else []
    conditions += [col(OutboxEvent.type).startswith(p, autoescape=True) for p in prefixes]
    return or_(*conditions)


def last_position(session: Session) -> int:
    return session.execute(select(func.max(col(OutboxEvent.position)))).scalar_one() or 0


def after(session: Session, position: int, *, types: Sequence[str] = (), limit: int = 100,
          upto: int | None = None) -> list[OutboxEvent]:
    """Committed events after `position` (up to `upto`), in commit order."""
    q = select(OutboxEvent).where(col(OutboxEvent.position) > position)
    if upto is not None:
        q = q.where(col(OutboxEvent.position) <= upto)
    if types and "*" not in types:
        q = q.where(_type_filter(types))
    q = q.order_by(col(OutboxEvent.position)).limit(limit)
    return list(session.execute(q).scalars())


def by_pks(session: Session, pks: Sequence[int]) -> dict[int, OutboxEvent]:
    q = select(OutboxEvent).where(col(OutboxEvent.id).in_(pks))
    return {e.id: e for e in session.execute(q).scalars() if e.id is not None}
