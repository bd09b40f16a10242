"""Preview is not a print; the label shows the sample's expiry in the lab's zone (HTTP)."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image

from tests.api.helpers import box, primary, step


def label(api, sample_id: str, **params):
    return api.get(f"/samples/{sample_id}/label", params={"template": "tube-2ml", **params})


def printed(api, sample_id: str) -> list[str]:
    timeline = [e["action"] for e in api.get(f"/samples/{sample_id}/timeline").json()]
    return [a for a in timeline if a.startswith("label_")]


def test_preview_records_nothing_and_needs_no_reason(api):
    s = primary(api)
    for fmt in ("png", "svg", "png"):  # as often as you like
        r = label(api, s["id"], preview="true", format=fmt)
        assert r.status_code == 200, r.text
    assert printed(api, s["id"]) == []
    # The first print is still the first: no reason asked, not marked REPRINT.
    first = label(api, s["id"], format="zpl")
    assert first.status_code == 200 and "REPRINT" not in first.text
    assert printed(api, s["id"]) == ["label_printed"]
    # A preview now shows what a print would be (a reprint), and still records nothing.
    r = label(api, s["id"], preview="true", format="svg")
    assert r.status_code == 200 and "REPRINT" in r.text and "PREVIEW" in r.text
    assert printed(api, s["id"]) == ["label_printed"]
    # The reprint rule applies to prints only.
    assert label(api, s["id"], format="zpl").status_code == 422
    r = label(api, s["id"], format="zpl", reason="smudged in the water bath")
    assert r.status_code == 200 and "REPRINT" in r.text
    assert printed(api, s["id"]) == ["label_printed", "label_reprinted"]


def test_a_print_png_scans_a_preview_png_is_crossed_out(api):
    s = primary(api)
    preview = label(api, s["id"], preview="true").content
    print_ = label(api, s["id"]).content
    assert preview != print_
    assert [b.text for b in zxingcpp.read_barcodes(Image.open(io.BytesIO(print_)))] != []


def test_preview_goes_to_a_screen_not_a_printer(api):
    s = primary(api)
    for fmt in ("zpl", "pdf"):
        r = label(api, s["id"], preview="true", format=fmt)
        assert r.status_code == 422 and "preview" in r.json()["detail"].lower()
    assert printed(api, s["id"]) == []


def test_label_shows_expiry_in_the_lab_zone_and_as_isbt_005(api):
    s = primary(api)
    # 18:20 UTC on 14 January 2027 is 19:20 in Berlin (the test lab's LIMS_TIMEZONE).
    step(api, s["id"], "receive", data={"expires_at": "2027-01-14T18:20:00.123456+00:00"})
    tube = label(api, s["id"], format="zpl").text
    assert "Expires 2027-01-14 19:20 CET" in tube
    bag = label(api, s["id"], format="zpl", template="cryobag", reason="bag label too").text
    assert "^FD&>0270141920^FS" in bag  # 2027, day 014, 19:20 local time
    assert "^FD=<" in bag and "^BCN" in bag


def test_unknown_or_accompanying_template_is_refused(api):
    s = primary(api)
    for name in ("cryovial-tag", "vial"):
        r = label(api, s["id"], template=name)
        # The templates are named in the refusal (they are an enum in the document).
        assert r.status_code == 422 and "cryovial" in r.json()["detail"], r.text
        assert "tube-2ml" in r.json()["detail"]


def test_bag_label_follows_what_happened_to_the_product(api):
    s = primary(api, donor_type="autologous")  # cord blood, collected into CPD
    step(api, s["id"], "receive")
    fresh = label(api, s["id"], format="zpl", template="cryobag").text
    for must in ("Store at 2-8 \u00b0C", "Approx. 95 mL, CPD", "Do Not Irradiate",
                 "FOR AUTOLOGOUS USE ONLY", "HPC, Cord Blood", "Collected "):
        assert must in fresh, must
    assert "Cryopreserved" not in fresh
    b = box(api, rows=2, cols=2)
    step(api, s["id"], "cryopreserve", data={"box_id": b["id"], "position": 1})
    frozen = label(api, s["id"], format="zpl", template="cryobag", reason="frozen").text
    assert "Cryopreserved" in frozen and "Store at -150 \u00b0C or colder" in frozen
    step(api, s["id"], "thaw")
    thawed = label(api, s["id"], format="zpl", template="cryobag", reason="thawed").text
    assert "Thawed" in thawed and "Cryopreserved" not in thawed
