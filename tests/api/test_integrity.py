"""Rules that keep material, identity and authority straight at the edges: what follows
material into its aliquots, what only the system may do, who may do what, and input that
must be refused cleanly (never a 500)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.api.helpers import (
    box,
    collection,
    collection_body,
    donor,
    primary,
    scan_code,
    step,
)

SIGN = {"password": "correct-horse-42", "meaning": "released"}
PERFORMED = {"password": "correct-horse-42", "meaning": "performed"}


def _problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return r.json()


def test_aliquots_of_held_material_are_held_too(api):
    s = primary(api)
    step(api, s["id"], "receive")
    step(api, s["id"], "place_hold", reason="sterility pending")
    kids = api.post(f"/samples/{s['id']}/derivatives", {"volume_ml": 10, "count": 2}).json()
    assert [k["on_hold"] for k in kids] == [True, True]
    assert kids[0]["hold_reason"] == "sterility pending"


def test_aliquots_of_thawed_material_are_never_refrozen(api):
    s = primary(api)
    step(api, s["id"], "receive")
    b = box(api, rows=2, cols=2)
    step(api, s["id"], "cryopreserve", data={"box_id": b["id"], "position": 1})
    step(api, s["id"], "thaw")
    (child,) = api.post(f"/samples/{s['id']}/derivatives", {"volume_ml": 5}).json()
    body = _problem(api.post(f"/samples/{child['id']}/transitions", {
        "event": "cryopreserve", "data": {"box_id": b["id"], "position": 2}}), 409)
    assert "never refrozen" in body["detail"]


def test_aliquots_keep_the_processing_window(api):
    s = primary(api, source="bone_marrow", hours_ago=60)
    step(api, s["id"], "receive")
    (child,) = api.post(f"/samples/{s['id']}/derivatives", {"volume_ml": 90}).json()
    assert child["overdue"] is True
    body = _problem(api.post(f"/samples/{child['id']}/transitions", {
        "event": "start_processing", "data": {"method": "density_gradient"}}), 409)
    assert "deviation reason" in body["detail"]


def test_consume_is_only_for_the_system(api):
    s = primary(api)
    step(api, s["id"], "receive")
    body = _problem(api.post(f"/samples/{s['id']}/transitions", {"event": "consume"}), 403)
    assert "discard" in body["detail"]
    assert "consume" not in api.get(f"/samples/{s['id']}").json()["allowed_events"]


def _released(api, **kw):
    d = donor(api, **kw)
    s = collection(api, d["id"])["samples"][0]
    step(api, s["id"], "receive")
    step(api, s["id"], "start_processing", data={"method": "volume_reduction"})
    step(api, s["id"], "complete_processing")
    api.post(f"/samples/{s['id']}/qc", {"test": "viability", "result": "pass"})
    step(api, s["id"], "release", user="qa", signature=SIGN)
    return d, s


def test_release_signature_must_mean_released(api):
    d = donor(api)
    s = collection(api, d["id"])["samples"][0]
    step(api, s["id"], "receive")
    step(api, s["id"], "start_processing", data={"method": "volume_reduction"})
    step(api, s["id"], "complete_processing")
    api.post(f"/samples/{s['id']}/qc", {"test": "viability", "result": "pass"})
    body = _problem(api.as_("qa").post(f"/samples/{s['id']}/transitions", {
        "event": "release", "signature": PERFORMED}), 422)
    assert "released" in body["detail"]


def test_a_late_ineligible_donor_stops_distribution(api):
    d, s = _released(api)
    patient = api.as_("coord").post("/recipients", {"code": "R-LATE",
                                                    "wristband_id": "WB-LATE"}).json()
    assert api.as_("qa").put(f"/donors/{d['id']}/eligibility", {
        "eligibility": "ineligible", "note": "HBV NAT reactive"}).status_code == 200
    body = _problem(api.as_("coord").post(f"/samples/{s['id']}/transitions", {
        "event": "distribute", "data": {"intended_use": "clinical",
                                        "recipient_id": patient["id"]}}), 409)
    assert "eligib" in body["detail"]


def test_no_administration_while_on_hold_even_after_a_matching_check(api):
    d, s = _released(api)
    patient = api.as_("coord").post("/recipients", {"code": "R-HOLD",
                                                    "wristband_id": "WB-HOLD"}).json()
    step(api, s["id"], "distribute", user="coord", data={
        "intended_use": "clinical", "recipient_id": patient["id"]})
    zpl = api.get(f"/samples/{s['id']}/label", params={"format": "zpl"}).text
    payload = zpl.split("^FDQA,")[1].split("^FS")[0]
    check = api.post("/administrations/verify", {"wristband": "WB-HOLD",
                                                 "product": payload}).json()
    assert check["match"] is True
    step(api, s["id"], "place_hold", user="qa", reason="recall from the manufacturer")
    body = _problem(api.post(f"/samples/{s['id']}/transitions", {
        "event": "administer", "data": {"check_id": check["id"]}}), 409)
    assert "hold" in body["detail"]


def test_wrong_signature_passwords_are_audited_and_lock_the_account(api):
    s = primary(api)
    for _ in range(5):
        _problem(api.post(f"/samples/{s['id']}/transitions", {
            "event": "reject", "reason": "warm",
            "signature": {**PERFORMED, "password": "guess"}}), 403)
    failed = api.as_("qa").get("/audit", params={"action": "signature_failed"}).json()["items"]
    assert len(failed) == 5 and failed[0]["actor_name"] == "Jana Tech"
    body = _problem(api.post(f"/samples/{s['id']}/transitions", {
        "event": "reject", "reason": "warm", "signature": PERFORMED}), 403)
    assert "locked" in body["detail"]
    assert api.get(f"/samples/{s['id']}").json()["state"] == "collected"


def test_volume_changes_only_where_it_is_measured(api):
    s = primary(api, volume=50)
    step(api, s["id"], "receive")
    body = _problem(api.post(f"/samples/{s['id']}/transitions", {
        "event": "place_hold", "reason": "x", "data": {"volume_ml": 1e6}}), 422)
    assert "measured" in body["detail"]
    step(api, s["id"], "start_processing", data={"method": "volume_reduction"})
    _problem(api.post(f"/samples/{s['id']}/transitions", {
        "event": "complete_processing", "data": {"volume_ml": True}}), 422)
    assert step(api, s["id"], "complete_processing", data={"volume_ml": 21.5}
                )["volume_ml"] == 21.5


def test_the_same_tube_typed_two_ways_is_one_tube_in_a_batch(api):
    s = primary(api)
    code = scan_code(s)
    r = api.post("/scans/batch", {"payloads": [code, "]Q1" + code + "\r\n"], "station": "b",
                                  "event": "receive", "mode": "best_effort"},
                 headers={"Idempotency-Key": "twice"})
    assert r.status_code == 200
    assert [x["ok"] for x in r.json()["results"]] == [True, False]
    assert "already scanned" in r.json()["results"][1]["detail"]


def test_no_collection_without_consent(api):
    d = donor(api, scopes=())
    body = _problem(api.post("/collections", collection_body(d["id"])), 409)
    assert "consent" in body["detail"]


def test_label_shows_the_collection_date_where_it_was_collected(api):
    d = donor(api)
    # 00:30 on the 26th in Auckland is still the 25th in Berlin (the lab's zone).
    start = datetime(2026, 11, 25, 11, 30, tzinfo=UTC)
    r = api.post("/collections", collection_body(d["id"], start=start, site="Auckland",
                                                 local_timezone="Pacific/Auckland"))
    s = r.json()["samples"][0]
    zpl = api.get(f"/samples/{s['id']}/label", params={"format": "zpl"}).text
    assert "2026-11-26" in zpl and "2026-11-25" not in zpl


@pytest.mark.parametrize(("who", "method", "url", "body"), [
    ("tech", "post", "/donors", {"code": "X-1", "donor_type": "allogeneic",
                                 "eligibility": "eligible"}),
    ("hospital", "post", "/locations", {"kind": "site", "name": "Somewhere"}),
    ("qa", "post", "/samples/{sid}/derivatives", {"volume_ml": 1}),
    ("tech", "post", "/recipients", {"code": "R-X", "wristband_id": "WB-X"}),
    ("coord", "get", "/audit/verify", None),
    ("tech", "get", "/audit", None),
])
def test_who_may_do_what(api, who, method, url, body):
    s = primary(api)
    step(api, s["id"], "receive")
    call = getattr(api.as_(who), method)  # "hospital" is the seeded service account
    r = call(url.format(sid=s["id"]), body) if body is not None else call(url.format(sid=s["id"]))
    assert _problem(r, 403)["detail"].startswith("To ")


def test_only_the_holder_hands_a_sample_over(api):
    s = primary(api)
    t = api.post(f"/samples/{s['id']}/custody", {"to": "user:tech2"}).json()
    api.as_("tech2").post(f"/samples/{s['id']}/custody/{t['id']}/receipt", {})
    body = _problem(api.post(f"/samples/{s['id']}/custody", {"to": "user:tech"}), 403)
    assert "tech2" in body["detail"]
    assert api.as_("tech2").post(f"/samples/{s['id']}/custody",
                                 {"to": "user:tech"}).status_code == 201


@pytest.mark.parametrize(("url", "body"), [
    ("/samples/{sid}/transitions", {"event": "start_processing", "data": {"method": ["x"]}}),
    ("/samples/{sid}/transitions", {"event": "start_processing",
                                    "data": {"method": "volume_reduction", "parameters": "x"}}),
    ("/samples/{sid}/transitions", {"event": "place_hold", "reason": "x" * 800}),
    ("/samples/{sid}/transitions", {"event": "cryopreserve",
                                    "data": {"box_id": "nope", "position": True}}),
    ("/samples/{sid}/derivatives", '{"volume_ml": NaN}'),  # what Python's json would send
    ("/scans/batch", {"payloads": ["a", "b"], "station": "b", "event": "receive",
                      "data": {"box_id": "x", "positions": [1]}}),
])
def test_bad_input_is_a_clear_problem_not_a_500(api, url, body):
    s = primary(api)
    step(api, s["id"], "receive")
    headers = {"Idempotency-Key": "k"}
    if isinstance(body, str):
        headers |= {"Authorization": "Bearer tech-token", "Content-Type": "application/json"}
        r = api.client.post("/api/v1" + url.format(sid=s["id"]), content=body, headers=headers)
    else:
        r = api.post(url.format(sid=s["id"]), body, headers=headers)
    assert r.status_code in (404, 422), r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert api.get(f"/samples/{s['id']}").json()["version"] == 3


def test_audit_time_range_needs_a_zone(api):
    body = _problem(api.as_("qa").get("/audit", params={"since": "2026-01-01T00:00:00"}), 422)
    assert "since" in body["detail"]


# --- found by fuzzing the OpenAPI schema ------------------------------------------------


@pytest.mark.parametrize(("url", "body"), [
    ("/samples/{sid}/custody", {"to": "user:tech2", "handed_over_at": "0001-01-01T00:00:00+01:00"}),
    ("/samples/{sid}/transitions", {"event": "place_hold", "reason": "x",
                                    "data": {"expires_at": "9999-12-31T23:30:00+00:00"}}),
    ("/samples/{sid}/transitions", {"event": "place_hold", "reason": "x",
                                    "data": {"expires_at": "0001-01-01T00:00:00+05:00"}}),
    ("/samples/{sid}/transitions", {"event": "start_processing",
                                    "data": {"method": "volume_reduction",
                                             "intended_use": ["clinical"]}}),
    ("/samples/{sid}/transitions", {"event": "start_processing",
                                    "data": {"method": "volume_reduction",
                                             "check_id": {"a": 1}}}),
    ("/samples/{sid}/transitions", '{"event": "place_hold", "reason": "x", '
                                   '"data": {"cell_count": 1' + "0" * 400 + "}}"),
    ("/samples/{sid}/transitions", '{"event": "place_hold", "reason": "x", '
                                   '"data": {"note": NaN}}'),
    ("/locations", {"parent_id": "", "kind": "site", "name": "X1"}),
    ("/samples/{sid}/derivatives", {"volume_ml": 5e-324}),
])
def test_fuzzed_inputs_are_clear_problems(api, url, body):
    s = primary(api)
    step(api, s["id"], "receive")
    user = "coord" if url == "/locations" else "tech"
    headers = {"Authorization": f"Bearer {user}-token", "Content-Type": "application/json"}
    if isinstance(body, str):
        r = api.client.post("/api/v1" + url.format(sid=s["id"]), content=body, headers=headers)
    else:
        r = api.client.post("/api/v1" + url.format(sid=s["id"]), json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert api.get(f"/samples/{s['id']}").json()["version"] == 3


def test_non_ascii_digits_in_cursors_and_etags(api):
    import base64

    cursor = base64.urlsafe_b64encode("²".encode()).decode().rstrip("=")
    assert _problem(api.as_("qa").get("/audit", params={"cursor": cursor}), 422)
    s = primary(api)
    # A header byte 0xB2 ("²" in Latin-1) is a digit to str.isdigit but not to int().
    r = api.client.post(f"/api/v1/samples/{s['id']}/transitions", json={"event": "receive"},
                        headers={"Authorization": "Bearer tech-token",
                                 "If-Match": '"²"'.encode("latin-1")})
    _problem(r, 422)


def test_an_aliquot_of_an_aliquot_of_an_aliquot_gets_a_free_division(api):
    s = primary(api)
    step(api, s["id"], "receive")
    (a,) = api.post(f"/samples/{s['id']}/derivatives", {"volume_ml": 4}).json()
    (b,) = api.post(f"/samples/{a['id']}/derivatives", {"volume_ml": 2}).json()
    r = api.post(f"/samples/{b['id']}/derivatives", {"volume_ml": 1})
    assert r.status_code == 201, r.text
    (c,) = r.json()
    assert (a["division"], b["division"]) == ("A0", "Aa")
    assert c["division"] not in {"00", "A0", "Aa"} and c["parent_id"] == b["id"]
    lineage = api.get(f"/samples/{c['id']}/lineage").json()
    assert [x["id"] for x in lineage["ancestors"]] == [b["id"], a["id"], s["id"]]


def test_a_collection_lasting_days_is_refused(api):
    d = donor(api)
    body = _problem(api.post("/collections", collection_body(d["id"], minutes=3 * 24 * 60)),
                    422)
    assert "24 hours" in body["detail"]


# --- found in the second review ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["best_effort", "all_or_nothing"])
def test_a_refused_tube_in_a_batch_is_still_seen_by_its_sample(api, mode):
    mine, stranger = primary(api), primary(api)
    r = api.post("/scans/batch", {
        "payloads": [scan_code(mine), scan_code(stranger)], "station": "bench-9",
        "event": "receive", "mode": mode, "expected_donor_id": mine["donor_id"]},
        headers={"Idempotency-Key": f"b-{mode}"})
    assert r.status_code == (200 if mode == "best_effort" else 409)
    seen = api.get("/scans", params={"sample_id": stranger["id"]}).json()["items"]
    assert [x["station"] for x in seen] == ["bench-9"]


def test_optional_text_fields_may_be_null_or_empty(api):
    s = primary(api)
    step(api, s["id"], "receive")
    out = step(api, s["id"], "start_culture", data={"method": None, "parameters": None})
    assert out["state"] == "in_culture"


@pytest.mark.parametrize(("method", "url", "body"), [
    ("get", "/samples/abc%00def", None),
    ("post", "/scans", {"payload": "abc\x00def", "station": "b"}),
    ("post", "/locations", {"kind": "site", "name": "Cold\x00room"}),
])
def test_a_nul_character_is_a_clear_problem(api, method, url, body):
    who = api.as_("coord") if url == "/locations" else api
    r = who.get(url) if method == "get" else who.post(url, body)
    assert r.status_code in (404, 422), r.text
    assert r.headers["content-type"] == "application/problem+json"


def test_the_hospital_system_mirrors_a_consent_withdrawal(api):
    d = donor(api)
    consent = api.get(f"/donors/{d['id']}").json()["consents"][0]
    r = api.as_("hospital").post(f"/donors/{d['id']}/consents/{consent['id']}/withdrawal",
                                 {"scopes": ["research"], "reason": "withdrawn at the clinic"})
    assert r.status_code == 200, r.text
