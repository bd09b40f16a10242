"""Reading and verifying the audit trail; the per-sample timeline in plain sentences."""

from __future__ import annotations

from datetime import tzinfo
from typing import Annotated, Any

from fastapi import APIRouter, Query

from lims.api.contract import ContractRoute
from lims.api.deps import Auth
from lims.api.problems import responses
from lims.api.schemas import Instant, Page
from lims.db import queries
from lims.db.tables import AuditEntry, Sample
from lims.domain import audit as hashing
from lims.domain import permissions
from lims.services import audit

router = APIRouter(tags=["audit"], route_class=ContractRoute)


def entry_out(e: AuditEntry, zone: tzinfo) -> dict[str, Any]:
    d = e.model_dump()
    d["text"] = hashing.describe(d, zone)
    return d


@router.get("/audit", response_model=Page, operation_id="list_audit",
            responses=responses(401, 403, 422))
def list_audit(
    ctx: Auth, entity_type: str | None = None, entity_id: str | None = None,
    actor_id: str | None = None, action: str | None = None,
    since: Instant | None = None, until: Instant | None = None,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$", description=(
        "next_cursor of the previous page"))] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page:
    """Audit entries in the order they were written, filtered."""
    permissions.require(ctx.actor.roles, "read_audit")
    rows, nxt = queries.audit_page(
        ctx.session, queries.encode_cursor(cursor) if cursor else None, limit,
        entity_type=entity_type, entity_id=entity_id, actor_id=actor_id, action=action,
        since=since, until=until)
    # Audit ids are integers: the cursor is the last one seen, as it is.
    return Page(items=[entry_out(e, ctx.settings.zone) for e in rows],
                next_cursor=queries.decode_cursor(nxt) if nxt else None)


@router.get("/audit/verify", operation_id="verify_audit", responses=responses(401, 403))
def verify_audit(ctx: Auth) -> dict[str, Any]:
    """Recompute every chain, checkpoint and signature; names the first broken entry."""
    permissions.require(ctx.actor.roles, "verify_audit")
    return audit.verify(ctx)


@router.get("/samples/{sample_id}/timeline", operation_id="sample_timeline",
            responses=responses(401, 403, 404))
def sample_timeline(sample_id: str, ctx: Auth) -> list[dict[str, Any]]:
    """Everything that happened to the sample (events, custody, prints, signatures, edits)
    as sentences a person can read, oldest first."""
    queries.get(ctx.session, Sample, sample_id)
    rows = queries.sample_timeline(ctx.session, sample_id)
    return [{"at": e.at, "action": e.action, "actor": e.actor_name, "text": hashing.describe(
        e.model_dump(), ctx.settings.zone)} for e in rows]
