"""Custody follows the tube through the scenarios of shared/SCENARIOS.md: after every step
the custodian is the person, courier, box, place or patient the lab's SOP names, and the
timeline has no gap (each record starts where the previous one ended)."""

from __future__ import annotations

from tests.api.helpers import box, collection, donor, step

SIGN = {"password": "correct-horse-42", "meaning": "released"}


def holder(api, sample_id: str) -> str:
    timeline = api.get(f"/samples/{sample_id}/custody").json()
    transfers = timeline["transfers"]
    # No gap, no stale custodian: a chain from the first record to the current holder.
    for before, after in zip(transfers, transfers[1:], strict=False):
        assert after["from_party"] == before["to_party"], transfers
    done = [t for t in transfers if t["received_at"] is not None]
    assert transfers[:len(done)] == done  # only the newest hand-over may await its receipt
    assert done and done[-1]["to_party"] == timeline["custodian"]
    assert api.get(f"/samples/{sample_id}").json()["custodian"] == timeline["custodian"]
    return timeline["custodian"]


def test_scenario_1_cord_blood_from_the_maternity_unit_to_the_patient(api):
    d = donor(api, scopes=("banking", "clinical"))
    c = collection(api, d["id"], containers=[{"kind": "cord_blood", "volume_ml": 95}])
    bag = c["samples"][0]
    # Collected by the midwife at the maternity unit: custody starts there, with her.
    first = api.get(f"/samples/{bag['id']}/custody").json()["transfers"][0]
    assert (first["from_party"], first["to_party"]) == ("site:Maternity unit",
                                                        "collector:Midwife M.")
    assert holder(api, bag["id"]) == "collector:Midwife M."
    step(api, bag["id"], "dispatch", data={"courier": "MedExpress", "shipper": "box 12"})
    assert holder(api, bag["id"]) == "courier:MedExpress"
    step(api, bag["id"], "receive")  # by Jana (tech) at the lab
    assert holder(api, bag["id"]) == "user:tech"
    step(api, bag["id"], "start_processing", user="tech2", data={"method": "volume_reduction"})
    assert holder(api, bag["id"]) == "user:tech2"
    product = api.as_("tech2").post(f"/samples/{bag['id']}/derivatives",
                                    {"kind": "cord_blood", "volume_ml": 25}).json()[0]
    assert holder(api, product["id"]) == "user:tech2"  # made at her bench
    b = box(api)
    step(api, product["id"], "cryopreserve", data={"box_id": b["id"], "position": 41})
    assert holder(api, product["id"]) == f"location:{b['id']}"
    api.post(f"/samples/{product['id']}/qc", {"test": "viability", "result": "pass"})
    step(api, product["id"], "release", user="qa", signature=SIGN,
         data={"intended_use": "clinical"})
    assert holder(api, product["id"]) == f"location:{b['id']}"  # a signature moves nothing
    patient = api.as_("coord").post("/recipients", {"code": "R-0101",
                                                     "wristband_id": "WB-0101"}).json()
    step(api, product["id"], "distribute", user="coord", data={
        "intended_use": "clinical", "recipient_id": patient["id"],
        "destination": "Transplant Centre A"})
    assert holder(api, product["id"]) == "site:Transplant Centre A"
    label = api.get(f"/samples/{product['id']}/label", params={"format": "zpl"}).text
    payload = label.split("^FDQA,")[1].split("^FS")[0]
    check = api.post("/administrations/verify", {"wristband": "WB-0101", "product": payload,
                                                 "site": "Transplant Centre A"}).json()
    step(api, product["id"], "administer", data={"check_id": check["id"]})
    assert holder(api, product["id"]) == f"recipient:{patient['id']}"


def test_scenario_2_thawed_bag_is_with_who_thawed_it(api):
    d = donor(api, donor_type="autologous", scopes=("clinical", "research"))
    c = collection(api, d["id"], source="adipose_tissue", volume=60)
    lipo = c["samples"][0]
    step(api, lipo["id"], "receive", user="tech2")  # handed to the lab on site
    assert holder(api, lipo["id"]) == "user:tech2"
    b = box(api)
    step(api, lipo["id"], "cryopreserve", user="tech2", data={"box_id": b["id"], "position": 1})
    step(api, lipo["id"], "thaw")
    assert holder(api, lipo["id"]) == "user:tech"
    assert api.get(f"/locations/{b['id']}").json()["positions"] == []  # out of the box


def test_scenario_3_manual_hand_over_then_an_event_closes_the_open_receipt(api):
    d = donor(api)
    c = collection(api, d["id"], source="bone_marrow", volume=1100)
    marrow = c["samples"][0]
    step(api, marrow["id"], "receive")
    # Internal transfer to Tom, who has not confirmed the receipt yet...
    r = api.as_("tech").post(f"/samples/{marrow['id']}/custody",
                             {"to": "user:tech2", "temperature_c": 20})
    assert r.status_code == 201, r.text
    assert holder(api, marrow["id"]) == "user:tech"  # not his until he confirms
    # ...and starts processing it: the tube is demonstrably in his hands.
    step(api, marrow["id"], "start_processing", user="tech2", data={"method": "density_gradient"})
    assert holder(api, marrow["id"]) == "user:tech2"
    transfers = api.get(f"/samples/{marrow['id']}/custody").json()["transfers"]
    assert transfers[-1]["received_at"] is not None


def test_scenario_4_a_box_of_tubes_goes_into_the_box(api):
    d = donor(api)
    c = collection(api, d["id"], source="bone_marrow", volume=100)
    marrow = c["samples"][0]
    step(api, marrow["id"], "receive")
    vials = api.post(f"/samples/{marrow['id']}/derivatives",
                     {"kind": "mnc", "volume_ml": 1, "count": 3}).json()
    b = box(api)
    for n, v in enumerate(vials, start=1):
        step(api, v["id"], "cryopreserve", data={"box_id": b["id"], "position": n})
        assert holder(api, v["id"]) == f"location:{b['id']}"
