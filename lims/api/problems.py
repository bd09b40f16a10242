"""RFC 9457 problem+json for every error, mapped from domain errors in one place."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from lims.db.errors import (
    BrokenConnection,
    ConflictingWrite,
    DatabaseError,
    DatabaseUnavailable,
    UnstorableValue,
)
from lims.domain import errors

STATUS: dict[type[errors.DomainError], int] = {
    errors.NotFound: 404,
    errors.Invalid: 422,
    errors.IllegalTransition: 409,
    errors.GuardFailed: 409,
    errors.Conflict: 409,
    errors.StaleVersion: 412,
    errors.NotPermitted: 403,
    errors.NotAuthenticated: 401,
    errors.TooManyAttempts: 429,
}
TYPE_BASE = "https://lims.example/problems/"
# Seconds a client should wait before retrying while the database is away.
RETRY_AFTER_SECONDS = 5


FHIR_ISSUE = {401: "login", 403: "forbidden", 404: "not-found", 409: "conflict",
              412: "conflict", 422: "invalid"}


def problem(request: Request, status: int, title: str, detail: str,
            slug: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    if request.url.path.startswith("/api/v1/fhir/"):
        # FHIR clients read errors as an OperationOutcome.
        from lims.services.fhir import FHIR_JSON, operation_outcome

        return JSONResponse(operation_outcome(detail, FHIR_ISSUE.get(status, "processing")),
                            status_code=status, media_type=FHIR_JSON, headers=headers)
    body = {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail,
            "instance": request.url.path,
            "request_id": getattr(request.state, "request_id", None), **extra}
    headers = {**({"WWW-Authenticate": "Bearer"} if status == 401 else {}), **(headers or {})}
    return JSONResponse(body, status_code=status, media_type="application/problem+json",
                        headers=headers)


def _slug(exc: Exception) -> str:
    name = type(exc).__name__
    return "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.DomainError)
    async def _domain(request: Request, exc: errors.DomainError) -> JSONResponse:
        status = next(s for cls, s in STATUS.items() if isinstance(exc, cls)) \
            if any(isinstance(exc, c) for c in STATUS) else 400
        headers = {"Retry-After": str(exc.extra["retry_after"])} \
            if "retry_after" in exc.extra else None
        return problem(request, status, exc.title, exc.detail, _slug(exc), headers=headers,
                       **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{p['field'] or 'request'}: {p['message']}" for p in problems)
        return problem(request, 422, "Invalid request", f"Please correct: {detail}",
                       "validation", errors=problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {400: "Unreadable request", 404: "Not found", 405: "Method not allowed",
                  401: "Sign-in required"}
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method of the path (RFC 9110), not one route's
            from lims.api.openapi import allowed_methods

            headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        answer = problem(request, exc.status_code, titles.get(exc.status_code, "Error"),
                         detail, f"http-{exc.status_code}")
        answer.headers.update(headers)
        return answer

    @app.exception_handler(UnstorableValue)
    async def _data(request: Request, exc: UnstorableValue) -> JSONResponse:
        # e.g. a NUL character, which PostgreSQL cannot store in text
        return problem(request, 422, "Invalid request",
                       "The request contains characters or values that cannot be stored "
                       "(for example a NUL character); nothing was saved.", "unstorable-value")

    @app.exception_handler(ConflictingWrite)
    async def _integrity(request: Request, exc: ConflictingWrite) -> JSONResponse:
        # Two requests raced for the same record (e.g. one audit chain or one position).
        return problem(request, 409, "Conflicting change",
                       "The change clashes with what is stored (a duplicate, a reference to "
                       "something missing, or someone changing the same record at the same "
                       "moment); nothing was saved. Reload and try again.", "conflicting-change")

    @app.exception_handler(DatabaseUnavailable)
    @app.exception_handler(BrokenConnection)
    async def _db_down(request: Request, exc: DatabaseError) -> JSONResponse:
        return database_unavailable(request)

    @app.exception_handler(DatabaseError)
    async def _db_other(request: Request, exc: DatabaseError) -> JSONResponse:
        # A connection that broke mid-statement (server restart, network): a retry helps.
        if exc.connection_invalidated:
            return database_unavailable(request)
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return problem(request, 500, "Unexpected error",
                       "Something went wrong on the server; nothing was saved. Quote the "
                       "request id to support.", "internal")


def database_unavailable(request: Request) -> JSONResponse:
    """503 with Retry-After: the request did nothing; the same request later will work
    (an Idempotency-Key makes the retry safe even if the commit did reach the database)."""
    return problem(request, 503, "Database unavailable",
                   "The database did not answer; nothing was saved. Try again shortly.",
                   "database-unavailable", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the error responses a route can give."""
    from lims.api.schemas import Problem

    text = {400: "Unreadable body (not JSON, or not the declared type)",
            401: "Not signed in", 403: "Role not permitted",
            404: "Unknown id", 409: "Conflicts with the current state", 412: "Stale If-Match",
            422: "Invalid input", 429: "Too many attempts", 503: "Database unavailable"}
    return {c: {"description": text.get(c, "Error"), "model": Problem} for c in codes}
