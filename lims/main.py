"""The application factory. The engine is made here, when the app is created."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response
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

    @app.middleware("http")
    async def _request_id(request: Request,
                          call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request.state.request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        start = time.perf_counter()
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        # One structured line per request; the request id is also in every audit entry.
        log.info(json.dumps({
            "method": request.method, "path": request.url.path,
            "status": response.status_code,
            "ms": round((time.perf_counter() - start) * 1000, 1),
            "user": getattr(request.state, "actor", None),
            "request_id": request.state.request_id}))
        return response

    return app
