"""End-to-end cases from shared/SCENARIOS.md, through the HTTP API, on both databases."""

from __future__ import annotations

from tests.api.helpers import box, collection, donor, primary, step

SIGN = {"password": "correct-horse-42", "meaning": "released"}


def test_cord_blood_unit_for_the_public_bank(api):
    d = donor(api, eligibility="pending", scopes=("banking", "clinical"))
    c = collection(api, d["id"], containers=[
        {"kind": "cord_blood", "volume_ml": 95}, {"kind": "maternal_sample", "volume_ml": 5},
        {"kind": "maternal_sample", "volume_ml": 5}])
    assert len(c["din"]) == 13 and c["din"].startswith("W1234")
    bag = next(s for s in c["samples"] if s["kind"] == "cord_blood")
    tubes = [s for s in c["samples"] if s["kind"] == "maternal_sample"]
    assert [t["division"] for t in tubes] == ["00", "A0"]  # same product: second is divided
    assert all(s["code"].startswith(c["din"]) for s in c["samples"])

    step(api, bag["id"], "receive")
    step(api, bag["id"], "start_processing", data={"method": "volume_reduction"})
    r = api.post(f"/samples/{bag['id']}/derivatives", {"kind": "cord_blood", "volume_ml": 25})
    assert r.status_code == 201, r.text
    product = r.json()[0]
    assert product["parent_id"] == bag["id"] and product["division"] == "A0"
    step(api, bag["id"], "complete_processing")
    b = box(api)
    step(api, product["id"], "cryopreserve", data={"box_id": b["id"], "position": 41})
    for test in ("tnc", "cd34", "viability"):
        assert api.post(f"/samples/{product['id']}/qc",
                        {"test": test, "result": "pass"}).status_code == 201
    api.post(f"/samples/{product['id']}/qc", {"test": "sterility", "result": "pending"})

    # Quarantine until the donor is eligible and sterility is back.
    r = api.as_("qa").post(f"/samples/{product['id']}/transitions",
                           {"event": "release", "signature": SIGN})
    assert r.status_code == 409
    problem = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert any("eligib" in p for p in problem["blocked_by"])
    assert any("pending" in p for p in problem["blocked_by"])

    api.post(f"/samples/{product['id']}/qc", {"test": "sterility", "result": "pass"})
    assert api.as_("qa").put(f"/donors/{d['id']}/eligibility",
                             {"eligibility": "eligible"}).status_code == 200
    released = step(api, product["id"], "release", user="qa", signature=SIGN,
                    data={"intended_use": "clinical"})
    assert released["state"] == "released" and released["location_id"] == b["id"]
    patient = api.as_("coord").post("/recipients", {"code": "R-0007",
                                                     "wristband_id": "WB-0007"}).json()
    step(api, product["id"], "distribute", user="coord", data={
        "intended_use": "clinical", "recipient_id": patient["id"],
        "destination": "Transplant Centre A"})
    label = api.get(f"/samples/{product['id']}/label", params={"format": "zpl"}).text
    payload = label.split("^FDQA,")[1].split("^FS")[0]
    check = api.post("/administrations/verify", {"wristband": "WB-0007\r\n",
                                                 "product": payload,
                                                 "site": "Transplant Centre A"}).json()
    assert check["match"] is True, check
    done = step(api, product["id"], "administer", data={"check_id": check["id"]})
    assert done["state"] == "administered" and done["allowed_events"] == []

    history = api.get(f"/samples/{product['id']}/history").json()
    assert [h["event"] for h in history] == ["cryopreserve", "release", "distribute",
                                            "administer"]
    assert history[1]["signature"]["signer_name"] == "Quentin QA"
    assert history[1]["signature"]["meaning"] == "released"
    assert history[0]["signature"] is None
    assert api.as_("qa").get("/audit/verify").json()["ok"] is True


def test_autologous_msc_culture_and_two_person_release(api):
    d = donor(api, donor_type="autologous", scopes=("clinical", "research"))
    c = collection(api, d["id"], source="adipose_tissue", volume=60)
    lipo = c["samples"][0]
    assert lipo["kind"] == "lipoaspirate" and lipo["state"] == "collected"
    step(api, lipo["id"], "receive")  # on-site: collected -> received directly
    r = api.post(f"/samples/{lipo['id']}/transitions",
                 {"event": "start_processing", "data": {"method": "density_gradient"}})
    assert r.status_code == 422 and "enzymatic_digestion" in r.json()["detail"]
    step(api, lipo["id"], "start_processing", data={"method": "enzymatic_digestion"})
    svf = api.post(f"/samples/{lipo['id']}/derivatives", {"kind": "svf", "volume_ml": 10}).json()[0]
    msc = api.post(f"/samples/{svf['id']}/derivatives",
                   {"kind": "msc_adipose", "volume_ml": 5}).json()[0]
    step(api, msc["id"], "start_culture")
    for _ in range(3):
        s = step(api, msc["id"], "passage")
    assert s["passage"] == 3 and s["state"] == "in_culture"
    step(api, msc["id"], "harvest_culture", data={"cell_count": 4e8})
    bags = api.post(f"/samples/{msc['id']}/derivatives", {"volume_ml": 1, "count": 4}).json()
    assert [b["division"] for b in bags] == ["A0", "B0", "C0", "D0"]
    assert all(b["passage"] == 3 for b in bags)

    # The technician who processed the product cannot release it, even with a QA role
    # missing; QA who did not process it can.
    bag = bags[0]
    api.post(f"/samples/{bag['id']}/qc", {"test": "viability", "result": "pass", "value": 85})
    r = api.post(f"/samples/{bag['id']}/transitions", {"event": "release", "signature": SIGN})
    assert r.status_code == 403 and "qa" in r.json()["detail"]
    step(api, bag["id"], "release", user="qa", signature=SIGN)

    # Lineage both ways.
    lineage = api.get(f"/samples/{bag['id']}/lineage").json()
    assert lineage["donor"]["id"] == d["id"]
    assert [a["kind"] for a in lineage["ancestors"]] == ["msc_adipose", "svf", "lipoaspirate"]
    down = api.get(f"/samples/{lipo['id']}/lineage").json()["descendants"]
    assert down[0]["kind"] == "svf" and down[0]["children"][0]["kind"] == "msc_adipose"
    assert len(down[0]["children"][0]["children"]) == 4
    tree = api.get(f"/donors/{d['id']}/lineage").json()
    ids = set()

    def walk(nodes):
        for n in nodes:
            ids.add(n["id"])
            walk(n["children"])

    walk(tree["collections"][0]["samples"])
    assert ids == {lipo["id"], svf["id"], msc["id"], *(b["id"] for b in bags)}


def test_marrow_processing_after_the_window_needs_a_deviation(api):
    s = primary(api, source="bone_marrow", hours_ago=52)
    listing = api.get("/samples", params={"overdue": "true"}).json()["items"]
    assert [x["id"] for x in listing] == [s["id"]] and listing[0]["overdue"] is True
    step(api, s["id"], "receive")
    r = api.post(f"/samples/{s['id']}/transitions",
                 {"event": "start_processing", "data": {"method": "density_gradient"}})
    assert r.status_code == 409 and "deviation reason" in r.json()["detail"]
    step(api, s["id"], "start_processing", data={"method": "density_gradient"},
         reason="courier delayed")
    hist = api.get(f"/samples/{s['id']}/history").json()
    assert hist[-1]["deviation"] is True and hist[-1]["reason"] == "courier delayed"
    assert api.get("/samples", params={"overdue": "true"}).json()["items"] == []


def test_excursion_blocks_release_until_qa_reviews(api):
    s = primary(api, source="bone_marrow")
    step(api, s["id"], "receive")
    step(api, s["id"], "start_processing", data={"method": "density_gradient"})
    step(api, s["id"], "complete_processing")
    api.post(f"/samples/{s['id']}/qc", {"test": "cd34", "result": "pass"})
    t = api.post(f"/samples/{s['id']}/custody", {"to": "user:tech2", "temperature_c": 37})
    assert t.status_code == 201, t.text
    # A second hand-over before the receipt is confirmed would leave a gap.
    gap = api.post(f"/samples/{s['id']}/custody", {"to": "user:coord"})
    assert gap.status_code == 409 and "confirm" in gap.json()["detail"]
    assert gap.headers["content-type"] == "application/problem+json"
    # Only the receiver confirms.
    assert api.post(f"/samples/{s['id']}/custody/{t.json()['id']}/receipt",
                    {}).status_code == 403
    assert api.as_("tech2").post(f"/samples/{s['id']}/custody/{t.json()['id']}/receipt",
                                 {}).status_code == 200
    timeline = api.get(f"/samples/{s['id']}/custody").json()
    assert timeline["custodian"] == "user:tech2"
    (exc,) = timeline["excursions"]
    r = api.as_("qa").post(f"/samples/{s['id']}/transitions",
                           {"event": "release", "signature": SIGN})
    assert r.status_code == 409 and "excursion" in r.json()["detail"]
    assert api.post(f"/samples/{s['id']}/excursions/{exc['id']}/review",
                    {"assessment": "ok"}).status_code == 403
    assert api.as_("qa").post(f"/samples/{s['id']}/excursions/{exc['id']}/review",
                              {"assessment": "20 min at 37 C, cells viable"}).status_code == 200
    step(api, s["id"], "release", user="qa", signature=SIGN)


def test_box_storage_refuses_a_taken_position(api):
    b = box(api, rows=2, cols=2)
    first, second = primary(api), primary(api)
    for s in (first, second):
        step(api, s["id"], "receive")
    step(api, first["id"], "cryopreserve", data={"box_id": b["id"], "position": 1})
    r = api.post(f"/samples/{second['id']}/transitions",
                 {"event": "cryopreserve", "data": {"box_id": b["id"], "position": 1}})
    assert r.status_code == 409 and first["code"] in r.json()["detail"]
    assert r.headers["content-type"] == "application/problem+json"
    r = api.post(f"/samples/{second['id']}/transitions",
                 {"event": "cryopreserve", "data": {"box_id": b["id"], "position": 5}})
    assert r.status_code == 422 and "1 to 4" in r.json()["detail"]
    assert api.get(f"/samples/{second['id']}").json()["state"] == "received"
    step(api, first["id"], "thaw")  # thawing frees the position
    step(api, second["id"], "cryopreserve", data={"box_id": b["id"], "position": 1})
    r = api.post(f"/samples/{first['id']}/transitions",
                 {"event": "cryopreserve", "data": {"box_id": b["id"], "position": 2}})
    assert r.status_code == 409  # thawed material is never refrozen
    assert "cryopreserve" not in r.json()["allowed_events"]


def test_qc_approval_is_a_qa_signature_and_processing_steps_are_listed(api):
    s = primary(api, source="bone_marrow")
    step(api, s["id"], "receive")
    step(api, s["id"], "start_processing", data={
        "method": "density_gradient", "parameters": {"g": 400, "minutes": 30, "lot": "F-11"}})
    step(api, s["id"], "complete_processing", data={"results": {"mnc": 2.1e9}})
    (proc,) = api.get(f"/samples/{s['id']}/processing").json()
    assert proc["method"] == "density_gradient" and proc["parameters"]["lot"] == "F-11"
    assert proc["ended_at"] and proc["results"] == {"mnc": 2.1e9}
    qc = api.post(f"/samples/{s['id']}/qc", {"test": "viability", "result": "pass",
                                             "value": 91, "unit": "%"}).json()
    url = f"/samples/{s['id']}/qc/{qc['id']}/approval"
    approve = {"password": "correct-horse-42", "meaning": "approved"}
    assert api.post(url, approve).status_code == 403  # technicians do not approve QC
    assert api.as_("qa").post(url, {**approve, "meaning": "released"}).status_code == 422
    assert api.as_("qa").post(url, {**approve, "password": "nope"}).status_code == 403
    r = api.as_("qa").post(url, approve)
    assert r.status_code == 200, r.text
    (listed,) = api.get(f"/samples/{s['id']}/qc").json()
    assert [a["signer_name"] for a in listed["approvals"]] == ["Quentin QA"]
    assert listed["approvals"][0]["meaning"] == "approved"
    assert api.as_("qa").get("/audit/verify").json()["ok"] is True
