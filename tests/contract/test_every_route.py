"""Idempotent replays, stale ETags and ETags, checked on every route the app has.

The routes come from the app itself. Each write route needs a request that succeeds (a
sample in the right state, a box, a QC result...): `REQUESTS` builds one per operation,
and a route missing from it fails the test, so a new route cannot slip past.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lims.api.contract import NOT_IDEMPOTENT
from tests.api.helpers import box, donor, iso, primary, scan_code, step
from tests.conftest import PASSWORD
from tests.contract.routes import app_routes


@dataclass
class Req:
    user: str
    path: str
    json: Any = None
    variant: Any = None  # another valid body for the same path
    content: str | None = None
    variant_content: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    variant_query: dict[str, str] | None = None

    def send(self, api, method: str, headers: dict[str, str], *, other: bool = False):
        query = self.variant_query if other and self.variant_query is not None else self.query
        kw: dict[str, Any] = {"headers": headers, "params": query}
        if self.content is not None:
            kw["content"] = self.variant_content if other else self.content
            kw["headers"] = {**headers, "Content-Type": "text/csv"}
        else:
            kw["json"] = self.variant if other else self.json
        a = api.as_(self.user)
        return a.client.request(method, "/api/v1" + self.path,
                                headers=a._headers(kw.pop("headers")), **kw)


def _received(api) -> dict:
    s = primary(api)
    return step(api, s["id"], "receive")


def _sig(meaning: str = "approved") -> dict:
    return {"password": PASSWORD, "meaning": meaning}


def _user(api, service: bool = False) -> dict:
    person = {"roles": ["technician"], "password": "a-long-password-1"}
    r = api.as_("admin").post("/users", {"username": f"u{uuid.uuid4().hex[:8]}",
                                         "full_name": "New Person",
                                         **({"roles": ["integration"]} if service else person)})
    assert r.status_code == 201, r.text
    return r.json()


def _qc(api) -> tuple[dict, dict]:
    s = _received(api)
    r = api.post(f"/samples/{s['id']}/qc", {"test": "viability", "result": "pass",
                                            "value": 92, "unit": "%"})
    assert r.status_code == 201, r.text
    return s, r.json()


def _handed(api, temperature: float | None = None) -> tuple[dict, dict]:
    s = _received(api)
    r = api.post(f"/samples/{s['id']}/custody", {"to": "user:tech2",
                                                 "temperature_c": temperature})
    assert r.status_code == 201, r.text
    return s, r.json()


def _excursion(api) -> tuple[dict, str]:
    s, _ = _handed(api, 37)
    timeline = api.get(f"/samples/{s['id']}/custody").json()
    return s, timeline["excursions"][0]["id"]


def _consent(api) -> tuple[dict, dict]:
    d = donor(api)
    consent = api.as_("coord").get(f"/donors/{d['id']}").json()["consents"][0]
    return d, consent


def _csv(ref: str, donor_code: str) -> str:
    start = datetime.now(UTC) - timedelta(hours=2)
    return ("external_ref,donor_code,source,site,started_at,ended_at,volume_ml,"
            "anticoagulant,collector\r\n"
            f"{ref},{donor_code},cord_blood,Maternity unit,{iso(start)},"
            f"{iso(start + timedelta(minutes=8))},95,CPD,Midwife M.\r\n")


def _collection_request(api) -> Req:
    d = donor(api)
    start = datetime.now(UTC) - timedelta(hours=2)
    body = {"donor_id": d["id"], "source": "cord_blood", "site": "Maternity unit",
            "started_at": iso(start), "ended_at": iso(start + timedelta(minutes=8)),
            "volume_ml": 95.0, "anticoagulant": "CPD", "collector": "Midwife M."}
    return Req("tech", "/collections", body, {**body, "volume_ml": 90.0})


def _import_request(api) -> Req:
    d = donor(api)
    return Req("tech", "/collections/import", content=_csv("IMP-1", d["code"]),
               variant_content=_csv("IMP-2", d["code"]))


def _bulk_request(api) -> Req:
    a, b = primary(api), primary(api)
    return Req("tech", "/samples/bulk-transitions",
               {"items": [{"sample_id": a["id"], "event": "receive"}]},
               {"items": [{"sample_id": b["id"], "event": "receive"}]})


def _transition_request(api) -> Req:
    s = primary(api)
    return Req("tech", f"/samples/{s['id']}/transitions", {"event": "receive"},
               {"event": "reject", "reason": "warm",
                "signature": {"password": PASSWORD, "meaning": "performed"}})


def _derive_request(api) -> Req:
    s = _received(api)
    return Req("tech", f"/samples/{s['id']}/derivatives", {"volume_ml": 1.0, "count": 2},
               {"volume_ml": 2.0, "count": 1})


def _qc_request(api) -> Req:
    s = _received(api)
    return Req("tech", f"/samples/{s['id']}/qc", {"test": "viability", "result": "pass"},
               {"test": "cd34", "result": "pass"})


def _approval_request(api) -> Req:
    s, qc = _qc(api)
    return Req("qa", f"/samples/{s['id']}/qc/{qc['id']}/approval", _sig(),
               _sig("reviewed"))


def _hand_over_request(api) -> Req:
    s = _received(api)
    return Req("tech", f"/samples/{s['id']}/custody", {"to": "user:tech2"},
               {"to": "user:coord"})


def _receipt_request(api) -> Req:
    s, t = _handed(api)
    return Req("tech2", f"/samples/{s['id']}/custody/{t['id']}/receipt", {},
               {"temperature_c": 4})


def _review_request(api) -> Req:
    s, excursion = _excursion(api)
    return Req("qa", f"/samples/{s['id']}/excursions/{excursion}/review",
               {"assessment": "Short, within tolerance"}, {"assessment": "Other words"})


def _location_request(api) -> Req:
    return Req("coord", "/locations", {"kind": "site", "name": f"Lab {uuid.uuid4().hex[:6]}"},
               {"kind": "site", "name": f"Lab {uuid.uuid4().hex[:6]}"})


def _donor_request(api) -> Req:
    return Req("coord", "/donors", {"code": f"X-{uuid.uuid4().hex[:8]}",
                                    "donor_type": "allogeneic"},
               {"code": f"X-{uuid.uuid4().hex[:8]}", "donor_type": "autologous"})


def _consent_request(api) -> Req:
    d = donor(api, scopes=())
    body = {"form_version": "v3", "scopes": ["clinical"], "obtained_by": "Dr. Who",
            "obtained_at": iso(datetime.now(UTC) - timedelta(days=1))}
    return Req("coord", f"/donors/{d['id']}/consents", body, {**body, "scopes": ["research"]})


def _withdrawal_request(api) -> Req:
    d, consent = _consent(api)
    return Req("coord", f"/donors/{d['id']}/consents/{consent['id']}/withdrawal",
               {"scopes": ["research"], "reason": "Donor asked"},
               {"scopes": ["banking"], "reason": "Donor asked"})


def _eligibility_request(api) -> Req:
    d = donor(api, eligibility="pending")
    return Req("coord", f"/donors/{d['id']}/eligibility", {"eligibility": "eligible"},
               {"eligibility": "ineligible"})


def _recipient_request(api) -> Req:
    n = uuid.uuid4().hex[:6].upper()
    return Req("coord", "/recipients", {"code": f"P-{n}", "wristband_id": f"WB-{n}"},
               {"code": f"Q-{n}", "wristband_id": f"WC-{n}"})


def _verify_request(api) -> Req:
    s = _received(api)
    return Req("tech", "/administrations/verify",
               {"wristband": "WB-NOBODY", "product": scan_code(s)},
               {"wristband": "WB-SOMEONE", "product": scan_code(s)})


def _scan_request(api) -> Req:
    s = primary(api)
    return Req("tech", "/scans", {"payload": scan_code(s), "station": "bench-1"},
               {"payload": scan_code(s), "station": "bench-2"})


def _scan_act_request(api) -> Req:
    s = primary(api)
    return Req("tech", "/scans/act", {"payload": scan_code(s), "station": "bench-1",
                                      "event": "receive"},
               {"payload": scan_code(s), "station": "bench-2", "event": "receive"})


def _scan_batch_request(api) -> Req:
    a, b = primary(api), primary(api)
    return Req("tech", "/scans/batch", {"payloads": [scan_code(a)], "station": "bench-1",
                                        "event": "receive"},
               {"payloads": [scan_code(b)], "station": "bench-1", "event": "receive"})


def _sheet_request(api) -> Req:
    a, b = primary(api), primary(api)
    return Req("tech", "/labels/sheet", {"sample_ids": [a["id"]]}, {"sample_ids": [b["id"]]})


def _add_user_request(api) -> Req:
    def body() -> dict:
        return {"username": f"u{uuid.uuid4().hex[:8]}", "full_name": "Sam Service",
                "roles": ["integration"]}
    return Req("admin", "/users", body(), body())


def _change_user_request(api) -> Req:
    u = _user(api)
    return Req("admin", f"/users/{u['id']}", {"full_name": "Renamed"}, {"full_name": "Other"})


def _api_key_request(api) -> Req:
    u = _user(api, service=True)
    return Req("admin", f"/users/{u['id']}/api-keys", {"name": "lab link"}, {"name": "other"})


def _blood_group_request(api) -> Req:
    d = donor(api)
    return Req("qa", f"/donors/{d['id']}/blood-group", {"abo_rh": "A Pos"},
               {"abo_rh": "A Pos", "reason": "confirmed by a second typing"})


def _webhook(api) -> dict:
    r = api.as_("hospital").post("/webhooks", {"url": "https://lims.hospital.example/hook",
                                               "event_types": ["sample.*"]})
    assert r.status_code == 201, r.text
    return r.json()


def _create_webhook_request(api) -> Req:
    return Req("hospital", "/webhooks", {"url": "https://a.example/hook"},
               {"url": "https://b.example/hook"})


def _disable_webhook_request(api) -> Req:
    w = _webhook(api)
    return Req("hospital", f"/webhooks/{w['id']}/disable", {"reason": "receiver moving"},
               {"reason": "maintenance"})


def _enable_webhook_request(api) -> Req:
    w = _webhook(api)
    return Req("hospital", f"/webhooks/{w['id']}/enable", {"note": "back"}, {"note": "again"})


def _replay_webhook_request(api) -> Req:
    w = _webhook(api)
    return Req("hospital", f"/webhooks/{w['id']}/replay", query={"from": "0"},
               variant_query={"from": "1"})


REQUESTS: dict[str, Callable[[Any], Req]] = {
    "record_blood_group": _blood_group_request, "create_webhook": _create_webhook_request,
    "disable_webhook": _disable_webhook_request, "enable_webhook": _enable_webhook_request,
    "replay_webhook": _replay_webhook_request,
    "record_collection": _collection_request, "import_collections": _import_request,
    "apply_transitions_in_bulk": _bulk_request, "apply_transition": _transition_request,
    "derive_samples": _derive_request, "record_qc": _qc_request,
    "approve_qc": _approval_request, "hand_over": _hand_over_request,
    "confirm_receipt": _receipt_request, "review_excursion": _review_request,
    "add_location": _location_request, "register_donor": _donor_request,
    "record_consent": _consent_request, "withdraw_consent": _withdrawal_request,
    "determine_eligibility": _eligibility_request, "register_recipient": _recipient_request,
    "verify_bedside": _verify_request, "scan": _scan_request, "scan_and_act": _scan_act_request,
    "scan_batch": _scan_batch_request, "print_label_sheet": _sheet_request,
    "add_user": _add_user_request, "change_user": _change_user_request,
    "create_api_key": _api_key_request,
}
WRITES = {"POST", "PUT", "PATCH"}
VERSIONED = ("sample_id", "donor_id", "user_id")


ROUTES = app_routes()
POSTS = [r for r in ROUTES if "POST" in r.methods
         and r.path.removeprefix("/api/v1") not in NOT_IDEMPOTENT]
UPDATES = [r for r in ROUTES if r.methods & WRITES
           and any("{" + p + "}" in r.path for p in VERSIONED)]


def test_every_write_route_has_a_request_here():
    """A route added to the app without a request here fails this test."""
    missing = sorted({r.operation_id for r in POSTS + UPDATES} - set(REQUESTS))
    assert missing == []
    assert len(POSTS) >= 20 and len(UPDATES) >= 12  # the enumeration found the app


@pytest.mark.parametrize("route", POSTS, ids=lambda r: r.operation_id)
def test_a_post_replayed_with_its_idempotency_key_applies_once(api, route):
    req = REQUESTS[route.operation_id](api)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = req.send(api, "POST", key)
    assert first.status_code < 300, first.text
    assert first.headers["Idempotent-Replay"] == "false"
    again = req.send(api, "POST", key)
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["Idempotent-Replay"] == "true"
    assert again.headers.get("ETag") == first.headers.get("ETag")
    other = req.send(api, "POST", key, other=True)
    assert other.status_code == 422, other.text
    assert other.headers["content-type"].startswith("application/problem+json")
    assert "Idempotency-Key" in other.json()["detail"]
    # A new key is a new request: it is applied (or refused on its merits), not replayed.
    fresh = req.send(api, "POST", {"Idempotency-Key": uuid.uuid4().hex}, other=True)
    assert fresh.headers.get("Idempotent-Replay") != "true"


@pytest.mark.parametrize("route", UPDATES, ids=lambda r: r.operation_id)
def test_a_write_with_a_stale_if_match_is_refused_and_changes_nothing(api, route):
    req = REQUESTS[route.operation_id](api)
    method = sorted(route.methods & WRITES)[0]
    stale = req.send(api, method, {"If-Match": '"999"'})
    assert stale.status_code == 412, stale.text
    assert stale.headers["content-type"].startswith("application/problem+json")
    fresh = req.send(api, method, {})
    assert fresh.status_code < 300, fresh.text  # the refused request left nothing behind
    assert fresh.headers["ETag"].strip('"').isdigit()
    # The ETag just received is current: a change made with it is accepted ...
    current = req.send(api, method, {"If-Match": fresh.headers["ETag"],
                                     "Idempotency-Key": uuid.uuid4().hex}, other=True)
    assert current.status_code != 412, current.text


def test_single_resources_carry_an_etag_that_moves_with_each_change(api):
    s = primary(api)
    d = api.get(f"/donors/{s['donor_id']}")
    first = api.get(f"/samples/{s['id']}")
    assert first.headers["ETag"] == f'"{first.json()["version"]}"'
    step(api, s["id"], "receive")
    assert api.get(f"/samples/{s['id']}").headers["ETag"] != first.headers["ETag"]
    assert d.headers["ETag"]
    b = box(api)
    for url in (f"/collections/{s['collection_id']}", f"/locations/{b['id']}",
                f"/fhir/Specimen/{s['id']}"):
        r = api.get(url)
        assert r.status_code == 200 and r.headers.get("ETag"), url
        assert api.get(url).headers["ETag"] == r.headers["ETag"], url  # stable when unchanged


def test_the_collection_was_recorded_once_under_a_replayed_key(api):
    req = _collection_request(api)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    for _ in range(3):
        assert req.send(api, "POST", key).status_code == 201
    found = api.get("/collections", params={"donor_id": req.json["donor_id"]}).json()
    assert len(found["items"]) == 1
