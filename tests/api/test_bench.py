"""The bench through the API: scanner quirks, scan-and-act once, whole boxes, labels."""

from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from PIL import Image

from lims.domain import isbt
from tests.api.helpers import box, collection, donor, primary, scan_code, step


def _payload(api, sample: dict) -> str:
    """What the printed label carries, read back from the rendered PNG by a real decoder."""
    r = api.get(f"/samples/{sample['id']}/label", params={"template": "tube-2ml"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    (code,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(r.content)))
    return code.text


def test_label_png_decodes_to_the_isbt_payload_and_reprints_need_a_reason(api):
    s = primary(api, donor_type="autologous")
    payload = _payload(api, s)
    din = s["code"].split("-")[0]
    assert payload.startswith("=" + din)
    assert "=<" + s["product_code"] + "1" + s["division"] in payload  # 1: autologous only
    r = api.get(f"/samples/{s['id']}/label", params={"template": "tube-2ml"})
    assert r.status_code == 422 and "reason" in r.json()["detail"]
    r = api.get(f"/samples/{s['id']}/label",
                params={"template": "tube-2ml", "format": "zpl", "reason": "smudged"})
    zpl = r.text
    assert f"^FDQA,{payload}^FS" in zpl and "^BQN" in zpl
    assert "REPRINT" in zpl and "AUTOLOGOUS" in zpl
    assert "^PW600" in zpl  # 50 mm at 300 dpi = 12 dots/mm
    timeline = [e["action"] for e in api.get(f"/samples/{s['id']}/timeline").json()]
    assert timeline.count("label_printed") == 1 and timeline.count("label_reprinted") == 1


def test_pdf_sheet_has_one_label_per_sample(api):
    d = donor(api)
    c = collection(api, d["id"])
    step(api, c["samples"][0]["id"], "receive")
    kids = api.post(f"/samples/{c['samples'][0]['id']}/derivatives",
                    {"volume_ml": 0.5, "count": 12}).json()
    r = api.post("/labels/sheet", {"sample_ids": [k["id"] for k in kids], "layout": "roll"})
    assert r.status_code == 200, r.text
    assert r.content.startswith(b"%PDF")
    pages = re.findall(rb"/Type\s*/Page\b", r.content)
    assert len(pages) == 12


@pytest.mark.parametrize("quirk", [
    lambda p: p + "\r\n", lambda p: "  " + p + "\t", lambda p: "]Q1" + p,
    lambda p: "]d2" + p + "\n",
])
def test_scanner_quirks_resolve_to_the_same_card(api, quirk):
    s = primary(api)
    payload = _payload(api, s)
    r = api.post("/scans", {"payload": quirk(payload), "station": "bench-1"})
    assert r.status_code == 200, r.text
    card = r.json()
    assert card["sample_id"] == s["id"] and card["state"] == "collected"
    assert "receive" in card["allowed_events"]


def test_hand_typed_din_with_check_character(api):
    s = primary(api)
    din = s["code"].split("-")[0]
    typed = f"{din[:5]} {din[5:7]} {din[7:]} {isbt.check_character(din)}".lower()
    assert api.post("/scans", {"payload": typed, "station": "b"}).json()["sample_id"] == s["id"]
    wrong = "A" if isbt.check_character(din) != "A" else "B"
    r = api.post("/scans", {"payload": din + wrong, "station": "b"})
    assert r.status_code == 422 and isbt.check_character(din) in r.json()["detail"]


def test_unknown_code_is_an_actionable_404(api):
    din = isbt.format_din("W1234", 26, 999999)
    r = api.post("/scans", {"payload": isbt.din_data_structure(din), "station": "b"})
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert "register" in r.json()["detail"]


def test_card_shows_warnings(api):
    s = primary(api, source="bone_marrow", hours_ago=60, eligibility="pending")
    step(api, s["id"], "place_hold", reason="sterility pending")
    card = api.post("/scans", {"payload": _payload(api, s), "station": "b"}).json()
    text = " ".join(card["warnings"])
    assert "QUARANTINE" in text and "OVERDUE" in text and "eligibility pending" in text


def test_double_scan_and_act_applies_once(api):
    s = primary(api)
    payload = _payload(api, s)
    body = {"payload": payload + "\r\n", "station": "bench-1", "event": "receive"}
    first = api.post("/scans/act", body, headers={"Idempotency-Key": "scan-42"})
    second = api.post("/scans/act", body, headers={"Idempotency-Key": "scan-42"})
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replay"] == "true"
    history = [h["event"] for h in api.get(f"/samples/{s['id']}/history").json()]
    assert history == ["collect", "receive"]
    other = api.post("/scans/act", {**body, "event": "reject"},
                     headers={"Idempotency-Key": "scan-42"})
    assert other.status_code == 422  # a reused key for another action is refused
    # A new key (a genuinely new scan) is refused by the workflow, not applied twice.
    assert api.post("/scans/act", body, headers={"Idempotency-Key": "scan-43"}).status_code == 409
    # Acting from a scan without a key is refused outright.
    r = api.post("/scans/act", body)
    assert r.status_code == 422 and "Idempotency-Key" in r.text


def _box_of(api, n: int) -> tuple[list[dict], str, dict]:
    d = donor(api)
    c = collection(api, d["id"], volume=100)
    parent = c["samples"][0]
    step(api, parent["id"], "receive")
    r = api.post(f"/samples/{parent['id']}/derivatives", {"volume_ml": 1, "count": n})
    assert r.status_code == 201, r.text
    return r.json(), d["id"], parent


def test_box_of_96_with_one_foreign_tube(api):
    kids, donor_id, _ = _box_of(api, 95)

    stranger = primary(api)
    step(api, stranger["id"], "receive")
    b = box(api, rows=8, cols=12)
    payloads = [scan_code(k) for k in kids]
    payloads.insert(40, scan_code(stranger))  # the 41st tube belongs to another donor
    body = {"payloads": payloads, "station": "bench-1", "event": "cryopreserve",
            "data": {"box_id": b["id"]}, "expected_donor_id": donor_id}

    refused = api.post("/scans/batch", {**body, "mode": "all_or_nothing"},
                       headers={"Idempotency-Key": "box-0"})
    assert refused.status_code == 409
    bad = [r for r in refused.json()["results"] if not r["ok"]]
    assert [r["index"] for r in bad] == [40] and "donor" in bad[0]["detail"]
    assert api.get("/samples", params={"state": "cryopreserved"}).json()["items"] == []

    done = api.post("/scans/batch", {**body, "mode": "best_effort"},
                    headers={"Idempotency-Key": "box-1"})
    assert done.status_code == 200
    assert done.json()["applied"] == 95 and done.json()["failed"] == 1
    again = api.post("/scans/batch", {**body, "mode": "best_effort"},
                     headers={"Idempotency-Key": "box-1"})
    assert again.json() == done.json()
    stored = api.get(f"/locations/{b['id']}").json()["positions"]
    assert len(stored) == 95 and 41 not in [p["position"] for p in stored]
    # Scanning the box again (a new key) stores nothing twice.
    third = api.post("/scans/batch", {**body, "mode": "best_effort"},
                     headers={"Idempotency-Key": "box-2"})
    assert third.json()["applied"] == 0


def test_every_scan_is_recorded_even_an_unknown_code(api):
    s = primary(api)
    api.post("/scans", {"payload": _payload(api, s), "station": "bench-7"})
    unknown = isbt.din_data_structure(isbt.format_din("W1234", 26, 999998))
    assert api.post("/scans", {"payload": unknown, "station": "bench-7"}).status_code == 404
    seen = api.get("/scans", params={"station": "bench-7"}).json()["items"]
    assert [x["sample_id"] for x in seen] == [s["id"], None]
    assert seen[1]["payload"] == unknown
    # The failed scan changed nothing else.
    assert api.get(f"/samples/{s['id']}").json()["version"] == s["version"]


def test_data_matrix_labels_carry_the_same_payload(api):
    s = primary(api)
    qr = _payload(api, s)
    r = api.get(f"/samples/{s['id']}/label", params={
        "template": "cryovial", "symbology": "datamatrix", "reason": "data matrix reader"})
    assert r.status_code == 200, r.text
    (code,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(r.content)))
    assert code.format == zxingcpp.BarcodeFormat.DataMatrix and code.text == qr
