"""Lists as an integrator uses them: every filter either works or is refused by name;
several values where that makes sense; cursor pages; look-ups by the identifiers other
systems hold (DIN, sample code, donor code, their own external_ref)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.helpers import collection, donor, step


def _fields(r) -> set[str]:
    return {e["field"] for e in r.json().get("errors", [])}


@pytest.mark.parametrize("url", ["/samples", "/donors", "/collections", "/audit", "/scans"])
def test_an_unknown_filter_is_refused_by_name(api, url):
    r = api.as_("admin").get(url, params={"colour": "blue"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "colour" in r.json()["detail"]
    assert "query.colour" in _fields(r)


def test_a_single_valued_filter_given_twice_is_refused(api):
    r = api.get("/samples?limit=5&limit=10")
    assert r.status_code == 422, r.text
    assert "limit" in r.json()["detail"] and "query.limit" in _fields(r)
    r = api.get("/collections?din=W123426000001&din=W123426000002")
    assert r.status_code == 422 and "query.din" in _fields(r)


@pytest.mark.parametrize("query", ["state=frozen", "updated_since=yesterday",
                                   "updated_since=2026-03-04T10:00:00", "limit=0",
                                   "on_hold=maybe", "kind=blood"])
def test_a_malformed_filter_is_refused_naming_it(api, query):
    r = api.get(f"/samples?{query}")
    assert r.status_code == 422, r.text
    name = query.split("=")[0]
    assert any(name in f for f in _fields(r)), r.json()


def test_state_source_and_kind_take_several_values(api):
    d = donor(api)
    received = collection(api, d["id"])["samples"][0]
    step(api, received["id"], "receive")
    collected = collection(api, d["id"])["samples"][0]
    marrow = collection(api, d["id"], source="bone_marrow", volume=20)["samples"][0]
    ids = {received["id"], collected["id"], marrow["id"]}

    def listed(query: str) -> set[str]:
        r = api.get(f"/samples?{query}&donor_id={d['id']}")
        assert r.status_code == 200, r.text
        return {s["id"] for s in r.json()["items"]} & ids

    assert marrow["state"] == collected["state"] == "collected"
    assert listed("state=received&state=collected") == ids
    assert listed("state=collected") == {collected["id"], marrow["id"]}
    assert listed("state=received") == {received["id"]}
    assert listed("source=cord_blood&source=bone_marrow") == ids
    assert listed("source=bone_marrow") == {marrow["id"]}
    assert listed("kind=cord_blood&kind=bone_marrow") == ids
    assert listed("kind=bone_marrow") == {marrow["id"]}
    r = api.get(f"/collections?source=bone_marrow&source=cord_blood&donor_id={d['id']}")
    assert len(r.json()["items"]) == 3


def test_every_list_pages_with_a_cursor_and_no_row_twice(api):
    d = donor(api)
    for _ in range(5):
        collection(api, d["id"])
    for url in (f"/samples?donor_id={d['id']}", f"/collections?donor_id={d['id']}",
                "/donors", "/audit"):
        seen, cursor = [], None
        while True:
            r = api.as_("admin").get(url, params={"limit": 2, **({"cursor": cursor}
                                                                 if cursor else {})})
            assert r.status_code == 200, (url, r.text)
            page = r.json()
            assert len(page["items"]) <= 2
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)), url
        if "donor_id" in url:
            assert len(seen) == 5, url


def test_look_up_by_code_din_and_donor_code(api):
    d = donor(api)
    c = collection(api, d["id"])
    s = c["samples"][0]
    other = collection(api, donor(api)["id"])["samples"][0]
    by_code = api.get("/samples", params={"code": s["code"]}).json()["items"]
    assert [x["id"] for x in by_code] == [s["id"]]
    by_din = api.get("/samples", params={"din": c["din"]}).json()["items"]
    assert {x["id"] for x in by_din} == {x["id"] for x in c["samples"]}
    by_donor = api.get("/samples", params={"donor_code": d["code"]}).json()["items"]
    assert other["id"] not in {x["id"] for x in by_donor} and s["id"] in {
        x["id"] for x in by_donor}
    assert [x["id"] for x in api.get("/collections", params={"din": c["din"]}).json()[
        "items"]] == [c["id"]]
    assert [x["id"] for x in api.get("/donors", params={"code": d["code"]}).json()[
        "items"]] == [d["id"]]
    assert api.get("/samples", params={"code": "W000026999999-S1002-00"}).json()[
        "items"] == []


def test_external_ref_is_the_callers_own_and_unique_per_account(api):
    d = donor(api)
    mine = collection(api, d["id"], external_ref="ORD-1")
    assert mine["external_ref"] == "ORD-1"
    # The same reference from another account is another system's order: allowed.
    from tests.api.helpers import collection_body
    theirs = api.as_("coord").post("/collections",
                                   collection_body(d["id"], external_ref="ORD-1"))
    assert theirs.status_code == 201, theirs.text
    again = api.post("/collections", collection_body(d["id"], external_ref="ORD-1"))
    assert again.status_code == 409, again.text
    found = api.get("/collections", params={"external_ref": "ORD-1"}).json()["items"]
    assert [c["id"] for c in found] == [mine["id"]]
    found = api.as_("coord").get("/collections", params={"external_ref": "ORD-1"}).json()
    assert [c["id"] for c in found["items"]] == [theirs.json()["id"]]


def test_updated_since_lists_only_what_changed(api):
    d = donor(api)
    a = collection(api, d["id"])["samples"][0]
    b = collection(api, d["id"])["samples"][0]
    mark = datetime.now(UTC)
    step(api, b["id"], "receive")
    r = api.get("/samples", params={"updated_since": mark.isoformat(), "donor_id": d["id"]})
    assert [x["id"] for x in r.json()["items"]] == [b["id"]]
    early = (mark - timedelta(hours=5)).isoformat()
    r = api.get("/samples", params={"updated_since": early, "donor_id": d["id"]})
    assert {x["id"] for x in r.json()["items"]} == {a["id"], b["id"]}
    r = api.get("/donors", params={"updated_since": mark.isoformat(), "code": d["code"]})
    assert r.json()["items"] == []
    r = api.get("/collections", params={"updated_since": early, "donor_id": d["id"]})
    assert len(r.json()["items"]) == 2


def test_a_derived_sample_carries_the_callers_reference(api):
    d = donor(api)
    bag = collection(api, d["id"])["samples"][0]
    step(api, bag["id"], "receive")
    r = api.post(f"/samples/{bag['id']}/derivatives",
                 {"kind": "mnc", "volume_ml": 10, "external_ref": "MNC-7"})
    assert r.status_code == 201, r.text
    child = r.json()[0]
    assert child["external_ref"] == "MNC-7"
    found = api.get("/samples", params={"external_ref": "MNC-7"}).json()["items"]
    assert [s["id"] for s in found] == [child["id"]]
    assert api.as_("tech2").get("/samples", params={"external_ref": "MNC-7"}).json()[
        "items"] == []  # another account's reference space
    again = api.post(f"/samples/{bag['id']}/derivatives",
                     {"kind": "mnc", "volume_ml": 10, "external_ref": "MNC-7"})
    assert again.status_code == 409, again.text
    theirs = api.as_("tech2").post(f"/samples/{bag['id']}/derivatives",
                                   {"kind": "mnc", "volume_ml": 10, "external_ref": "MNC-7"})
    assert theirs.status_code == 201, theirs.text
    many = api.post(f"/samples/{bag['id']}/derivatives",
                    {"kind": "mnc", "volume_ml": 1, "count": 2, "external_ref": "MNC-8"})
    assert many.status_code == 422
