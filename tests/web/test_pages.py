"""Pages through plain HTTP (no browser): sign-in, CSRF, roles, the dashboard's numbers,
previews that record nothing, offline docs. The browser tests are in test_browser.py."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.api import helpers as h
from tests.conftest import PASSWORD


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "the page has no CSRF token"
    return m.group(1)


def sign_in(client: TestClient, user: str, password: str = PASSWORD) -> object:
    page = client.get("/signin")
    return client.post("/signin", data={"username": user, "password": password,
                                        "csrf": csrf_of(page.text)}, follow_redirects=False)


@pytest.fixture
def web(app):
    with TestClient(app) as client:
        yield client


def test_root_sends_a_stranger_to_sign_in(web):
    r = web.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")


def test_sign_in_sets_a_safe_session_cookie_and_home_fits_the_role(web):
    r = sign_in(web, "tech")
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "lims_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert web.get("/", follow_redirects=False).headers["location"].startswith("/bench")


@pytest.mark.parametrize("user,home", [("coord", "/dashboard"), ("qa", "/dashboard"),
                                       ("admin", "/admin")])
def test_home_per_role(web, user, home):
    sign_in(web, user)
    assert web.get("/", follow_redirects=False).headers["location"] == home


def test_wrong_password_is_refused_and_counts_to_the_lockout(web, settings):
    for _ in range(settings.failed_login_limit):
        r = sign_in(web, "tech", "not-the-password")
        assert r.status_code == 401 and "wrong" in r.text
    r = sign_in(web, "tech")  # the right password, but the account is locked now
    assert r.status_code == 401 and "locked" in r.text


def test_a_post_without_the_csrf_token_is_refused(web):
    page = web.get("/signin")
    r = web.post("/signin", data={"username": "tech", "password": PASSWORD},
                 follow_redirects=False)
    assert r.status_code == 403 and "security token" in r.text
    sign_in(web, "tech")
    bench = web.get("/bench?station=bench-9")
    assert bench.status_code == 200
    for url, data in (("/bench/scan", {"payload": "=W12342600000100", "station": "b"}),
                      ("/signout", {}), ("/bedside", {"wristband": "x", "product": "y"})):
        r = web.post(url, data=data, follow_redirects=False)
        assert r.status_code == 403, url
        r = web.post(url, data={**data, "csrf": csrf_of(page.text)}, follow_redirects=False)
        assert r.status_code == 403, f"{url}: the sign-in form's token is not a session token"
    # still signed in: nothing was done
    assert web.get("/bench").status_code == 200


def test_sign_out_ends_the_session(web):
    sign_in(web, "tech")
    page = web.get("/bench")
    token = web.cookies.get("lims_session")
    r = web.post("/signout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    web.cookies.set("lims_session", token)  # an old cookie replayed does not work either
    assert web.get("/bench", follow_redirects=False).status_code == 303


def test_a_technician_cannot_open_user_administration(web):
    sign_in(web, "tech")
    r = web.get("/admin")
    assert r.status_code == 403 and "manage users" in r.text
    sign_in(web, "admin")
    r = web.get("/admin")
    assert r.status_code == 200 and "tech2" in r.text


def test_pages_send_a_strict_content_security_policy(web):
    sign_in(web, "coord")
    csp = web.get("/dashboard").headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    script = re.search(r"script-src ([^;]+)", csp).group(1)
    assert "'unsafe-inline'" not in script and "http" not in csp


def test_dashboard_counts_are_the_api_numbers(web, api):
    sample = h.primary(api)
    h.step(api, sample["id"], "place_hold", reason="label smudged")
    numbers = api.as_("coord").get("/dashboard").json()
    assert numbers["by_state"]["collected"] == 1
    assert numbers["attention"]["on_hold"]["count"] == 1
    assert numbers["by_source"]["cord_blood"] == 1
    sign_in(web, "coord")
    html = web.get("/dashboard").text
    assert re.search(r'data-count="state:collected">1<', html)
    assert re.search(r'data-count="attention:on_hold">1<', html)
    assert sample["code"] in html


def test_dashboard_filters_live_in_the_url(web, api):
    h.primary(api)  # cord blood
    sign_in(web, "coord")
    html = web.get("/dashboard?source=bone_marrow&days=7").text
    assert re.search(r'data-count="state:collected">0<', html)
    assert "last 7 days" in html
    assert web.get("/dashboard?source=plasma").status_code == 422
    assert api.as_("coord").get("/dashboard?source=bone_marrow").json()[
        "by_state"]["collected"] == 0


def test_label_preview_records_nothing_and_a_reprint_needs_a_reason(web, api):
    sample = h.primary(api)
    sign_in(web, "tech")
    for _ in range(2):
        png = web.get(f"/samples/{sample['id']}/label.png")
        assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    page = web.get(f"/samples/{sample['id']}")
    timeline = api.as_("qa").get(f"/samples/{sample['id']}/timeline").json()
    assert not [e for e in timeline if e["action"].startswith("label_")]
    csrf = csrf_of(page.text)
    r = web.post(f"/samples/{sample['id']}/print", data={"csrf": csrf})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    r = web.post(f"/samples/{sample['id']}/print", data={"csrf": csrf})
    assert r.status_code == 422 and "reprint needs a reason" in r.text
    r = web.post(f"/samples/{sample['id']}/print", data={"csrf": csrf, "reason": "smudged"})
    assert r.status_code == 200
    actions = [e["action"] for e in api.as_("qa").get(
        f"/samples/{sample['id']}/timeline").json()]
    assert actions.count("label_printed") == 1 and actions.count("label_reprinted") == 1


def test_offline_docs_load_no_asset_from_elsewhere(web):
    for url in ("/docs", "/redoc"):
        html = web.get(url).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets and all(a.startswith("/") for a in assets), assets
        for a in assets:
            if not a.startswith("/openapi"):
                assert web.get(a).status_code == 200, a


def test_an_unknown_label_is_recorded_and_answered_with_an_instruction(web, api):
    sign_in(web, "tech")
    csrf = csrf_of(web.get("/bench?station=bench-7").text)
    r = web.post("/bench/scan", data={"payload": "=W12342699999900", "station": "bench-7",
                                      "csrf": csrf}, headers={"X-Requested-With": "fetch"})
    assert r.status_code == 404
    assert "Check that the tube belongs to this lab" in r.text
    seen = api.as_("qa").get("/scans", params={"station": "bench-7"}).json()["items"]
    assert [s["payload"] for s in seen] == ["=W12342699999900"]
    assert "=W12342699999900" in r.text  # listed under the last scans at this station


def test_a_scan_shows_only_the_events_of_the_persons_role(web, api):
    sample = h.primary(api)
    h.step(api, sample["id"], "receive")
    for user, offered, not_offered in (("tech", "start_processing", "lift_hold"),
                                       ("qa", "place_hold", "start_processing")):
        sign_in(web, user)
        csrf = csrf_of(web.get("/bench").text)
        html = web.post("/bench/scan", data={"payload": h.scan_code(sample), "csrf": csrf,
                                             "station": "b"}).text
        assert f'data-event="{offered}"' in html
        assert f'data-event="{not_offered}"' not in html
