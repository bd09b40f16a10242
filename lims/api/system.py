"""Health, readiness and the workflow table (machine-readable and drawn)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from lims.api.contract import ContractRoute
from lims.api.deps import Auth
from lims.api.problems import RETRY_AFTER_SECONDS, responses
from lims.db.engine import current_revision
from lims.domain import workflow

router = APIRouter(tags=["system"], route_class=ContractRoute)


@router.get("/healthz", operation_id="health")
def health() -> dict[str, str]:
    """The process is up (does not touch the database)."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="readiness")
def readiness(request: Request) -> JSONResponse:
    """Ready to serve: the database answers and is migrated to the expected revision."""
    try:
        rev = current_revision(request.app.state.engine)
    except Exception:  # noqa: BLE001 - any failure means not ready
        return JSONResponse({"status": "unavailable", "detail": "database not reachable"}, 503,
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    if rev is None:
        return JSONResponse({"status": "unavailable", "detail": "database not migrated"}, 503)
    return JSONResponse({"status": "ready", "schema_revision": rev})


@router.get("/workflow", operation_id="workflow", responses=responses(401))
def workflow_table(ctx: Auth) -> dict[str, Any]:
    """The sample state machine: states, every transition with its roles, reason,
    signature (and its meanings), guards, the data fields it takes (name, type, unit,
    required, allowed values), and a Mermaid diagram drawn from the same table."""
    return workflow.describe()
