"""Bulk exchange: CSV export with the list's filters, streamed; CSV import of collections
with a per-row report, all-or-nothing or best-effort, idempotent per external_ref; events
applied to many samples with a result per item."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from tests.api.helpers import collection, donor, iso, primary, step

HEADER = ("external_ref,donor_code,source,site,started_at,ended_at,volume_ml,anticoagulant,"
          "collector\r\n")


def _row(ref: str, donor_code: str, *, volume: str = "95", started: datetime | None = None,
         source: str = "cord_blood") -> str:
    start = started or datetime.now(UTC) - timedelta(hours=2)
    return (f"{ref},{donor_code},{source},Maternity unit,{iso(start)},"
            f"{iso(start + timedelta(minutes=8))},{volume},CPD,Midwife M.\r\n")


def _import(api, text: str, mode: str = "best_effort", user: str = "tech"):
    return api.as_(user).post("/collections/import", params={"mode": mode}, content=text,
                              headers={"Content-Type": "text/csv"})


def _csv(r) -> list[dict[str, str]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.text)))


def test_export_has_the_lists_filters_and_every_row(api):
    d = donor(api)
    made = [collection(api, d["id"])["samples"][0] for _ in range(3)]
    step(api, made[0]["id"], "receive")
    rows = _csv(api.get("/samples.csv", params={"donor_id": d["id"]}))
    assert [r["code"] for r in rows] == [s["code"] for s in made]
    assert rows[0]["state"] == "received" and rows[1]["state"] == "collected"
    assert rows[0]["din"] == made[0]["code"].split("-")[0]
    rows = _csv(api.get("/samples.csv", params={"donor_id": d["id"], "state": "collected"}))
    assert [r["code"] for r in rows] == [s["code"] for s in made[1:]]
    refused = api.get("/samples.csv", params={"colour": "blue"})
    assert refused.status_code == 422 and "colour" in refused.json()["detail"]


def test_export_walks_past_one_page(api, monkeypatch):
    """The export reads page by page; a list longer than one page comes out whole."""
    from lims.db import lookup

    real = lookup.samples_streamed
    monkeypatch.setattr(lookup, "samples_streamed",
                        lambda s, f, now, chunk=500: real(s, f, now, chunk=2))
    d = donor(api)
    made = [collection(api, d["id"])["samples"][0]["code"] for _ in range(5)]
    rows = _csv(api.get("/samples.csv", params={"donor_id": d["id"]}))
    assert [r["code"] for r in rows] == made


def test_export_keeps_formulas_out_of_spreadsheets(api):
    """Text a person typed must not run as a formula when the file is opened."""
    d = donor(api)
    s = collection(api, d["id"])["samples"][0]
    r = api.as_("qa").post(f"/samples/{s['id']}/transitions",
                           {"event": "place_hold", "reason": "=HYPERLINK(\"http://x\")"})
    assert r.status_code == 200, r.text
    rows = _csv(api.get("/samples.csv", params={"code": s["code"]}))
    assert rows[0]["hold_reason"] == "'=HYPERLINK(\"http://x\")"
    assert rows[0]["volume_ml"] == "95.0"  # numbers stay numbers


def test_import_best_effort_reports_each_row_and_a_resend_records_nothing_twice(api):
    d = donor(api)
    future = datetime.now(UTC) + timedelta(days=2)
    text = (HEADER + _row("H-1", d["code"]) + _row("H-2", "NO-SUCH-DONOR")
            + _row("H-3", d["code"], volume="lots") + _row("H-4", d["code"], started=future)
            + _row("H-5", d["code"]))
    r = _import(api, text)
    assert r.status_code == 200, r.text
    body = r.json()
    outcomes = {x["external_ref"]: x["outcome"] for x in body["rows"]}
    assert outcomes == {"H-1": "created", "H-2": "failed", "H-3": "failed", "H-4": "failed",
                        "H-5": "created"}
    assert (body["created"], body["failed"]) == (2, 3)
    details = {x["external_ref"]: x.get("detail", "") for x in body["rows"]}
    assert "NO-SUCH-DONOR" in details["H-2"] and "volume_ml" in details["H-3"]
    assert "future" in details["H-4"]
    assert [x["row"] for x in body["rows"]] == [2, 3, 4, 5, 6]
    listed = api.get("/collections", params={"donor_id": d["id"]}).json()["items"]
    assert sorted(c["external_ref"] for c in listed) == ["H-1", "H-5"]
    again = _import(api, text).json()
    assert {x["external_ref"]: x["outcome"] for x in again["rows"]}["H-1"] == "exists"
    assert again["created"] == 0 and again["existing"] == 2
    assert len(api.get("/collections", params={"donor_id": d["id"]}).json()["items"]) == 2


def test_import_all_or_nothing_refuses_the_file_with_the_report(api):
    d = donor(api)
    text = HEADER + _row("A-1", d["code"]) + _row("A-2", d["code"], source="plasma")
    r = _import(api, text, mode="all_or_nothing")
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    report = {x["external_ref"]: x["outcome"] for x in r.json()["results"]}
    assert report == {"A-1": "not_applied", "A-2": "failed"}
    assert api.get("/collections", params={"donor_id": d["id"]}).json()["items"] == []
    ok = _import(api, HEADER + _row("A-1", d["code"]), mode="all_or_nothing")
    assert ok.status_code == 200 and ok.json()["created"] == 1


def test_import_refuses_a_file_that_is_not_the_import_format(api):
    r = _import(api, "name,age\r\nx,1\r\n")
    assert r.status_code == 422 and "external_ref" in r.json()["detail"]
    empty = _import(api, HEADER)  # a header alone imports nothing
    assert empty.status_code == 200 and empty.json()["rows"] == []
    assert _import(api, HEADER + _row("Q-1", "X"), user="qa").status_code == 403


def test_bulk_transitions_give_a_result_per_item(api):
    a, b, c = primary(api), primary(api), primary(api)
    step(api, c["id"], "receive")
    stale = api.get(f"/samples/{b['id']}").headers["ETag"]
    step(api, b["id"], "receive")
    r = api.post("/samples/bulk-transitions", {"mode": "best_effort", "items": [
        {"sample_id": a["id"], "event": "receive"},
        {"sample_id": b["id"], "event": "start_processing", "if_match": stale,
         "data": {"method": "volume_reduction"}},
        {"sample_id": c["id"], "event": "receive"},
        {"sample_id": "no-such-sample", "event": "receive"}]})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["outcome"] for x in results] == ["applied", "failed", "failed", "failed"]
    assert [x.get("status") for x in results] == [None, 412, 409, 404]
    assert results[0]["state"] == "received"
    assert "start_processing" in results[2]["allowed_events"]
    assert api.get(f"/samples/{a['id']}").json()["state"] == "received"
    assert api.get(f"/samples/{b['id']}").json()["state"] == "received"


def test_bulk_transitions_all_or_nothing(api):
    a, b = primary(api), primary(api)
    step(api, b["id"], "receive")
    r = api.post("/samples/bulk-transitions", {"mode": "all_or_nothing", "items": [
        {"sample_id": a["id"], "event": "receive"}, {"sample_id": b["id"], "event": "receive"}]})
    assert r.status_code == 409, r.text
    assert [x["outcome"] for x in r.json()["results"]] == ["not_applied", "failed"]
    assert api.get(f"/samples/{a['id']}").json()["state"] == "collected"
