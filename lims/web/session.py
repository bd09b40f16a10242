"""Signed-in pages: the session cookie, CSRF tokens, security headers, and a route class
that turns a refusal into a page a person can read instead of problem+json."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from lims.api.deps import get_engine, request_context
from lims.api.problems import STATUS
from lims.db.engine import unit_of_work
from lims.domain import errors
from lims.domain.custody import party_text
from lims.services import users
from lims.services.context import Context

HERE = Path(__file__).parent
COOKIE = "lims_session"
PRE_COOKIE = "lims_signin"  # before sign-in: a random value the sign-in form echoes
CAPTURE_JS = (HERE / "capture.js").read_text()
CAPTURE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(CAPTURE_JS.encode()).digest()).decode()
CSP = ("default-src 'self'; script-src 'self' '" + CAPTURE_HASH + "'; style-src 'self'; "
       "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY",
                    "Cache-Control": "no-store"}

templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["capture_js"] = CAPTURE_JS
# Custodians as a person says them: "Midwife M. (collector)", "MedExpress (courier)".
templates.env.filters["party"] = party_text


def csrf_for(session_token: str) -> str:
    """The form token of a session: only a page of this origin can read it (the cookie is
    HttpOnly), so another site cannot forge a post."""
    return hmac.new(session_token.encode(), b"lims-csrf", hashlib.sha256).hexdigest()


def check_csrf(request: Request, sent: str | None, *, signing_in: bool = False) -> None:
    """Refuse a post whose token is missing or not this session's (the sign-in form
    carries the random value of its own cookie instead)."""
    token = request.cookies.get(COOKIE) or ""
    expected = (request.cookies.get(PRE_COOKIE) or "") if signing_in or not token \
        else csrf_for(token)
    if not (sent and expected and hmac.compare_digest(sent, expected)):
        raise errors.NotPermitted("This form is out of date or did not come from lims "
                                  "(missing security token). Reload the page and try again.")


def new_pre_token() -> str:
    return secrets.token_urlsafe(24)


def set_cookie(request: Request, response: Response, name: str, value: str,
               max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")


@contextmanager
def transaction(request: Request, *, signed_in: bool = True) -> Iterator[Context]:
    """One unit of work for a page, with the person signed in by the session cookie."""
    with unit_of_work(get_engine(request)) as session:
        ctx = request_context(request, session)
        if signed_in:
            token = request.cookies.get(COOKIE)
            if not token:
                raise errors.NotAuthenticated("Sign in first.")
            ctx.actor = users.actor_of(users.user_for_token(ctx, token))
            request.state.actor = ctx.actor.username
            request.state.page_actor = ctx.actor
        yield ctx


def status_of(exc: errors.DomainError) -> int:
    return next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    token = request.cookies.get(COOKIE)
    context.setdefault("csrf", csrf_for(token) if token else request.cookies.get(PRE_COOKIE, ""))
    context.setdefault("actor", getattr(request.state, "page_actor", None))
    return templates.TemplateResponse(request, name, context, status_code=status)


def fragment_request(request: Request) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


class PageRoute(APIRoute):
    """Pages answer in HTML: sign-in needed -> the sign-in page, any other refusal -> the
    refusal in words (a fragment for the bench's own requests). Security headers on all."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except errors.DomainError as exc:
                if isinstance(exc, errors.NotAuthenticated) and request.method == "GET" \
                        and not fragment_request(request):
                    nxt = quote(request.url.path + (f"?{request.url.query}"
                                                    if request.url.query else ""))
                    response = RedirectResponse(f"/signin?next={nxt}", status_code=303)
                else:
                    name = "_refusal.html" if fragment_request(request) else "refusal.html"
                    response = render(request, name, status_of(exc), title=exc.title,
                                      detail=exc.detail, extra=exc.extra)
            for k, v in SECURITY_HEADERS.items():
                response.headers.setdefault(k, v)
            return response

        return route
