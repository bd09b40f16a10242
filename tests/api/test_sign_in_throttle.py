"""Sign-in is rate limited per account (lockout) and per client address: guessing over
many user names from one computer is stopped too (issue 13, access control)."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

LIMIT = 6


@pytest.fixture
def throttled(app, api):
    app.state.settings = app.state.settings.model_copy(
        update={"failed_login_limit_per_address": LIMIT})
    return api


def sign_in(api, username: str, password: str):
    return api.client.post("/api/v1/auth/token",
                           data={"username": username, "password": password})


def test_failures_over_many_user_names_make_the_address_wait(throttled) -> None:
    for i in range(LIMIT):  # each name fails once: no account reaches its lockout
        r = sign_in(throttled, f"guess{i}", "not-the-password")
        assert r.status_code == 401, r.text
    r = sign_in(throttled, "guess-next", "not-the-password")
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert int(r.headers["Retry-After"]) > 0
    # The right password does not get through from this address either, for now.
    r = sign_in(throttled, "tech", PASSWORD)
    assert r.status_code == 429
    assert PASSWORD not in r.text


def test_a_few_failures_do_not_stop_a_person_from_signing_in(throttled) -> None:
    for _ in range(2):
        assert sign_in(throttled, "tech", "typo-in-password").status_code == 401
    r = sign_in(throttled, "tech", PASSWORD)
    assert r.status_code == 200, r.text
