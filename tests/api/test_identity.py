"""Chain of identity to the patient: recipients, intended use, bedside check, traces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lims.db.engine import unit_of_work
from lims.db.tables import Sample
from tests.api.helpers import collection, donor, step

SIGN = {"password": "correct-horse-42", "meaning": "released"}


def _payload(api, sample_id: str) -> str:
    zpl = api.get(f"/samples/{sample_id}/label", params={"format": "zpl",
                                                          "reason": "bedside"}).text
    return zpl.split("^FDQA,")[1].split("^FS")[0]


def _released(api, *, donor_type="allogeneic", scopes=("clinical", "research"), **data):
    d = donor(api, donor_type=donor_type, scopes=scopes)
    s = collection(api, d["id"])["samples"][0]
    step(api, s["id"], "receive")
    step(api, s["id"], "start_processing", data={"method": "volume_reduction"})
    step(api, s["id"], "complete_processing", user="tech2", data=data)
    api.post(f"/samples/{s['id']}/qc", {"test": "viability", "result": "pass"})
    step(api, s["id"], "release", user="qa", signature=SIGN)
    return d, s


def _patient(api, code, wristband, donor_id=None):
    body = {"code": code, "wristband_id": wristband, **({"donor_id": donor_id} if donor_id
                                                        else {})}
    r = api.as_("coord").post("/recipients", body)
    assert r.status_code == 201, r.text
    return r.json()


def _verify(api, wristband, payload, site="Ward 3"):
    r = api.post("/administrations/verify", {"wristband": wristband, "product": payload,
                                              "site": site})
    assert r.status_code == 200, r.text
    return r.json()


def test_autologous_product_with_another_patients_wristband_cannot_be_given(api):
    d, s = _released(api, donor_type="autologous")
    own = _patient(api, "R-OWN", "WB-1001", donor_id=d["id"])
    _patient(api, "R-OTHER", "WB-2002")
    step(api, s["id"], "distribute", user="coord",
         data={"intended_use": "clinical", "destination": "Ward 3"})
    assert api.get(f"/samples/{s['id']}").json()["recipient_id"] == own["id"]

    wrong = _verify(api, "]C1WB-2002\r\n", _payload(api, s["id"]))
    assert wrong["match"] is False and "wrong patient" in wrong["reasons"][0]
    r = api.post(f"/samples/{s['id']}/transitions",
                 {"event": "administer", "data": {"check_id": wrong["id"]}})
    assert r.status_code == 409 and "did not match" in r.json()["detail"]
    r = api.post(f"/samples/{s['id']}/transitions", {"event": "administer"})
    assert r.status_code == 409 and "bedside" in r.json()["detail"]
    # The mismatch is in the audit trail.
    actions = [e["action"] for e in api.get(f"/samples/{s['id']}/timeline").json()]
    assert "bedside_mismatch" in actions

    right = _verify(api, "wb-1001", _payload(api, s["id"]))
    assert right["match"] is True
    # Only the person who made the check may use it.
    r = api.as_("coord").post(f"/samples/{s['id']}/transitions",
                              {"event": "administer", "data": {"check_id": right["id"]}})
    assert r.status_code == 409 and "someone else" in r.json()["detail"]
    step(api, s["id"], "administer", data={"check_id": right["id"]})


def test_autologous_product_is_never_distributed_to_another_patient(api):
    d, s = _released(api, donor_type="autologous")
    _patient(api, "R-OWN2", "WB-1003", donor_id=d["id"])
    other = _patient(api, "R-OTHER2", "WB-2004")
    r = api.as_("coord").post(f"/samples/{s['id']}/transitions", {
        "event": "distribute", "data": {"intended_use": "clinical", "recipient_id": other["id"]}})
    assert r.status_code == 409 and "own donor" in r.json()["detail"]


@pytest.mark.parametrize("case", ["not_released", "other_site", "expired", "thawed", "on_hold"])
def test_every_mismatch_reason_comes_from_a_real_case(api, settings, engine, case):
    d, s = _released(api)
    patient = _patient(api, f"R-{case}", f"WB-{case.upper().replace('_', '-')}")
    if case != "not_released":
        step(api, s["id"], "distribute", user="coord", data={
            "intended_use": "clinical", "recipient_id": patient["id"], "destination": "Ward 3"})
    if case == "expired":  # the expiry passes while the product is on its way to the ward
        with unit_of_work(engine) as session:
            session.get(Sample, s["id"]).expires_at = datetime.now(UTC) - timedelta(minutes=1)
    if case == "thawed":
        fresh = collection(api, d["id"])["samples"][0]
        step(api, fresh["id"], "receive")
        b = api.as_("coord").post("/locations", {"kind": "site", "name": "L"}).json()
        u = api.as_("coord").post("/locations", {"kind": "storage_unit", "name": "D",
                                                 "parent_id": b["id"]}).json()
        rk = api.as_("coord").post("/locations", {"kind": "rack", "name": "R",
                                                  "parent_id": u["id"]}).json()
        bx = api.as_("coord").post("/locations", {"kind": "box", "name": "B", "rows": 2,
                                                  "cols": 2, "parent_id": rk["id"]}).json()
        step(api, fresh["id"], "cryopreserve", data={"box_id": bx["id"], "position": 1})
        step(api, fresh["id"], "thaw")
        api.post(f"/samples/{fresh['id']}/qc", {"test": "viability", "result": "pass"})
        step(api, fresh["id"], "release", user="qa", signature=SIGN)
        step(api, fresh["id"], "distribute", user="coord", data={
            "intended_use": "clinical", "recipient_id": patient["id"], "destination": "Ward 3"})
        # The thaw set the expiry: thaw time + the 4 h post-thaw window of cord blood.
        card = api.get(f"/samples/{fresh['id']}").json()
        thawed_at = next(h["at"] for h in api.get(f"/samples/{fresh['id']}/history").json()
                         if h["event"] == "thaw")
        assert (datetime.fromisoformat(card["expires_at"]) - datetime.fromisoformat(thawed_at)
                == timedelta(hours=4))
        with unit_of_work(engine) as session:  # as if it had been thawed 4 h 1 min ago
            session.get(Sample, fresh["id"]).expires_at = datetime.now(UTC) - timedelta(minutes=1)
        s = fresh
    if case == "on_hold":
        step(api, s["id"], "place_hold", user="qa", reason="sterility re-test")
    site = "Ward 9" if case == "other_site" else "Ward 3"
    check = _verify(api, patient["wristband_id"], _payload(api, s["id"]), site=site)
    expected = {"not_released": "not released", "other_site": "not to Ward 9",
                "expired": "expired", "thawed": "thawed", "on_hold": "on hold"}[case]
    assert check["match"] is False
    assert any(expected in r for r in check["reasons"]), check["reasons"]
    # Each case fails for its own reason only; an undistributed product has no patient yet.
    assert len(check["reasons"]) == (2 if case == "not_released" else 1), check["reasons"]


def test_research_distribution_refused_after_research_consent_withdrawn(api):
    d, s = _released(api, scopes=("clinical", "research"))
    consent = api.get(f"/donors/{d['id']}").json()["consents"][0]
    r = api.as_("coord").post(f"/donors/{d['id']}/consents/{consent['id']}/withdrawal",
                              {"scopes": ["research"], "reason": "donor request"})
    assert r.status_code == 200
    card = api.get(f"/samples/{s['id']}").json()
    assert card["consent_withdrawn"] == ["research"]
    scan = api.post("/scans", {"payload": _payload(api, s["id"]), "station": "b"}).json()
    assert any("CONSENT WITHDRAWN for research" in w for w in scan["warnings"])
    zpl = api.get(f"/samples/{s['id']}/label", params={"format": "zpl", "template": "tube-2ml",
                                                        "reason": "consent"}).text
    assert "NOT FOR RESEARCH USE" in zpl
    r = api.as_("coord").post(f"/samples/{s['id']}/transitions",
                              {"event": "distribute", "data": {"intended_use": "research"}})
    assert r.status_code == 409 and "research" in r.json()["detail"]
    # Clinical use is still covered; nothing recorded was lost.
    patient = _patient(api, "R-CLIN", "WB-3003")
    step(api, s["id"], "distribute", user="coord",
         data={"intended_use": "clinical", "recipient_id": patient["id"]})
    events = [h["event"] for h in api.get(f"/samples/{s['id']}/history").json()]
    assert events[-2:] == ["release", "distribute"] and "distribute" not in events[:-1]


def test_traces_both_ways_list_exactly_the_lineage(api):
    d = donor(api)
    c = collection(api, d["id"], volume=100)
    root = c["samples"][0]
    step(api, root["id"], "receive")
    step(api, root["id"], "start_processing", data={"method": "density_gradient"})
    gen1 = api.post(f"/samples/{root['id']}/derivatives", {"kind": "mnc", "volume_ml": 20,
                                                           "count": 2}).json()
    gen2 = api.post(f"/samples/{gen1[0]['id']}/derivatives", {"kind": "hsc_cd34",
                                                              "volume_ml": 5, "count": 3}).json()
    gen3 = api.post(f"/samples/{gen2[1]['id']}/derivatives", {"volume_ml": 1,
                                                              "count": 2}).json()
    product = gen3[0]
    api.post(f"/samples/{product['id']}/qc", {"test": "cd34", "result": "pass"})
    step(api, product["id"], "release", user="qa", signature=SIGN)
    patient = _patient(api, "R-TRACE", "WB-4004")
    step(api, product["id"], "distribute", user="coord",
         data={"intended_use": "clinical", "recipient_id": patient["id"]})
    other = donor(api)  # another donor's material must not appear
    collection(api, other["id"])

    forward = api.get(f"/donors/{d['id']}/trace").json()
    seen = {}

    def walk(nodes, depth):
        for n in nodes:
            seen[n["id"]] = depth
            walk(n["children"], depth + 1)

    walk(forward["collections"][0]["samples"], 0)
    built = {root["id"]: 0, **{x["id"]: 1 for x in gen1}, **{x["id"]: 2 for x in gen2},
             **{x["id"]: 3 for x in gen3}}
    assert seen == built
    assert len(forward["collections"]) == 1
    node = next(n for n in forward["collections"][0]["samples"][0]["children"][0]["children"][1]
                ["children"] if n["id"] == product["id"])
    assert node["recipient"]["code"] == "R-TRACE" and node["signatures"][0]["meaning"] == "released"

    back = api.get(f"/recipients/{patient['id']}/trace").json()
    (p,) = back["products"]
    assert [x["id"] for x in p["path"]] == [root["id"], gen1[0]["id"], gen2[1]["id"],
                                            product["id"]]
    assert p["donor"]["code"] == d["code"] and p["collection"]["din"] == c["din"]
    pdf = api.get(f"/recipients/{patient['id']}/trace", params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
