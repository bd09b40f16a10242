"""Trace reports an inspector accepts: holds, QC, deviations, excursions, signatures, each
with its time as the lab's clock read it (LIMS_TIMEZONE=Europe/Berlin in the tests).

A marrow harvest is walked through the services at fixed instants around the night the
clocks went back (25 October 2026, 03:00 CEST -> 02:00 CET). The expected lab times below
are read off a Berlin wall clock by hand, not computed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lims.db import trace as db
from lims.db.engine import unit_of_work
from lims.db.tables import Donor, Sample
from lims.services import collections, custody, donors, identity, qc, samples
from lims.services.context import Context
from lims.services.samples import SignatureInput
from tests.conftest import PASSWORD, actor_for
from tests.test_reports import lines

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "reports"
READABLE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d (CET|CEST)$")


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Built:
    donor_id: str
    recipient_id: str
    marrow: str
    product: str
    product_code: str
    marrow_code: str
    retained_code: str


def build(engine: Any, settings: Any) -> Built:
    """The story of one marrow harvest, each step at its own instant."""
    who = {u: actor_for(engine, u) for u in ("tech", "qa", "coord")}

    @contextmanager
    def at(when: datetime, user: str) -> Iterator[Context]:
        with unit_of_work(engine) as s:
            yield Context(session=s, actor=who[user], settings=settings, now=when)

    sign = SignatureInput(password=PASSWORD, meaning="released")
    with at(utc(10, 1, 9), "coord") as c:
        d = donors.register_donor(c, code="BM-TRACE-01", donor_type="allogeneic",
                                  eligibility="eligible")
        donors.add_consent(c, d.id, form_version="v3", scopes=["clinical"],
                           obtained_at=utc(10, 1, 9), obtained_by="Dr. Haas")
        donor_id = d.id
    # Collected on Saturday evening in summer time: 19:30-20:00 CEST.
    with at(utc(10, 24, 18, 5), "tech") as c:
        _, (m,) = collections.create_collection(
            c, c.session.get(Donor, donor_id), source="bone_marrow",
            site="University Hospital", started_at=utc(10, 24, 17, 30),
            ended_at=utc(10, 24, 18), local_timezone=None, volume_ml=1100,
            anticoagulant="heparin", collector="Dr. Haas")
        marrow = m.id
    with at(utc(10, 26, 21), "tech") as c:
        samples.apply_event(c, marrow, "receive")
    # 52 h after the end of collection (the night in between had 25 hours); the 48 h
    # window closed at 19:00 CET, so processing starts 4 h late, with a deviation.
    with at(utc(10, 26, 22), "tech") as c:
        samples.apply_event(c, marrow, "start_processing", data={"method": "density_gradient"},
                            reason="courier delayed; deviation DV-7")
    with at(utc(10, 26, 23, 30), "tech") as c:
        (hsc,) = samples.derive(c, marrow, kind="hsc_cd34", volume_ml=50)
        product, product_code = hsc.id, hsc.code
        samples.apply_event(c, marrow, "complete_processing")
    with at(utc(10, 27, 7), "tech") as c:  # carried at body temperature: an excursion
        custody.hand_over(c, product, to="user:tech2", handed_over_at=None, temperature_c=37,
                          shipper=None, condition="internal transfer", note=None)
    with at(utc(10, 27, 8, 15), "tech") as c:
        samples.apply_event(c, product, "place_hold", reason="sterility result pending")
    with at(utc(10, 27, 8, 30), "tech") as c:  # a retained aliquot is born on hold
        (retained,) = samples.derive(c, product, kind="hsc_cd34", volume_ml=1)
        retained_code = retained.code
    with at(utc(10, 27, 10), "qa") as c:
        (exc,) = _excursions(c, product)
        custody.review_excursion(c, product, exc, "20 min at 37 C; viability 94 %, accepted")
    with at(utc(10, 28, 10), "tech") as c:
        qc.record_qc(c, product, test="sterility", result="fail", value=None, unit=None,
                     specification="no growth")
    with at(utc(10, 29, 9, 45), "tech") as c:
        qc.record_qc(c, product, test="viability", result="pass", value=94, unit="%",
                     specification=">= 70 %")
        retest = qc.record_qc(c, product, test="sterility", result="pass", value=None,
                              unit=None, specification="no growth")
    with at(utc(10, 29, 11), "qa") as c:
        qc.approve_qc(c, product, retest.id, SignatureInput(password=PASSWORD,
                                                            meaning="approved"))
    with at(utc(10, 29, 12), "qa") as c:
        samples.apply_event(c, product, "lift_hold", reason="sterility re-test: no growth")
    with at(utc(10, 29, 14), "qa") as c:
        samples.apply_event(c, product, "release", data={"intended_use": "clinical"},
                            signature=sign)
    with at(utc(10, 30, 8), "coord") as c:
        r = identity.register_recipient(c, code="R-TRACE-9", wristband_id="WB-9009",
                                        donor_id=None)
        samples.apply_event(c, product, "distribute", data={
            "intended_use": "clinical", "recipient_id": r.id, "destination": "Ward 4"})
        recipient_id = r.id
        marrow_code = _code(c, marrow)
    return Built(donor_id, recipient_id, marrow, product, product_code, marrow_code,
                 retained_code)


def _excursions(ctx: Context, sample_id: str) -> list[str]:
    return [e.id for e in db.excursions(ctx.session, [sample_id])]


def _code(ctx: Context, sample_id: str) -> str:
    s = ctx.session.get(Sample, sample_id)
    assert s is not None
    return s.code


@pytest.fixture
def built(api: Any, engine: Any, settings: Any) -> Built:
    return build(engine, settings)


def test_donor_trace_json_gives_every_record_its_lab_time(api: Any, built: Built) -> None:
    t = api.get(f"/donors/{built.donor_id}/trace").json()
    assert t["timezone"] == "Europe/Berlin"
    assert READABLE.match(t["generated_at_local"])
    assert datetime.fromisoformat(t["generated_at"]).utcoffset() is not None  # ISO kept

    (c,) = t["collections"]
    assert c["started_at"] == "2026-10-24T17:30:00+00:00"  # the API keeps ISO 8601
    assert (c["started_at_local"], c["ended_at_local"]) == ("2026-10-24 19:30 CEST",
                                                            "2026-10-24 20:00 CEST")

    hold, inherited = t["holds"]
    assert {k: inherited[k] for k in ("sample_code", "reason", "placed_at_local", "placed_by",
                                      "lifted_at")} == {
        "sample_code": built.retained_code, "reason": "sterility result pending",
        "placed_at_local": "2026-10-27 09:30 CET",
        "placed_by": "derivation from a held parent", "lifted_at": None}
    assert {k: hold[k] for k in (
        "sample_code", "reason", "placed_at_local", "placed_by", "lifted_at_local",
        "lifted_by", "lift_reason")} == {
        "sample_code": built.product_code, "reason": "sterility result pending",
        "placed_at_local": "2026-10-27 09:15 CET", "placed_by": "Jana Tech",
        "lifted_at_local": "2026-10-29 13:00 CET", "lifted_by": "Quentin QA",
        "lift_reason": "sterility re-test: no growth"}
    assert hold["placed_at"] == "2026-10-27T08:15:00+00:00"

    assert [(q["test"], q["result"], q["recorded_at_local"], q["recorded_by"])
            for q in t["qc_results"]] == [
        ("sterility", "fail", "2026-10-28 11:00 CET", "Jana Tech"),
        ("viability", "pass", "2026-10-29 10:45 CET", "Jana Tech"),
        ("sterility", "pass", "2026-10-29 10:45 CET", "Jana Tech")]

    (dev,) = t["deviations"]
    assert {k: dev[k] for k in ("sample_code", "step", "window_closed_at_local",
                                "started_at_local", "started_by", "late_by", "reason")} == {
        "sample_code": built.marrow_code, "step": "density_gradient",
        "window_closed_at_local": "2026-10-26 19:00 CET",
        "started_at_local": "2026-10-26 23:00 CET", "started_by": "Jana Tech",
        "late_by": "4 h", "reason": "courier delayed; deviation DV-7"}
    assert dev["since_collection"] == "52 h"  # 25-hour night between: not 51 h

    (exc,) = t["excursions"]
    assert (exc["sample_code"], exc["temperature_c"], exc["detected_at_local"],
            exc["reviewed_at_local"], exc["reviewed_by"]) == (
        built.product_code, 37.0, "2026-10-27 08:00 CET", "2026-10-27 11:00 CET",
        "Quentin QA")
    assert exc["assessment"].startswith("20 min at 37 C")

    assert [(g["sample_code"], g["record"], g["meaning"], g["signer_name"],
             g["signed_at_local"]) for g in t["signatures"]] == [
        (built.product_code, "QC sterility: qc approved", "approved", "Quentin QA",
         "2026-10-29 12:00 CET"),
        (built.product_code, "release", "released", "Quentin QA", "2026-10-29 15:00 CET")]


def test_recipient_trace_and_timeline_read_in_the_lab_zone(api: Any, built: Built) -> None:
    t = api.get(f"/recipients/{built.recipient_id}/trace").json()
    (p,) = t["products"]
    assert [x["code"] for x in p["path"]] == [built.marrow_code, built.product_code]
    assert p["collection"]["started_at_local"] == "2026-10-24 19:30 CEST"
    assert [d["started_at_local"] for d in p["deviations"]] == ["2026-10-26 23:00 CET"]
    assert [h["placed_at_local"] for h in p["holds"]] == ["2026-10-27 09:15 CET"]
    assert [e["reviewed_by"] for e in p["excursions"]] == ["Quentin QA"]
    assert len(p["qc_results"]) == 3
    assert [g["meaning"] for g in p["signatures"]] == ["approved", "released"]
    assert p["sample"]["signatures"][-1]["signed_at_local"] == "2026-10-29 15:00 CET"

    # The same story, as the sample's timeline reads it.
    text = [e["text"] for e in api.get(f"/samples/{built.product}/timeline").json()]
    assert ("place hold: hold reason - -> sterility result pending, hold False -> True by "
            "Jana Tech at 2026-10-27 09:15 CET: sterility result pending") in text
    assert "excursion reviewed by Quentin QA at 2026-10-27 11:00 CET" in text
    assert not any("UTC" in x for x in text)


# ---- the PDF -----------------------------------------------------------------------------

def inflate(pdf: bytes) -> list[bytes]:
    """The page content streams of a compressed PDF, as drawn."""
    out = []
    for raw in re.findall(rb"stream\n(.*?)endstream", pdf, re.S):
        try:
            body = zlib.decompressobj().decompress(raw)
        except zlib.error:
            continue
        if b" Td " in body:
            out.append(body)
    return out


def pdf_pages(pdf: bytes) -> list[str]:
    return [" ".join(t for _, t in lines(s)) for s in inflate(pdf)]


def png_pages(pdf: bytes, name: str) -> int:
    """Pages as PNGs under tests/artifacts/reports/ for a reviewer's eyes (0 without
    pdftoppm, from poppler-utils)."""
    if not shutil.which("pdftoppm"):
        return 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob(f"{name}*"):
        old.unlink()
    (ARTIFACTS / f"{name}.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "80", str(ARTIFACTS / f"{name}.pdf"),
                    str(ARTIFACTS / name)], check=True, timeout=60)
    return len(list(ARTIFACTS.glob(f"{name}-*.png")))


def test_trace_pdfs_print_every_record_page_numbers_and_generation_time(
        api: Any, built: Built, db_url: str) -> None:
    r = api.get(f"/donors/{built.donor_id}/trace", params={"format": "pdf"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    pages = pdf_pages(r.content)
    n = len(pages)
    assert n >= 1
    generated = api.get(f"/donors/{built.donor_id}/trace").json()["generated_at_local"]
    for k, page in enumerate(pages, 1):
        assert f"Page {k} of {n}" in page
        # generated a moment apart from the JSON above: same format, same zone
        assert re.search(r"Generated at \d{4}-\d\d-\d\d \d\d:\d\d (CET|CEST)", page), page
    printed = " ".join(pages)
    assert generated[-4:].strip() in printed
    for heading in ("Holds", "QC results", "Deviations", "Temperature excursions",
                    "Signatures", "Times lab time, Europe/Berlin"):
        assert heading in printed, heading
    for fact in ("2026-10-24 19:30 CEST",  # collection started
                 "sterility result pending", "2026-10-27 09:15 CET by Jana Tech",
                 "2026-10-29 13:00 CET by Quentin QA", "sterility re-test: no growth",
                 "FAIL", "PASS", "2026-10-28 11:00 CET by Jana Tech", "94 %",
                 "2026-10-26 19:00 CET", "2026-10-26 23:00 CET by Jana Tech",
                 "4 h (52 h after collection)",
                 "courier delayed; deviation DV-7",
                 "37 \xb0C", "2026-10-27 08:00 CET", "2026-10-27 11:00 CET by Quentin QA",
                 "QC sterility: qc approved", "2026-10-29 12:00 CET",
                 "signed released by Quentin QA at 2026-10-29 15:00 CET"):
        assert fact in printed, fact
    assert "+00:00" not in printed  # no ISO time reaches a person

    if db_url.startswith("sqlite"):
        assert png_pages(r.content, "donor-trace") in (0, n)


    r = api.get(f"/recipients/{built.recipient_id}/trace", params={"format": "pdf"})
    pages = pdf_pages(r.content)
    printed = " ".join(pages)
    assert all(f"Page {k} of {len(pages)}" in p for k, p in enumerate(pages, 1))
    for fact in ("Product 1: Holds", "Product 1: QC results", "Product 1: Deviations",
                 "Product 1: Temperature excursions", "Product 1: Signatures",
                 "2026-10-26 23:00 CET by Jana Tech", "2026-10-27 09:15 CET by Jana Tech"):
        assert fact in printed, fact
    if db_url.startswith("sqlite"):
        assert png_pages(r.content, "recipient-trace") in (0, len(pages))
