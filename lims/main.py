"""The application factory. The engine is made here, when the app is created."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi_offline import FastAPIOffline

from lims import __version__, web
from lims.api import (
    audit,
    auth,
    bench,
    collections,
    custody,
    dashboard,
    donors,
    events,
    exchange,
    fhir,
    identity,
    openapi,
    problems,
    samples,
    system,
    webhooks,
)
from lims.api.limits import BodyLimit
from lims.config import Settings, get_settings
from lims.db.engine import make_engine

log = logging.getLogger("lims.request")

Scope = dict[str, Any]
Receive = Any
Send = Any


class RequestLog:
    """Gives every request an id (X-Request-ID, taken from the caller if sent), returns it
    as a header and writes one structured log line per request. A plain ASGI middleware:
    Starlette's BaseHTTPMiddleware costs a task group and a streamed response copy per
    request, which the profile showed as most of a health check."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                rid = value.decode("latin-1")
                break
        rid = rid or uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        start = time.perf_counter()
        status = 500

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if log.isEnabledFor(logging.INFO):
                # One structured line per request; the request id is also in every audit
                # entry.
                log.info(json.dumps({
                    "method": scope["method"], "path": scope["path"], "status": status,
                    "ms": round((time.perf_counter() - start) * 1000, 1),
                    "user": state.get("actor"), "request_id": rid}))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # Swagger UI and ReDoc from files shipped in the fastapi-offline package: /docs and
    # /redoc work on a lab network without internet.
    app = FastAPIOffline(
        title="lims",
        version=__version__,
        summary="Sample tracking for stem-cell laboratories: harvest to release.",
        description="Every sample is a state machine (GET /api/v1/workflow); every change "
        "is in a hash-chained audit trail; errors are RFC 9457 problem+json.",
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings.database_url)
    problems.install(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    openapi.install(app)

    api = APIRouter(prefix="/api/v1")
    for module in (system, auth, donors, collections, samples, custody, audit, bench,
                   identity, dashboard, events, webhooks, fhir, exchange):
        api.include_router(module.router)
    app.include_router(api)
    web.install(app)

    app.add_middleware(RequestLog)
    return app
