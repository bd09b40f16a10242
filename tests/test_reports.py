"""Traceability report PDF: what is printed is read back from the uncompressed content streams."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from fpdf.fonts import CORE_FONTS_CHARWIDTHS

from lims.reports import TreeLine, path_lines, trace_pdf, tree_lines

A4_W_PT, MARGIN_PT = 595.28, 15 / 25.4 * 72
DIN = "W123426000001"
# Times as the trace service gives them: ISO 8601, and the lab's reading (Europe/Berlin).
SIGNED = {"signer_name": "Quentin QA", "meaning": "released",
          "signed_at": "2026-11-19T16:00:00+00:00", "signed_at_local": "2026-11-19 17:00 CET"}


def node(code: str, product: str, state: str, volume: float | None, disposition: str,
         children: tuple[dict, ...] = (), **extra: Any) -> dict[str, Any]:
    return {"id": f"id-{code}", "code": code, "kind": "cord_blood", "product": product,
            "state": state, "volume_ml": volume, "disposition": disposition, "recipient": None,
            "distributed_to": None, "intended_use": None, "signatures": [],
            "children": list(children)} | extra


GIVEN = node(f"{DIN}-S1002-01", "HPC, Cord Blood", "administered", 25.0,
             "administered to R-0007 at 2026-11-20 11:00 CET",
             recipient={"code": "R-0007", "wristband_id": "WB123"},
             distributed_to="Transplant Centre A", intended_use="clinical",
             signatures=[SIGNED, {"signer_name": "Ada Admin", "meaning": "distributed",
                                  "signed_at": "2026-11-20T08:00:00+00:00",
                                  "signed_at_local": "2026-11-20 09:00 CET"}])
STORED = node(f"{DIN}-S1002-02", "HPC, Cord Blood", "stored", 25.0,
              "in storage: Dewar 2 / Rack C / Box 7, position 41", signatures=[SIGNED])
QC = node(f"{DIN}-Q0001-00", "QC sample", "discarded", 1.0, "discarded: consumed by testing")
FRACTION = node(f"{DIN}-S1002-00", "HPC, Cord Blood", "processed", 51.0,
                "in process (processed)", (GIVEN, STORED, QC))
PLASMA = node(f"{DIN}-P0001-00", "Plasma", "discarded", 40.0, "discarded: clotted")
PRIMARY = node(f"{DIN}-S1001-00", "Cord blood, primary bag", "processed", 95.0,
               "in process (processed)", (FRACTION, PLASMA))
CODES = [PRIMARY["code"], FRACTION["code"], GIVEN["code"], STORED["code"], QC["code"],
         PLASMA["code"]]

DONOR_TRACE: dict[str, Any] = {
    "kind": "donor_trace", "generated_at": "2026-11-26T12:00:00+00:00",
    "generated_at_local": "2026-11-26 13:00 CET", "timezone": "Europe/Berlin",
    "facility": "Demo Stem Cell Laboratory (W1234)",
    "donor": {"id": "d-1", "code": "CB-2026-0412", "donor_type": "allogeneic",
              "eligibility": "eligible"},
    "consents": [{"form_version": "v3", "scopes": ["banking", "clinical"],
                  "withdrawn_scopes": ["research"], "obtained_at": "2026-04-01T09:00:00+00:00",
                  "obtained_at_local": "2026-04-01 11:00 CEST", "withdrawn_at": None,
                  "withdrawn_at_local": None}],
    "collections": [{"id": "c-1", "din": DIN, "source": "cord_blood", "site": "Maternity unit",
                     "started_at": "2026-04-12T03:10:00+00:00",
                     "started_at_local": "2026-04-12 05:10 CEST",
                     "ended_at": "2026-04-12T03:25:00+00:00",
                     "ended_at_local": "2026-04-12 05:25 CEST", "volume_ml": 95.0,
                     "samples": [PRIMARY]}],
}


def strip(n: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in n.items() if k != "children"}


RECIPIENT_TRACE: dict[str, Any] = {
    "kind": "recipient_trace", "generated_at": "2026-11-26T12:00:00+00:00",
    "generated_at_local": "2026-11-26 13:00 CET", "timezone": "Europe/Berlin",
    "facility": "Demo Stem Cell Laboratory (W1234)",
    "recipient": {"id": "r-7", "code": "R-0007", "wristband_id": "WB123",
                  "donor_code": None},
    "products": [{"sample": strip(GIVEN), "administered_at": "2026-11-20T10:00:00+00:00",
                  "administered_at_local": "2026-11-20 11:00 CET",
                  "path": [strip(PRIMARY), strip(FRACTION), strip(GIVEN)],
                  "donor": {"code": "CB-2026-0412", "donor_type": "allogeneic",
                            "eligibility": "eligible"},
                  "collection": {"din": DIN, "source": "cord_blood", "site": "Maternity unit",
                                 "started_at": "2026-04-12T03:10:00+00:00",
                                 "started_at_local": "2026-04-12 05:10 CEST"}}],
}


# ---- reading the PDF back -------------------------------------------------------------

LINE = re.compile(rb"^(?:q )?BT ([\d.]+) ([\d.]+) Td (.*?) ET(?: Q)?$", re.M)
STRING = re.compile(rb"\(((?:\\.|[^\\)])*)\) Tj")
FONT = re.compile(rb"/F(\d+) ([\d.]+) Tf")


def page_streams(pdf: bytes) -> list[bytes]:
    return [s for s in re.findall(rb"stream\n(.*?)endstream", pdf, re.S) if b" Td " in s]


def lines(stream: bytes) -> list[tuple[float, str]]:
    """(x in pt, text) of each drawn line; fragments of one line (page number) joined."""
    return [(float(x), "".join(re.sub(rb"\\(.)", rb"\1", s).decode("latin-1")
                               for s in STRING.findall(body)))
            for x, _, body in LINE.findall(stream)]


def text(pdf: bytes) -> str:
    # A wrapped line breaks at a space that the PDF does not draw: join lines with one.
    return " ".join(t for s in page_streams(pdf) for _, t in lines(s))


def x_of(pdf: bytes, start: str) -> float:
    (x,) = [x for s in page_streams(pdf) for x, t in lines(s) if t.startswith(start)]
    return x


# ---- donor trace --------------------------------------------------------------------------

def test_donor_trace_prints_every_sample_disposition_and_signature() -> None:
    pdf = trace_pdf(DONOR_TRACE, compress=False)
    assert pdf.startswith(b"%PDF") and len(page_streams(pdf)) == 1
    raw, printed = pdf.decode("latin-1"), text(pdf)
    for code in [*CODES, DIN, "CB-2026-0412"]:
        assert code in raw  # codes never wrap: they hold no space
    for n in (PRIMARY, FRACTION, GIVEN, STORED, QC, PLASMA):
        assert n["disposition"] in printed
    assert "Traceability report: donor CB-2026-0412" in printed
    assert "Demo Stem Cell Laboratory (W1234) | Generated at 2026-11-26 13:00 CET" in printed
    assert "Page 1 of 1" in printed
    assert printed.count("signed released by Quentin QA at 2026-11-19 17:00 CET") == 2
    assert "signed distributed by Ada Admin" in printed
    assert "recipient R-0007 (wristband WB123) | distributed to Transplant Centre A" in printed
    for fact in ("allogeneic", "eligible", "banking, clinical", "research", "Maternity unit",
                 "2026-04-12 05:25 CEST", "2026-04-01 11:00 CEST", "Times lab time, Europe/Berlin",
                 "95 mL", "25 mL | administered"):
        assert fact in printed
    # Depth first: a child comes right after its parent, before the parent's next sibling.
    assert [printed.index(c) for c in CODES] == sorted(printed.index(c) for c in CODES)


def test_tree_lines_depth_numbering_and_signatures() -> None:
    got = tree_lines([PRIMARY])
    assert [(ln.depth, ln.text.split("  ")[0], ln.signature) for ln in got] == [
        (0, "1", False), (1, "1.1", False),
        (2, "1.1.1", False), (2, "signed released by Quentin QA at 2026-11-19 17:00 CET",
                              True), (2, "signed distributed by Ada Admin at "
                                         "2026-11-20 09:00 CET", True),
        (2, "1.1.2", False), (2, "signed released by Quentin QA at 2026-11-19 17:00 CET",
                              True),
        (2, "1.1.3", False), (1, "1.2", False)]
    assert got[2].text == (f"1.1.1  {DIN}-S1002-01 | HPC, Cord Blood | administered | 25 mL | "
                           "administered to R-0007 at 2026-11-20 11:00 CET | recipient "
                           "R-0007 (wristband WB123) | distributed to Transplant Centre A | "
                           "intended use clinical")
    assert tree_lines([]) == []


def test_each_generation_is_indented_further_and_signatures_sit_under_their_sample() -> None:
    pdf = trace_pdf(DONOR_TRACE, compress=False)
    primary, child, grandchild = (x_of(pdf, f"{n}  ") for n in ("1", "1.1", "1.1.1"))
    assert MARGIN_PT - 1 < primary < child < grandchild
    assert x_of(pdf, "1.2  ") == child and x_of(pdf, "1.1.3  ") == grandchild
    (page,) = [lines(s) for s in page_streams(pdf)]
    at = [t for _, t in page].index(next(t for _, t in page if t.startswith("1.1.1  ")))
    wrapped, signature = page[at + 1], page[at + 3]  # 1.1.1 takes three lines
    assert "signed" not in wrapped[1] and signature[1].startswith("signed released")
    assert grandchild < wrapped[0] == page[at + 2][0] < signature[0]
    assert signature[0] == x_of(pdf, "signed distributed")


def font_widths(pdf: bytes) -> dict[bytes, dict[str, int]]:
    base = dict(re.findall(rb"(\d+) 0 obj\n<<\n/BaseFont /([\w-]+)", pdf))
    key = {b"Helvetica": "helvetica", b"Helvetica-Bold": "helveticaB",
           b"Helvetica-Oblique": "helveticaI"}
    return {f: CORE_FONTS_CHARWIDTHS[key[base[obj]]]
            for f, obj in re.findall(rb"/F(\d+) (\d+) 0 R", pdf)}


def test_long_text_wraps_inside_the_margins() -> None:
    trace = copy.deepcopy(DONOR_TRACE)
    leaf = trace["collections"][0]["samples"][0]["children"][0]["children"][2]
    leaf["disposition"] = "discarded: " + "contaminated bag, see deviation report; " * 12
    leaf["code"] = "X" * 150  # one word wider than the page still may not overflow
    trace["facility"] = "Demo Stem Cell Laboratory, " * 8
    pdf = trace_pdf(trace, compress=False)
    widths = font_widths(pdf)
    checked = 0
    for stream in page_streams(pdf):
        fonts = [(m.start(), m.group(1), float(m.group(2))) for m in FONT.finditer(stream)]
        for m in LINE.finditer(stream):
            _, f, size = max(ft for ft in fonts if ft[0] < m.start())
            s = lines(m.group(0))[0][1]
            width = sum(widths[f][c] for c in s) / 1000 * size
            assert float(m.group(1)) + width <= A4_W_PT - MARGIN_PT + 0.01, s
            checked += 1
    assert checked > 40
    assert "see deviation report; contaminated bag" in text(pdf)


def test_300_samples_flow_over_pages_each_with_the_header() -> None:
    trace = copy.deepcopy(DONOR_TRACE)
    aliquots = [node(f"{DIN}-A{i:04d}-00", "HPC, Cord Blood", "stored", 0.5,
                     f"in storage: Dewar 3 / Rack {i // 100} / Box {i // 10}, position {i % 10}",
                     signatures=[SIGNED] if i % 7 == 0 else [])
                for i in range(297)]
    trace["collections"][0]["samples"] = [node(f"{DIN}-S1001-00", "Cord blood", "processed",
                                               95.0, "in process", (
        node(f"{DIN}-S1002-00", "HPC", "processed", 50.0, "in process", (
            node(f"{DIN}-S1003-00", "HPC", "processed", 50.0, "in process",
                 tuple(aliquots)),)),))]
    pdf = trace_pdf(trace, compress=False)
    pages = page_streams(pdf)
    assert len(pages) > 1 and len(pages) == len(re.findall(rb"/Type /Page\b(?!s)", pdf))
    for k, stream in enumerate(pages, 1):
        page = lines(stream)
        assert page[0][1] == "Traceability report: donor CB-2026-0412"
        assert page[1][1].endswith(f"| Page {k} of {len(pages)}")
        if k > 1:
            assert page[2][1] == f"Collection {DIN} (continued)"
    printed = text(pdf)
    assert all(f"{DIN}-A{i:04d}-00 |" in printed for i in range(297))
    xs = {x for s in pages for x, t in lines(s) if f"{DIN}-A" in t}
    assert len(xs) == 1 and xs.pop() > x_of(pdf, "1.1.1  ")  # same indent on every page
    assert printed.count("signed released by Quentin QA") == len(range(0, 297, 7))


def test_donor_without_consent_or_collection_says_so() -> None:
    trace = DONOR_TRACE | {"consents": [], "collections": []}
    printed = text(trace_pdf(trace, compress=False))
    assert "No consent recorded." in printed and "No collections recorded." in printed


# ---- recipient trace --------------------------------------------------------------------

def test_recipient_trace_prints_path_from_donor_to_product() -> None:
    pdf = trace_pdf(RECIPIENT_TRACE, compress=False)
    printed = text(pdf)
    assert "Traceability report: recipient R-0007" in printed
    assert "WB123" in printed and "Administered at 2026-11-20 11:00 CET" in printed
    steps = ["Donor CB-2026-0412 | allogeneic | eligibility eligible",
             f"Collection DIN {DIN} | cord_blood | Maternity unit | started 2026-04-12 05:10 CEST",
             f"{PRIMARY['code']} |", f"{FRACTION['code']} |", f"{GIVEN['code']} |",
             "signed released by Quentin QA"]
    at = [printed.index(s) for s in steps]
    assert at == sorted(at)
    assert printed.count(f"{GIVEN['code']} |") == 1  # path already ended at the product
    xs = [x_of(pdf, s) for s in steps[:5]]
    assert xs == sorted(xs) and len(set(xs)) == 5


def test_path_lines_append_the_product_when_the_path_stops_above_it() -> None:
    product = RECIPIENT_TRACE["products"][0] | {"path": [strip(PRIMARY), strip(FRACTION)]}
    got = [ln for ln in path_lines(product) if not ln.signature]
    assert [ln.depth for ln in got] == [0, 1, 2, 3, 4]
    assert got[-1].text.startswith(GIVEN["code"])
    assert TreeLine(4, f"signed released by Quentin QA at {SIGNED['signed_at_local']}",
                    True) in path_lines(product)


def test_recipient_without_products_says_so() -> None:
    trace = RECIPIENT_TRACE | {"products": []}
    assert "No products recorded" in text(trace_pdf(trace, compress=False))


# ---- text, determinism, refusals -----------------------------------------------------------

def test_characters_outside_latin1_become_question_marks() -> None:
    trace = copy.deepcopy(DONOR_TRACE)
    trace["facility"] = "Laboratoire Zoë – €"
    trace["collections"][0]["samples"][0]["signatures"] = [
        SIGNED | {"signer_name": "Łucja Kowalska 李\u0080"}]
    printed = text(trace_pdf(trace, compress=False))
    assert "Laboratoire Zoë ? ?" in printed  # ë is Latin-1; en dash and euro sign are not
    assert "signed released by ?ucja Kowalska ??" in printed  # so is a C1 control


def test_placeholder_like_data_is_printed_as_is() -> None:
    trace = copy.deepcopy(DONOR_TRACE)
    trace["collections"][0]["samples"][0]["disposition"] = "discarded: {nb} \\ (x)"
    assert "discarded: {nb} \\ (x)" in text(trace_pdf(trace, compress=False))


def test_output_is_deterministic_compressed_and_dated_by_the_input() -> None:
    a = trace_pdf(DONOR_TRACE)
    assert a == trace_pdf(copy.deepcopy(DONOR_TRACE))
    assert PRIMARY["code"].encode() not in a  # compressed by default
    assert b"/CreationDate (D:20261126120000Z)" in a
    later = trace_pdf(DONOR_TRACE | {"generated_at": "2026-11-27T08:30:00+01:00"})
    assert b"/CreationDate (D:20261127083000+01'00')" in later


@pytest.mark.parametrize("trace", [
    DONOR_TRACE | {"kind": "sample_trace"},
    {k: v for k, v in DONOR_TRACE.items() if k != "kind"},
    DONOR_TRACE | {"generated_at": "2026-11-26T12:00:00"},  # no offset: which 12:00?
    DONOR_TRACE | {"generated_at": None},
    DONOR_TRACE | {"generated_at": "yesterday"},
])
def test_unknown_kind_or_undated_trace_is_refused(trace: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="kind|generated_at"):
        trace_pdf(trace)


# ---- what an inspector reads next to the lineage -------------------------------------------

RECORDS: dict[str, Any] = {
    "holds": [{"sample_code": STORED["code"], "reason": "sterility pending",
               "placed_at": "2026-11-19T08:15:00+00:00", "placed_at_local": "2026-11-19 09:15 CET",
               "placed_by": "Jana Tech", "lifted_at": None, "lifted_at_local": None,
               "lifted_by": None, "lift_reason": None}],
    "qc_results": [{"sample_code": GIVEN["code"], "test": "viability", "value": 92, "unit": "%",
                    "specification": ">= 70 %", "result": "pass",
                    "recorded_at": "2026-11-18T10:00:00+00:00",
                    "recorded_at_local": "2026-11-18 11:00 CET", "recorded_by": "Jana Tech"},
                   {"sample_code": GIVEN["code"], "test": "sterility", "value": None,
                    "unit": None, "specification": "no growth", "result": "fail",
                    "recorded_at": "2026-11-18T10:00:00+00:00",
                    "recorded_at_local": "2026-11-18 11:00 CET", "recorded_by": "Jana Tech"}],
    "deviations": [{"sample_code": PRIMARY["code"], "kind": "processing window",
                    "step": "volume_reduction", "started_at": "2026-04-14T04:00:00+00:00",
                    "started_at_local": "2026-04-14 06:00 CEST", "started_by": "Jana Tech",
                    "window_closed_at": "2026-04-14T03:25:00+00:00",
                    "window_closed_at_local": "2026-04-14 05:25 CEST", "late_by": "35 min",
                    "since_collection": "48 h 35 min", "reason": "courier delayed, DV-3"}],
    "excursions": [{"sample_code": FRACTION["code"], "temperature_c": 37.0,
                    "allowed_min_c": 2.0, "allowed_max_c": 25.0,
                    "detected_at": "2026-11-18T07:00:00+00:00",
                    "detected_at_local": "2026-11-18 08:00 CET",
                    "reviewed_at": None, "reviewed_at_local": None, "reviewed_by": None,
                    "assessment": None}],
    "signatures": [{"sample_code": GIVEN["code"], "record": "release", "meaning": "released",
                    "signer_name": "Quentin QA", "signed_at": SIGNED["signed_at"],
                    "signed_at_local": SIGNED["signed_at_local"]}],
}


def test_records_print_in_their_sections_with_lab_times() -> None:
    printed = text(trace_pdf(DONOR_TRACE | RECORDS, compress=False))
    sections = ["Holds", "QC results", "Deviations", "Temperature excursions", "Signatures"]
    at = [printed.index(f"{h} Sample") for h in sections]  # heading, then the table head
    assert at == sorted(at) and at[0] > printed.index(PLASMA["code"])  # after the lineage
    for fact in (f"{STORED['code']} 2026-11-19 09:15 CET by Jana Tech sterility pending "
                 "still on hold",
                 "viability 92 % >= 70 % PASS 2026-11-18 11:00 CET by Jana Tech",
                 "sterility - no growth FAIL",
                 "volume_reduction 2026-04-14 05:25 CEST 2026-04-14 06:00 CEST by Jana Tech",
                 "35 min (48 h 35 min after collection)", "courier delayed, DV-3",
                 "37 \xb0C 2 to 25 \xb0C 2026-11-18 08:00 CET NOT REVIEWED: blocks release",
                 f"{GIVEN['code']} release released Quentin QA 2026-11-19 17:00 CET"):
        assert fact in printed, fact


def test_a_trace_without_records_says_so_for_each_kind() -> None:
    printed = text(trace_pdf(DONOR_TRACE, compress=False))
    for absent in ("No hold recorded.", "No QC result recorded.", "No deviation recorded.",
                   "No temperature excursion recorded.", "No signature recorded."):
        assert absent in printed


def test_a_trace_without_lab_times_prints_iso_times() -> None:
    def iso_only(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: iso_only(x) for k, x in v.items() if not k.endswith("_local")}
        return [iso_only(x) for x in v] if isinstance(v, list) else v

    printed = text(trace_pdf(iso_only(DONOR_TRACE | RECORDS), compress=False))
    assert "Generated at 2026-11-26T12:00:00+00:00" in printed
    assert "2026-11-19T08:15:00" in printed and "by Jana Tech" in printed
    assert "CET" not in printed.replace("administered to R-0007 at 2026-11-20 11:00 CET", "")


def test_long_tables_repeat_their_heading_and_every_page_is_numbered_and_dated() -> None:
    qc = RECORDS["qc_results"][0]
    trace = DONOR_TRACE | RECORDS | {"qc_results": [
        qc | {"test": f"test-{i:03d}"} for i in range(90)]}
    pages = [[t for _, t in lines(s)] for s in page_streams(trace_pdf(trace, compress=False))]
    assert len(pages) >= 3
    for k, page in enumerate(pages, 1):
        assert page[1] == ("Demo Stem Cell Laboratory (W1234) | Generated at "
                           f"2026-11-26 13:00 CET | Page {k} of {len(pages)}")
    runs_on = [p for p in pages if p[2] == "QC results (continued)"]
    assert len(runs_on) >= 2 and all("Specification" in p for p in runs_on)
    printed = " ".join(" ".join(p) for p in pages)
    assert all(f"test-{i:03d}" in printed for i in range(90))
