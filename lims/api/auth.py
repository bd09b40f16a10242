"""Sign-in (OAuth2 password flow), users and API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, status
from pydantic import BaseModel, Field

from lims.api.contract import ContractRoute
from lims.api.deps import Auth, get_engine, get_settings, request_context
from lims.api.problems import problem, responses
from lims.api.schemas import In
from lims.db.engine import unit_of_work
from lims.domain.states import Role
from lims.services import users
from lims.services.context import SYSTEM

router = APIRouter(tags=["auth"], route_class=ContractRoute)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    user: dict


class UserIn(In):
    username: str = Field(min_length=2, max_length=60, pattern=r"^[a-z0-9._-]+$")
    full_name: str = Field(min_length=1, max_length=120)
    roles: list[Role] = Field(min_length=1)
    password: str | None = Field(default=None, min_length=10, max_length=200,
                                 description="Omit for a service account")


class UserChangeIn(In):
    full_name: str | None = Field(default=None, min_length=1, max_length=120)
    roles: list[Role] | None = Field(default=None, min_length=1)
    active: bool | None = Field(default=None, description="false: the account cannot sign in")


class ApiKeyIn(In):
    name: str = Field(min_length=1, max_length=80)
    scopes: list[str] = Field(default=["read", "write"])


class SignInForm:
    """The OAuth2 password flow's form: user name and password (grant_type may be sent)."""

    def __init__(self, username: Annotated[str, Form(min_length=1, max_length=60)],
                 password: Annotated[str, Form(min_length=1, max_length=200)]) -> None:
        self.username, self.password = username, password


@router.post("/auth/token", response_model=TokenOut, operation_id="sign_in",
             responses=responses(401, 422, 429))
def sign_in(request: Request, form: Annotated[SignInForm, Depends()]):  # noqa: ANN201
    """Exchange user name and password for a bearer token. Repeated failures lock the
    account for a while, and too many from one client address make it wait (429); every
    failure is in the audit trail."""
    settings = get_settings(request)
    # Own transaction: a failed attempt must be recorded even though we answer 401.
    with unit_of_work(get_engine(request)) as session:
        ctx = request_context(request, session, SYSTEM)
        user, result = users.sign_in(ctx, form.username, form.password)
    if user is None:
        detail = ("Too many failed sign-ins: this account is locked for a while."
                  if result == "locked" else "User name or password is wrong.")
        return problem(request, 401, "Sign-in failed", detail, "sign-in-failed")
    return TokenOut(access_token=result or "", expires_in=settings.token_hours * 3600,
                    user={"id": user.id, "username": user.username,
                          "full_name": user.full_name, "roles": user.roles})


@router.get("/auth/me", operation_id="whoami", responses=responses(401))
def whoami(ctx: Auth) -> dict:
    return {"id": ctx.actor.id, "username": ctx.actor.username, "name": ctx.actor.name,
            "roles": sorted(ctx.actor.roles)}


@router.post("/users", status_code=status.HTTP_201_CREATED, operation_id="add_user",
             responses=responses(401, 403, 409, 422))
def add_user(body: UserIn, ctx: Auth) -> dict:
    u = users.add_user(ctx, **body.model_dump())
    return {"id": u.id, "username": u.username, "full_name": u.full_name, "roles": u.roles}


@router.patch("/users/{user_id}", operation_id="change_user",
              responses=responses(401, 403, 404, 409, 422))
def change_user(user_id: str, body: UserChangeIn, ctx: Auth) -> dict:
    """Rename a user, change roles, or deactivate (tokens and keys stop working)."""
    u = users.change_user(ctx, users.user(ctx, user_id),
                          **body.model_dump(exclude_unset=True))
    return {"id": u.id, "username": u.username, "full_name": u.full_name, "roles": u.roles,
            "active": u.active}


@router.post("/users/{user_id}/api-keys", status_code=status.HTTP_201_CREATED,
             operation_id="create_api_key", responses=responses(401, 403, 404, 422))
def create_api_key(user_id: str, body: ApiKeyIn, ctx: Auth) -> dict:
    """The key is in this answer only; the service keeps just its hash."""
    key, secret = users.create_api_key(ctx, users.user(ctx, user_id),
                                       body.name, body.scopes)
    return {"id": key.id, "name": key.name, "prefix": key.prefix, "scopes": key.scopes,
            "key": secret}


@router.delete("/api-keys/{key_id}", operation_id="revoke_api_key",
               responses=responses(401, 403, 404))
def revoke_api_key(key_id: str, ctx: Auth) -> dict:
    key = users.revoke_api_key(ctx, users.api_key(ctx, key_id))
    return {"id": key.id, "revoked_at": key.revoked_at}
