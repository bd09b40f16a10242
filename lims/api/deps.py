"""Typed dependencies: the unit of work, the signed-in actor (If-Match and
Idempotency-Key are kept by lims/api/contract.py for every route)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from lims.config import Settings
from lims.db.engine import Engine, Session, unit_of_work
from lims.domain.errors import NotAuthenticated, NotPermitted
from lims.services import users
from lims.services.context import Actor, Context

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
# Service accounts: a security scheme in the OpenAPI document, not a parameter per call.
api_key = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey",
                       description="API key of a service account (shown once on creation)")


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


ANONYMOUS = Actor(id="anonymous", name="anonymous", roles=frozenset())


def request_context(request: Request, session: Session, actor: Actor = ANONYMOUS) -> Context:
    """The Context of one request: who, from where, with which request id."""
    return Context(session=session, actor=actor, settings=get_settings(request),
                   request_id=getattr(request.state, "request_id", None),
                   client_addr=request.client.host if request.client else None)


def _transaction(request: Request) -> Iterator[Context]:
    """One transaction per request, committed when the route returns and before the
    response is sent (scope="function"), rolled back if anything raises."""
    with unit_of_work(get_engine(request)) as session:
        yield request_context(request, session)


def _signed_in(
    request: Request,
    ctx: Annotated[Context, Depends(_transaction, scope="function")],
    token: Annotated[str | None, Depends(oauth2)],
    x_api_key: Annotated[str | None, Depends(api_key)],
) -> Context:
    if x_api_key:
        user, key = users.user_for_api_key(ctx, x_api_key)
        if request.method not in ("GET", "HEAD") and "write" not in key.scopes:
            raise NotPermitted("This API key is read-only (scope 'read').")
    elif token:
        user = users.user_for_token(ctx, token)
    else:
        raise NotAuthenticated("Sign in first: send a bearer token or an X-API-Key.")
    ctx.actor = users.actor_of(user)
    request.state.actor = ctx.actor.username
    return ctx


Auth = Annotated[Context, Depends(_signed_in, scope="function")]
