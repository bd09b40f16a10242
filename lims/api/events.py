"""The event feed: every change, in commit order, from any cursor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from lims.api.contract import ContractRoute
from lims.api.deps import Auth
from lims.api.problems import responses
from lims.api.schemas import Page
from lims.services import feed

router = APIRouter(tags=["events"], route_class=ContractRoute)


@router.get("/events", response_model=Page, operation_id="list_events",
            summary="Follow the event feed", responses=responses(401, 403, 422))
def list_events(
    ctx: Auth,
    after: Annotated[str | None, Query(
        description="Cursor: the `cursor` of the last event you processed (or the "
        "`next_cursor` of the last page). Leave out to start from the first event.",
        examples=["1042"])] = None,
    types: Annotated[list[str], Query(
        description="Event types to return (repeat or separate with commas); `sample.*` "
        "selects every sample event. Leave out for all.", examples=["sample.*"])] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Page:
    """Events in the order their changes committed. Each event: `id` (for
    de-duplication), `cursor`, `type`, `entity` (type, id, version: the entity's change
    number), `time`, `actor` and `data` (the entity after the change; for samples the
    same fields as the sample list). A reader that resumes from the cursor of the last
    event it processed misses none and sees none twice. `next_cursor` is where to resume;
    it stays the same while nothing new has committed, so poll with it."""
    items, nxt = feed.read(ctx, after, types, limit)
    return Page(items=items, next_cursor=nxt)
