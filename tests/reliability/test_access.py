"""Access control on the running servers: every route, enumerated from the app itself,
with no credentials, an expired token, a revoked API key and a deactivated user; the
documented roles per action; audit rows that no path can change.

The page routes are in app.routes too: without a valid session they send the browser to
the sign-in page (or refuse a form post), never serve the page.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from lims.config import Settings
from lims.db.engine import make_engine, unit_of_work
from lims.db.tables import AppUser, AuthToken
from lims.db.types import utcnow
from lims.main import create_app
from lims.services import passwords
from tests.api import helpers
from tests.reliability.client import HttpApi, client, is_problem
from tests.reliability.figures import SECRETS, add

# The lab's SOP: only these may be used without signing in (health checks for the load
# balancer, the sign-in itself, and the API's own documentation).
PUBLIC = {("GET", "/api/v1/healthz"), ("GET", "/api/v1/readyz"),
          ("POST", "/api/v1/auth/token"), ("GET", "/openapi.json"), ("GET", "/docs"),
          ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"),
          # FHIR clients read what the server can do before they sign in.
          ("GET", "/api/v1/fhir/metadata"),
          # The sign-in page and its form.
          ("GET", "/signin"), ("POST", "/signin")}


def refused(r: httpx.Response, path: str) -> bool:
    """The API answers a 401 problem; a page sends the browser to the sign-in page (or
    refuses a form post without its CSRF token)."""
    if path.startswith("/api/v1/fhir/"):  # FHIR clients read errors as OperationOutcome
        return r.status_code == 401 and r.json().get("resourceType") == "OperationOutcome"
    if path.startswith("/api/v1/"):
        return is_problem(r, 401)
    if r.status_code in (302, 303):
        return r.headers.get("location", "").startswith("/signin")
    # A form post without a session is refused before anything runs: no CSRF token
    # (403) or no form (422); nothing is served and nothing changes.
    return r.status_code in (401, 403, 422)


def _flat(routes: list) -> list:
    """app.routes with included routers opened (FastAPI >= 0.16x keeps them nested)."""
    out = []
    for route in routes:
        inner = getattr(route, "effective_route_contexts", None)
        out.extend(inner() if inner else [route])
    return out


def all_routes() -> list[tuple[str, str]]:
    app = create_app(Settings(database_url="sqlite:///:memory:"))
    app.state.engine.dispose()
    out = []
    for route in _flat(app.routes):
        methods = getattr(route, "methods", None) or set()
        for m in sorted(methods - {"HEAD", "OPTIONS"}):
            out.append((m, route.path))
    return out


@pytest.fixture(scope="module")
def api(servers) -> HttpApi:
    return client(servers[0].url)


@pytest.fixture(scope="module")
def bad_credentials(api: HttpApi, rel_db: str) -> dict[str, dict[str, str]]:
    admin = api.as_("admin")
    # An expired bearer token of a real, active user.
    expired = passwords.new_secret()
    engine = make_engine(rel_db)
    with unit_of_work(engine) as s:
        tech = s.exec(select(AppUser).where(AppUser.username == "tech")).one()
        s.add(AuthToken(user_id=tech.id, token_hash=passwords.digest(expired),
                        created_at=utcnow() - timedelta(days=2),
                        expires_at=utcnow() - timedelta(minutes=1)))
    engine.dispose()
    # A revoked API key of an active service account.
    svc = admin.post("/users", {"username": "lab-robot", "full_name": "Lab robot",
                                "roles": ["integration"]}).json()
    key = admin.post(f"/users/{svc['id']}/api-keys", {"name": "robot"}).json()
    assert admin.delete(f"/api-keys/{key['id']}").status_code == 200
    # A person who signed in, then was deactivated (token and new sign-ins stop working).
    password = "deactivated-pass-42"
    gone = admin.post("/users", {"username": "gone", "full_name": "Left the lab",
                                 "roles": ["technician", "qa"], "password": password}).json()
    token = api.client.post("/api/v1/auth/token",
                            data={"username": "gone", "password": password}).json()
    assert admin.patch(f"/users/{gone['id']}", {"active": False}).status_code == 200
    r = api.client.post("/api/v1/auth/token", data={"username": "gone", "password": password})
    assert is_problem(r, 401)
    SECRETS.extend([expired, key["key"], password, token["access_token"]])
    return {
        "none": {},
        "garbage token": {"Authorization": "Bearer not-a-token"},
        "expired token": {"Authorization": f"Bearer {expired}"},
        "revoked API key": {"X-API-Key": key["key"]},
        "deactivated user": {"Authorization": f"Bearer {token['access_token']}"},
    }


def test_every_route_refuses_bad_credentials(api: HttpApi, bad_credentials) -> None:
    sample = helpers.primary(api)
    routes = all_routes()
    assert len(routes) > 30
    tried = 0
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        url = path.replace("{sample_id}", sample["id"])
        for part in ("{", "}"):
            url = url.replace(part, "")  # other ids: any value, the sign-in comes first
        for what, headers in bad_credentials.items():
            r = api.client.request(method, url, headers=headers,
                                   json={} if method in ("POST", "PATCH", "PUT") else None)
            tried += 1
            assert refused(r, path), (what, method, path, r.status_code, r.text[:200])
    add("requests tried", tried)
    add("bad-credential requests refused (401)", tried)


# Who may do what, as the lab's SOP states it (not read from the code).
SOP = {
    "add_user": {"admin"},
    "read_audit": {"qa", "coord", "admin"},
    "verify_audit": {"qa", "admin"},
    "add_location": {"coord", "admin"},
    "register_donor": {"coord", "hospital"},
    "register_recipient": {"coord"},
}
PEOPLE = ("tech", "coord", "qa", "admin", "hospital")


def attempt(api: HttpApi, action: str, user: str, n: int) -> httpx.Response:
    a = api.as_(user)
    if action == "add_user":
        return a.post("/users", {"username": f"new-{user}-{n}", "full_name": "New person",
                                 "roles": ["technician"], "password": "long-enough-1"})
    if action == "read_audit":
        return a.get("/audit", params={"limit": 1})
    if action == "verify_audit":
        return a.get("/audit/verify")
    if action == "add_location":
        return a.post("/locations", {"kind": "site", "name": f"Site {user} {n}"})
    if action == "register_donor":
        return a.post("/donors", {"code": f"R-{user}-{n}", "donor_type": "allogeneic"})
    if action == "register_recipient":
        return a.post("/recipients", {"code": f"P-{user}-{n}", "wristband_id": f"WB{n:06d}"})
    raise AssertionError(action)


@pytest.mark.parametrize("action", sorted(SOP))
def test_only_the_documented_roles_act(api: HttpApi, action: str) -> None:
    for n, user in enumerate(PEOPLE):
        r = attempt(api, action, user, n)
        if user in SOP[action]:
            assert r.status_code in (200, 201), (action, user, r.text[:300])
        else:
            assert is_problem(r, 403), (action, user, r.status_code, r.text[:300])
            add("role refusals (403)")


def test_a_read_only_api_key_cannot_write(api: HttpApi) -> None:
    admin = api.as_("admin")
    svc = admin.post("/users", {"username": "reader-bot", "full_name": "Reader",
                                "roles": ["integration"]}).json()
    key = admin.post(f"/users/{svc['id']}/api-keys", {"name": "ro", "scopes": ["read"]}).json()
    SECRETS.append(key["key"])
    headers = {"X-API-Key": key["key"]}
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 200
    r = api.client.post("/api/v1/donors", headers=headers,
                        json={"code": "RO-1", "donor_type": "allogeneic"})
    assert is_problem(r, 403), r.text


def test_no_route_changes_or_deletes_audit_rows(api: HttpApi, rel_db: str) -> None:
    writes = [(m, p) for m, p in all_routes() if "audit" in p and m != "GET"]
    assert writes == [], writes
    # And not behind the service's back either: the database refuses, for the same
    # database user the servers connect as.
    engine = create_engine(rel_db)
    try:
        # Row triggers fire only where there are rows: the trail has plenty; the
        # statement trigger against TRUNCATE guards the checkpoint and signature tables.
        for statement in ("UPDATE audit_entry SET hash = 'edited'", "DELETE FROM audit_entry",
                          *(f"TRUNCATE {t} CASCADE" for t in ("audit_entry", "audit_checkpoint",
                                                               "signature"))):
            with pytest.raises(DBAPIError) as refused, engine.begin() as c:
                c.execute(text(statement))
            assert "append-only" in str(refused.value), refused.value
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM audit_entry "
                                  "WHERE hash = 'edited'")).scalar_one() == 0
    finally:
        engine.dispose()
    verify = api.as_("qa").get("/audit/verify").json()
    assert verify["ok"] is True, verify


def test_sign_in_is_rate_limited_per_account(api: HttpApi) -> None:
    admin = api.as_("admin")
    password = "the-right-one-7"
    admin.post("/users", {"username": "guessed", "full_name": "Guessed at",
                          "roles": ["technician"], "password": password})
    SECRETS.append(password)
    # Five wrong passwords lock the account: then even the right one is refused.
    guesses = [f"wrong-guess-{i}-Zq8" for i in range(5)]
    SECRETS.extend(guesses)  # a mistyped password is still a secret: never logged
    statuses = [api.client.post("/api/v1/auth/token",
                                data={"username": "guessed", "password": g}).status_code
                for g in guesses]
    assert statuses == [401] * 5
    r = api.client.post("/api/v1/auth/token", data={"username": "guessed", "password": password})
    assert is_problem(r, 401) and "locked" in r.json()["detail"]


def test_sign_in_is_rate_limited_per_client_address(api: HttpApi) -> None:
    """Last in this module: afterwards this address may not sign in for a while."""
    seen = []
    for i in range(40):  # one guess per user name: no account reaches its own lockout
        r = api.client.post("/api/v1/auth/token",
                            data={"username": f"guess-{i}", "password": "password-guess"})
        seen.append(r.status_code)
        if r.status_code == 429:
            assert is_problem(r, 429) and int(r.headers["Retry-After"]) > 0
            break
    assert seen[-1] == 429 and set(seen[:-1]) == {401}, seen
    add("sign-ins throttled (429)")
