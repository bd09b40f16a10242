"""A database that does not answer: every request that needs it gets a 503 problem with
Retry-After (never a 500), readiness says not ready, health stays up. Found by the
reliability suite's outage test (tests/reliability/test_outage.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from lims.config import Settings
from lims.main import create_app

# Nothing listens on port 1: connecting fails at once, like a stopped server.
NOWHERE = "postgresql+psycopg://postgres@127.0.0.1:1/lims?connect_timeout=2"


@pytest.fixture(scope="module")
def client():
    app = create_app(Settings(database_url=NOWHERE))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    app.state.engine.dispose()


@pytest.mark.parametrize(("method", "path", "kw"), [
    ("GET", "/api/v1/samples", {}),
    ("GET", "/api/v1/auth/me", {}),
    ("POST", "/api/v1/samples/x/transitions", {"json": {"event": "receive"}}),
    ("POST", "/api/v1/auth/token", {"data": {"username": "tech", "password": "secret-pass"}}),
])
def test_requests_get_503_with_retry_after(client, method, path, kw) -> None:
    r = client.request(method, path, headers={"Authorization": "Bearer tech-token"}, **kw)
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert int(r.headers["Retry-After"]) > 0
    body = r.json()
    assert body["status"] == 503 and "Traceback" not in r.text
    assert "nothing was saved" in body["detail"]


def test_readiness_says_not_ready_and_health_stays_up(client) -> None:
    r = client.get("/api/v1/readyz")
    assert r.status_code == 503 and int(r.headers["Retry-After"]) > 0
    assert client.get("/api/v1/healthz").status_code == 200
