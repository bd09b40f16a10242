"""Webhook subscriptions and deliveries: the SQL of `lims worker` and of /webhooks.

Several workers may run at once: each claims work with FOR UPDATE SKIP LOCKED on
PostgreSQL, so two never take the same subscription's fan-out or the same delivery
(SQLite serialises writers, which gives the same guarantee).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from lims.db.queries import decode_cursor, encode_cursor
from lims.db.tables import OutboxEvent, WebhookDelivery, WebhookSubscription
from lims.domain.errors import Invalid


def subscriptions(session: Session, owner_id: str | None) -> list[WebhookSubscription]:
    """Every subscription, or those of one owner, oldest first."""
    q = select(WebhookSubscription).order_by(col(WebhookSubscription.id))
    if owner_id is not None:
        q = q.where(WebhookSubscription.owner_id == owner_id)
    return list(session.execute(q).scalars())


def to_fan_out(session: Session, below: int, limit: int) -> list[WebhookSubscription]:
    """Active subscriptions with events after their fan-out position, locked for this
    worker (others skip them)."""
    q = (select(WebhookSubscription)
         .where(col(WebhookSubscription.active), WebhookSubscription.fanout_position < below)
         .order_by(col(WebhookSubscription.id)).limit(limit)
         .with_for_update(skip_locked=True))
    return list(session.execute(q).scalars())


def add_deliveries(session: Session, subscription_id: str, event_pks: Sequence[int],
                   now: datetime, new_id: Any) -> None:
    """A pending delivery per event; an event delivered before (a replay) is due again."""
    if not event_pks:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(WebhookDelivery).values([
        {"id": new_id(), "subscription_id": subscription_id, "event_pk": pk,
         "status": "pending", "attempts": 0, "next_attempt_at": now, "log": [],
         "created_at": now} for pk in event_pks])
    stmt = stmt.on_conflict_do_update(
        index_elements=["subscription_id", "event_pk"],
        set_={"status": "pending", "attempts": 0, "next_attempt_at": now,
              "lease_token": None})
    session.execute(stmt)


def claim_due(session: Session, now: datetime, limit: int) -> list[WebhookDelivery]:
    """Pending deliveries whose time has come, of active subscriptions, locked for this
    worker; the caller pushes their next_attempt_at out (its lease) before committing."""
    q = (select(WebhookDelivery)
         .join(WebhookSubscription,
               col(WebhookSubscription.id) == col(WebhookDelivery.subscription_id))
         .where(WebhookDelivery.status == "pending", col(WebhookSubscription.active),
                col(WebhookDelivery.next_attempt_at) <= now)
         .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
         .limit(limit)
         .with_for_update(of=WebhookDelivery, skip_locked=True))
    return list(session.execute(q).scalars())


def leased(session: Session, delivery_id: str, token: str) -> WebhookDelivery | None:
    """The delivery if this worker's claim on it still stands (locked), else None."""
    q = (select(WebhookDelivery)
         .where(WebhookDelivery.id == delivery_id, WebhookDelivery.lease_token == token)
         .with_for_update())
    return session.execute(q).scalar_one_or_none()


def wake_pending(session: Session, subscription_id: str, now: datetime) -> None:
    """Pending deliveries of a re-enabled subscription are due now (except those a worker
    holds: one may be on its way to the receiver this very moment)."""
    session.execute(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.subscription_id) == subscription_id,
               col(WebhookDelivery.status) == "pending",
               col(WebhookDelivery.lease_token).is_(None))
        .values(next_attempt_at=now))


def release(session: Session, delivery_id: str, token: str, now: datetime) -> None:
    """Give back a claimed delivery that was not sent."""
    session.execute(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.id) == delivery_id,
               col(WebhookDelivery.lease_token) == token)
        .values(lease_token=None, next_attempt_at=now))


def deliveries_page(session: Session, subscription_id: str, cursor: str | None, limit: int,
                    status: str | None = None
                    ) -> tuple[list[tuple[WebhookDelivery, OutboxEvent]], str | None]:
    """A subscription's deliveries with their events, newest event first."""
    q = (select(WebhookDelivery, OutboxEvent)
         .join(OutboxEvent, col(OutboxEvent.id) == col(WebhookDelivery.event_pk))
         .where(WebhookDelivery.subscription_id == subscription_id))
    if status:
        q = q.where(WebhookDelivery.status == status)
    if cursor:
        raw = decode_cursor(cursor)
        if not (raw.isascii() and raw.isdigit()):
            raise Invalid("The cursor is not valid: start again from the first page.")
        q = q.where(col(WebhookDelivery.event_pk) < int(raw))
    q = q.order_by(col(WebhookDelivery.event_pk).desc()).limit(limit + 1)
    rows = [(d, e) for d, e in session.execute(q)]
    nxt = encode_cursor(str(rows[limit - 1][0].event_pk)) if len(rows) > limit else None
    return rows[:limit], nxt
