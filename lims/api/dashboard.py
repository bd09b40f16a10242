"""The coordinator's summary: the same numbers the dashboard page shows."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from lims.api.contract import ContractRoute
from lims.api.deps import Auth
from lims.api.problems import responses
from lims.domain.sources import Source
from lims.services import dashboard

router = APIRouter(tags=["dashboard"], route_class=ContractRoute)


@router.get("/dashboard", operation_id="dashboard", responses=responses(401, 403, 422))
def get_dashboard(ctx: Auth, source: Source | None = None,
                  days: Annotated[int, Query(ge=1, le=90)] = 14) -> dict[str, Any]:
    """Counts by state and source, what needs attention (overdue, on hold, open
    excursions, expiring in 24 h, waiting for QA release), work in progress and
    throughput per day. The dashboard page shows exactly these numbers."""
    return dashboard.summary(ctx, source=source.value if source else None, days=days)
