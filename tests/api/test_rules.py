"""Errors, integrity, volume accounting, pagination and authentication through the API."""

from __future__ import annotations

import re

import pytest

from tests.api.helpers import collection, collection_body, donor, primary, step

PUBLIC = {("/api/v1/healthz", "get"), ("/api/v1/readyz", "get"), ("/api/v1/auth/token", "post"),
          # FHIR: a server's CapabilityStatement is read before signing in.
          ("/api/v1/fhir/metadata", "get")}


def _is_problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status and body["detail"]
    return body


def test_unknown_id_is_a_404_problem(api):
    body = _is_problem(api.get("/samples/nope"), 404)
    assert "nope" in body["detail"]


def test_illegal_transition_is_409_listing_allowed_events_and_changes_nothing(api):
    s = primary(api)
    before = api.get(f"/samples/{s['id']}").json()
    body = _is_problem(api.post(f"/samples/{s['id']}/transitions", {"event": "thaw"}), 409)
    assert body["allowed_events"] == ["dispatch", "receive", "reject", "discard", "place_hold"]
    assert "receive" in body["detail"]
    after = api.get(f"/samples/{s['id']}").json()
    assert after == before
    assert len(api.get(f"/samples/{s['id']}/history").json()) == 1  # only "collect"


def test_validation_errors_are_422_problems_naming_the_field(api):
    body = _is_problem(api.post("/donors", {"code": "X1", "donor_type": "cousin"}), 422)
    assert body["errors"][0]["field"] == "donor_type"
    d = donor(api)
    body = _is_problem(api.post("/collections", collection_body(
        d["id"], started_at="2026-01-01T10:00:00")), 422)
    assert "started_at" in body["detail"]  # a time without a zone is refused


def test_stale_if_match_is_412_and_current_etag_works(api):
    s = primary(api)
    r = api.get(f"/samples/{s['id']}")
    etag = r.headers["ETag"]
    step(api, s["id"], "receive")
    body = _is_problem(api.post(f"/samples/{s['id']}/transitions",
                                {"event": "start_processing",
                                 "data": {"method": "volume_reduction"}},
                                headers={"If-Match": etag}), 412)
    assert body["current_version"] == int(etag.strip('"')) + 1
    fresh = api.get(f"/samples/{s['id']}").headers["ETag"]
    r = api.post(f"/samples/{s['id']}/transitions",
                 {"event": "start_processing", "data": {"method": "volume_reduction"}},
                 headers={"If-Match": fresh})
    assert r.status_code == 200 and r.headers["ETag"] != fresh


def test_children_never_exceed_the_remaining_volume(api):
    s = primary(api, volume=10)
    step(api, s["id"], "receive")
    r = api.post(f"/samples/{s['id']}/derivatives", {"volume_ml": 4, "count": 3})
    body = _is_problem(r, 409)
    assert "12" in body["detail"] and "10" in body["detail"]
    assert api.get(f"/samples/{s['id']}").json()["volume_ml"] == 10
    kids = api.post(f"/samples/{s['id']}/derivatives", {"volume_ml": 2.5, "count": 2}).json()
    assert [k["volume_ml"] for k in kids] == [2.5, 2.5]
    assert api.get(f"/samples/{s['id']}").json()["volume_ml"] == 5
    # Using up the rest consumes the parent.
    api.post(f"/samples/{s['id']}/derivatives", {"volume_ml": 5})
    parent = api.get(f"/samples/{s['id']}").json()
    assert parent["state"] == "consumed" and parent["volume_ml"] == 0
    _is_problem(api.post(f"/samples/{s['id']}/derivatives", {"volume_ml": 1}), 409)


def test_derived_kind_must_fit_the_source(api):
    s = primary(api, source="bone_marrow")
    step(api, s["id"], "receive")
    body = _is_problem(api.post(f"/samples/{s['id']}/derivatives",
                                {"kind": "svf", "volume_ml": 1}), 422)
    assert "svf" in body["detail"]


def test_discard_needs_a_reason_and_a_signature(api):
    s = primary(api)
    _is_problem(api.post(f"/samples/{s['id']}/transitions", {"event": "discard"}), 422)
    body = _is_problem(api.post(f"/samples/{s['id']}/transitions",
                                {"event": "discard", "reason": "leak"}), 422)
    assert "signature" in body["detail"]
    body = _is_problem(api.post(f"/samples/{s['id']}/transitions", {
        "event": "discard", "reason": "leak",
        "signature": {"password": "wrong-password", "meaning": "performed"}}), 403)
    assert api.get(f"/samples/{s['id']}").json()["state"] == "collected"
    step(api, s["id"], "discard", reason="leak",
         signature={"password": "correct-horse-42", "meaning": "performed"})


def test_role_is_checked_for_every_transition(api):
    s = primary(api)
    body = _is_problem(api.as_("coord").post(f"/samples/{s['id']}/transitions",
                                             {"event": "receive"}), 403)
    assert "technician" in body["detail"]
    # The sample card only offers what the caller may do.
    assert "receive" not in api.as_("coord").get(f"/samples/{s['id']}").json()["allowed_events"]
    assert "receive" in api.get(f"/samples/{s['id']}").json()["allowed_events"]


def test_cursor_pagination_walks_every_sample_once(api):
    d = donor(api)
    for _ in range(5):
        collection(api, d["id"])
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/samples", params=params).json()
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 5 == len(set(seen)) and seen == sorted(seen)
    _is_problem(api.get("/samples", params={"cursor": "%%%"}), 422)
    assert api.get("/samples", params={"state": "collected", "source": "cord_blood"}
                   ).json()["items"]
    assert api.get("/samples", params={"state": "thawed"}).json()["items"] == []


def test_every_route_needs_authentication(api, app):
    spec = app.openapi()
    checked = 0
    for path, ops in spec["paths"].items():
        for method in ops:
            url = re.sub(r"\{[^}]+\}", "x", path)
            r = api.client.request(method.upper(), url)
            if (path, method) in PUBLIC:
                assert r.status_code != 401, (method, path)
                continue
            assert r.status_code == 401, (method, path, r.status_code)
            fhir = path.startswith("/api/v1/fhir/")  # FHIR errors are OperationOutcomes
            assert r.headers["content-type"] == (
                "application/fhir+json" if fhir else "application/problem+json")
            checked += 1
    assert checked >= 25


def test_sign_in_and_lockout(api):
    ok = api.client.post("/api/v1/auth/token",
                         data={"username": "tech", "password": "correct-horse-42"})
    assert ok.status_code == 200
    token = ok.json()["access_token"]
    me = api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["roles"] == ["technician"]
    for _ in range(5):
        r = api.client.post("/api/v1/auth/token", data={"username": "tech", "password": "x"})
        _is_problem(r, 401)
    r = api.client.post("/api/v1/auth/token",
                        data={"username": "tech", "password": "correct-horse-42"})
    assert "locked" in _is_problem(r, 401)["detail"]
    failed = api.as_("qa").get("/audit", params={"action": "login_failed"}).json()["items"]
    assert len(failed) == 6


def test_api_keys_are_shown_once_scoped_and_revocable(api):
    hospital = api.as_("admin").post("/users", {"username": "lab2", "full_name": "Lab 2",
                                                "roles": ["integration"]}).json()
    key = api.as_("admin").post(f"/users/{hospital['id']}/api-keys",
                                {"name": "ro", "scopes": ["read"]}).json()
    headers = {"X-API-Key": key["key"]}
    r = api.as_(None).get("/samples", headers=headers)
    assert r.status_code == 200
    _is_problem(api.as_(None).post("/donors", {"code": "Z1", "donor_type": "allogeneic"},
                                   headers=headers), 403)
    assert api.as_("admin").delete(f"/api-keys/{key['id']}").status_code == 200
    _is_problem(api.as_(None).get("/samples", headers=headers), 401)
    _is_problem(api.as_("tech").post("/users", {"username": "x1", "full_name": "X",
                                                "roles": ["qa"], "password": "a" * 12}), 403)


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_public_endpoints(api, path):
    assert api.as_(None).get(path).status_code == 200


def test_workflow_table_and_diagram(api):
    body = api.get("/workflow").json()
    assert body["mermaid"].startswith("stateDiagram-v2")
    assert {t["event"] for t in body["transitions"]} >= {"collect", "release", "discard"}
    release = next(t for t in body["transitions"] if t["event"] == "release")
    assert release["roles"] == ["qa"] and release["needs_signature"] is True


def test_deactivating_a_user_stops_their_token_and_is_audited(api):
    tech2 = api.as_("tech2").get("/auth/me").json()
    url = f"/api/v1/users/{tech2['id']}"
    admin = {"Authorization": "Bearer admin-token"}
    r = api.client.patch(url, json={"active": False}, headers={
        "Authorization": "Bearer tech-token"})
    _is_problem(r, 403)
    r = api.client.patch(url, json={"active": False, "roles": ["technician", "qa"]},
                         headers=admin)
    assert r.status_code == 200 and r.json()["active"] is False
    _is_problem(api.as_("tech2").get("/samples"), 401)
    (change,) = api.as_("qa").get("/audit", params={"action": "user_changed"}).json()["items"]
    assert change["before"]["active"] is True and change["after"]["active"] is False
    assert change["after"]["roles"] == ["qa", "technician"]
    me = api.as_("admin").get("/auth/me").json()
    _is_problem(api.client.patch(f"/api/v1/users/{me['id']}", json={"active": False},
                                 headers=admin), 409)
