"""The event feed: every audited change is also an event, written in the same transaction
(a transactional outbox), readable in commit order from any cursor, and delivered to
webhooks by `lims worker`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lims.db import outbox
from lims.db.tables import AuditEntry, OutboxEvent, Sample
from lims.domain import feed, permissions
from lims.domain.audit import jsonable
from lims.domain.checks import FeedPage, checked
from lims.services.context import Context

# Depends on who looks, not on the sample: a reader asks GET /samples/{id} for its own.
VIEWER_SPECIFIC = ("allowed_events",)


def publish(ctx: Context, entry: AuditEntry) -> None:
    """Write the event of one audit entry (called by audit.record, so no writer forgets)."""
    if entry.entity_type in feed.NOT_PUBLISHED:
        return
    outbox.append(ctx.session, OutboxEvent(
        type=feed.event_type(entry.entity_type, entry.action),
        entity_type=entry.entity_type, entity_id=entry.entity_id,
        entity_version=entry.chain_seq, occurred_at=entry.at, actor_id=entry.actor_id,
        actor_name=entry.actor_name, request_id=entry.request_id,
        data=feed.without_secrets(jsonable(representation(ctx, entry))),
    ))


def representation(ctx: Context, entry: AuditEntry) -> dict[str, Any]:
    """What the entity looks like after the change: a sample's read model (the same rows
    the API lists), else the record of the change written to the audit trail."""
    if entry.entity_type == "sample":
        sample = ctx.session.get(Sample, entry.entity_id)
        if sample is not None:
            from lims.services import views  # views -> donors -> audit -> here

            row = views.rows(ctx, [sample])[0]
            return {k: v for k, v in row.items() if k not in VIEWER_SPECIFIC}
    return {**(entry.after or {}), **({"reason": entry.reason} if entry.reason else {})}


def event_out(e: OutboxEvent) -> dict[str, Any]:
    """One event as readers and webhook receivers get it."""
    return {
        "id": e.event_id, "cursor": str(e.position), "type": e.type,
        "entity": {"type": e.entity_type, "id": e.entity_id, "version": e.entity_version},
        "time": e.occurred_at, "actor": {"id": e.actor_id, "name": e.actor_name},
        "request_id": e.request_id, "data": e.data,
    }


@checked
def read(ctx: Context, after: str | None, types: Iterable[str], limit: FeedPage
         ) -> tuple[list[dict[str, Any]], str]:
    """Events after the cursor in commit order, and the cursor to ask with next time
    (the same one when nothing new has committed)."""
    permissions.require(ctx.actor.roles, "follow_events")
    position = feed.parse_cursor(after)
    # Read up to the newest position first: everything at or below it has committed, so
    # a short page may move the cursor past events the type filter left out.
    upto = outbox.last_position(ctx.session)
    rows = outbox.after(ctx.session, position, types=feed.check_types(types), limit=limit,
                        upto=upto)
    nxt = rows[-1].position if len(rows) == limit else max(upto, position)
    return [event_out(e) for e in rows], str(nxt)
