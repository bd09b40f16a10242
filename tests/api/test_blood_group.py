"""ABO/Rh: recorded where typed, corrected only with a reason, printed on bag labels."""

from __future__ import annotations

from tests.api.helpers import collection, donor


def test_typed_donor_prints_abo_rh_on_the_bag_label(api):
    d = donor(api)
    assert api.get(f"/donors/{d['id']}").json()["abo_rh"] is None
    r = api.as_("qa").put(f"/donors/{d['id']}/blood-group", {"abo_rh": "A Neg"})
    assert r.status_code == 200, r.text
    bag = collection(api, d["id"])["samples"][0]
    svg = api.get(f"/samples/{bag['id']}/label",
                  params={"template": "cryobag", "format": "svg", "preview": "true"}).text
    assert ">A Neg<" in svg


def test_a_correction_needs_a_reason_and_is_audited(api):
    d = donor(api)
    api.as_("qa").put(f"/donors/{d['id']}/blood-group", {"abo_rh": "O Pos"})
    r = api.as_("qa").put(f"/donors/{d['id']}/blood-group", {"abo_rh": "O Neg"})
    assert r.status_code == 422 and "O Pos" in r.json()["detail"]
    assert api.get(f"/donors/{d['id']}").json()["abo_rh"] == "O Pos"
    r = api.as_("qa").put(f"/donors/{d['id']}/blood-group",
                          {"abo_rh": "O Neg", "reason": "re-typed: first sample mislabelled"})
    assert r.status_code == 200 and r.json()["abo_rh"] == "O Neg"
    entries = api.as_("qa").get("/audit", params={"entity_id": d["id"],
                                                   "action": "blood_group_recorded"}).json()
    assert [(e["before"]["abo_rh"], e["after"]["abo_rh"]) for e in entries["items"]] == [
        (None, "O Pos"), ("O Pos", "O Neg")]


def test_unknown_blood_group_and_technicians_are_refused(api):
    d = donor(api)
    assert api.as_("qa").put(f"/donors/{d['id']}/blood-group",
                             {"abo_rh": "C Pos"}).status_code == 422
    assert api.as_("tech").put(f"/donors/{d['id']}/blood-group",
                               {"abo_rh": "A Pos"}).status_code == 403
