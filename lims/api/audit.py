"""Reading and verifying the audit trail; the per-sample timeline in plain sentences."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from lims.api.contract import ContractRoute
from lims.api.deps import Auth
from lims.api.problems import responses
from lims.api.schemas import Instant, Page
from lims.services import audit

router = APIRouter(tags=["audit"], route_class=ContractRoute)


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
    rows, nxt = audit.entries_page(
        ctx, cursor, limit, entity_type=entity_type, entity_id=entity_id,
        actor_id=actor_id, action=action, since=since, until=until)
    return Page(items=rows, next_cursor=nxt)


@router.get("/audit/verify", operation_id="verify_audit", responses=responses(401, 403))
def verify_audit(ctx: Auth) -> dict[str, Any]:
    """Recompute every chain, checkpoint and signature; names the first broken entry."""
    return audit.verify(ctx)


@router.get("/samples/{sample_id}/timeline", operation_id="sample_timeline",
            responses=responses(401, 403, 404))
def sample_timeline(sample_id: str, ctx: Auth) -> list[dict[str, Any]]:
    """Everything that happened to the sample (events, custody, prints, signatures, edits)
    as sentences a person can read, oldest first."""
    return audit.sample_history(ctx, sample_id)
