"""Reading the trail: filters, cursor, and the per-sample timeline in sentences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lims.domain import isbt
from tests.api.helpers import primary, step


def test_audit_filters_and_cursor(api):
    s = primary(api)
    step(api, s["id"], "receive")
    step(api, s["id"], "place_hold", reason="sterility pending")
    qa = api.as_("qa")
    mine = qa.get("/audit", params={"entity_type": "sample", "entity_id": s["id"]}).json()
    actions = [e["action"] for e in mine["items"]]
    assert actions == ["sample_created", "event:collect", "event:receive", "event:place_hold"]
    assert all(e["entity_id"] == s["id"] for e in mine["items"])
    assert mine["items"][-1]["reason"] == "sterility pending"
    assert mine["items"][-1]["request_id"]  # the request that caused it

    me = qa.get("/auth/me").json()
    assert qa.get("/audit", params={"actor_id": me["id"]}).json()["items"] == []
    tech = api.get("/auth/me").json()
    by_tech = qa.get("/audit", params={"actor_id": tech["id"], "limit": 500}).json()["items"]
    assert {e["actor_name"] for e in by_tech} == {"Jana Tech"} and len(by_tech) >= 4

    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert qa.get("/audit", params={"since": future}).json()["items"] == []
    until = qa.get("/audit", params={"until": future, "limit": 500}).json()["items"]
    assert len(until) >= len(actions)

    seen, cursor = [], None
    while True:
        page = qa.get("/audit", params={"limit": 3, **({"cursor": cursor} if cursor else {})}
                      ).json()
        seen += [e["id"] for e in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == len(until)


def test_timeline_reads_as_sentences_and_includes_qc_approval(api):
    s = primary(api)
    step(api, s["id"], "receive")
    qc = api.post(f"/samples/{s['id']}/qc", {"test": "viability", "result": "pass",
                                             "value": 92, "unit": "%"}).json()
    api.as_("qa").post(f"/samples/{s['id']}/qc/{qc['id']}/approval",
                       {"password": "correct-horse-42", "meaning": "approved"})
    t = api.post(f"/samples/{s['id']}/custody", {"to": "user:tech2", "temperature_c": 20})
    assert t.status_code == 201
    lines = [e["text"] for e in api.get(f"/samples/{s['id']}/timeline").json()]
    assert any(x.startswith("receive: custodian collector:Midwife M. -> user:tech, state "
                             "collected -> received by Jana Tech") for x in lines)
    assert any(x.startswith("qc approved: viability, pass by Quentin QA") for x in lines)
    assert any(x.startswith("signed: approved by Quentin QA") for x in lines)
    assert any(x.startswith("custody handed over: to user:tech2, 20.0 C by Jana Tech")
               for x in lines)


def test_only_people_with_custody_roles_confirm_receipts(api):
    s = primary(api)
    t = api.post(f"/samples/{s['id']}/custody", {"to": "location:nowhere"})
    assert t.status_code == 404  # an unknown location is refused, nothing handed over
    box = api.as_("coord").post("/locations", {"kind": "site", "name": "Cold room"}).json()
    t = api.post(f"/samples/{s['id']}/custody", {"to": f"location:{box['id']}"}).json()
    r = api.as_("admin").post(f"/samples/{s['id']}/custody/{t['id']}/receipt", {})
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    assert api.as_("coord").post(f"/samples/{s['id']}/custody/{t['id']}/receipt",
                                 {}).status_code == 200
    assert api.get(f"/samples/{s['id']}").json()["custodian"] == f"location:{box['id']}"


def test_every_scan_of_a_batch_is_recorded_even_when_the_batch_is_refused(api):
    s = primary(api)
    din, product, division = s["code"].split("-")


    good = isbt.din_data_structure(din) + f"=<{product}V{division}"
    bad = isbt.din_data_structure(isbt.format_din("W1234", 26, 999997))
    r = api.post("/scans/batch", {"payloads": [good, bad], "station": "box-bench",
                                  "event": "receive"}, headers={"Idempotency-Key": "b1"})
    assert r.status_code == 409
    seen = api.get("/scans", params={"station": "box-bench"}).json()["items"]
    assert [x["payload"] for x in seen] == [good, bad]
    assert api.get(f"/samples/{s['id']}").json()["state"] == "collected"
