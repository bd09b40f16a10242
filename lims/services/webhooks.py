"""Webhook subscriptions: subscribe a URL to event types, see its deliveries, disable,
enable and replay. Delivery itself is `lims worker` (lims/services/delivery.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from lims.db import outbox, queries
from lims.db import webhooks as store
from lims.db.tables import WebhookSubscription
from lims.domain import feed, permissions
from lims.domain.checks import PageSize, checked
from lims.domain.errors import Invalid, NotFound, StaleVersion
from lims.services import audit
from lims.services.context import Context

SECRET_PREFIX = "whsec_"
STATUSES = ("pending", "delivered", "failed")


def view(sub: WebhookSubscription) -> dict[str, Any]:
    """A subscription as the API shows it: never its secret."""
    return {"id": sub.id, "url": sub.url, "event_types": list(sub.event_types),
            "description": sub.description, "active": sub.active,
            "disabled_reason": sub.disabled_reason,
            "consecutive_failures": sub.consecutive_failures,
            "cursor": str(sub.fanout_position), "owner_id": sub.owner_id,
            "created_at": sub.created_at, "updated_at": sub.updated_at,
            "version": sub.version}


def _audited(sub: WebhookSubscription) -> dict[str, Any]:
    keep = ("url", "event_types", "description", "active", "disabled_reason", "version")
    return {k: v for k, v in view(sub).items() if k in keep}


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("The webhook URL must be an http:// or https:// address, e.g. "
                      "https://lims.hospital.example/hooks/lims.", field="url")
    if parts.username or parts.password:
        raise Invalid("Put no user name or password in the webhook URL: check the "
                      "signature instead.", field="url")
    return url


def subscribe(ctx: Context, *, url: str, event_types: Iterable[str],
              description: str | None = None) -> tuple[WebhookSubscription, str]:
    """A new subscription and its secret, which is shown this once. It receives the
    events that commit from now on (replay a cursor for earlier ones)."""
    permissions.require(ctx.actor.roles, "manage_webhooks")
    types = feed.check_types(event_types) or ("*",)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    sub = WebhookSubscription(
        url=check_url(url), event_types=list(types), description=description, secret=secret,
        owner_id=ctx.actor.id, fanout_position=outbox.last_position(ctx.session),
        created_at=ctx.now, updated_at=ctx.now)
    ctx.session.add(sub)
    ctx.session.flush()
    audit.record(ctx, "webhook_created", "webhook", sub.id, after=_audited(sub))
    return sub, secret


def _may_see(ctx: Context, sub: WebhookSubscription) -> bool:
    """Connected systems see their own subscriptions; admins see all."""
    return sub.owner_id == ctx.actor.id or "admin" in ctx.actor.roles


def get(ctx: Context, subscription_id: str, *, lock: bool = False) -> WebhookSubscription:
    permissions.require(ctx.actor.roles, "manage_webhooks")
    sub = queries.get(ctx.session, WebhookSubscription, subscription_id, lock=lock)
    if not _may_see(ctx, sub):
        raise NotFound(f"No webhook with id {subscription_id}.")
    return sub


def list_all(ctx: Context) -> list[WebhookSubscription]:
    permissions.require(ctx.actor.roles, "manage_webhooks")
    admin = "admin" in ctx.actor.roles
    return store.subscriptions(ctx.session, None if admin else ctx.actor.id)


def _change(ctx: Context, sub: WebhookSubscription, action: str, expected: int | None,
            reason: str | None = None, **values: Any) -> WebhookSubscription:
    if expected is not None and expected != sub.version:
        raise StaleVersion(f"The webhook changed since you loaded it (your version "
                           f"{expected}, now {sub.version}). Reload it and try again.",
                           current_version=sub.version)
    before = _audited(sub)
    for name, value in values.items():
        setattr(sub, name, value)
    sub.version += 1
    sub.updated_at = ctx.now
    ctx.session.add(sub)
    ctx.session.flush()
    audit.record(ctx, action, "webhook", sub.id, before=before, after=_audited(sub),
                 reason=reason)
    return sub


def disable(ctx: Context, sub: WebhookSubscription, reason: str,
            expected: int | None = None) -> WebhookSubscription:
    """No deliveries until enabled again; pending ones wait. Also used by the worker for
    a receiver that keeps failing: the event `webhook.disabled` says so."""
    return _change(ctx, sub, "webhook_disabled", expected, reason=reason, active=False,
                   disabled_reason=reason)


def enable(ctx: Context, sub: WebhookSubscription, expected: int | None = None,
           note: str | None = None) -> WebhookSubscription:
    """Deliver again: the failure count starts over and pending deliveries are due now."""
    _change(ctx, sub, "webhook_enabled", expected, reason=note, active=True,
            disabled_reason=None, consecutive_failures=0)
    store.wake_pending(ctx.session, sub.id, ctx.now)
    return sub


def replay(ctx: Context, sub: WebhookSubscription, from_cursor: str,
           expected: int | None = None) -> WebhookSubscription:
    """Deliver again every selected event after the feed cursor, delivered before or not
    (a receiver that lost data, or one re-enabled after an outage)."""
    position = feed.parse_cursor(from_cursor, "from")
    if position > outbox.last_position(ctx.session):
        raise Invalid("This cursor is ahead of the feed: take one from GET /events.",
                      field="from")
    return _change(ctx, sub, "webhook_replayed", expected, reason=f"from cursor {position}",
                   fanout_position=position)


@checked
def deliveries(ctx: Context, sub: WebhookSubscription, cursor: str | None, limit: PageSize,
               status: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The delivery log: newest event first, with the last attempts of each."""
    if status is not None and status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}.", field="status")
    rows, nxt = store.deliveries_page(ctx.session, sub.id, cursor, limit, status)
    return [{
        "id": d.id, "event_id": e.event_id, "event_type": e.type, "cursor": str(e.position),
        "status": d.status, "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at if d.status == "pending" else None,
        "last_attempt_at": d.last_attempt_at, "last_status_code": d.last_status_code,
        "last_error": d.last_error, "delivered_at": d.delivered_at, "log": d.log,
    } for d, e in rows], nxt
