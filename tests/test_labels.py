"""Label renderer: every code is decoded by a real reader, every size is recomputed here."""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import PIL.Image
import pytest
import zxingcpp

from lims import labels
from lims.domain.isbt import CHECK_ALPHABET, check_character, parse_scan
from lims.labels import (
    CodeSpec,
    LabelContent,
    LabelTemplate,
    default_templates_dir,
    label_content_hash,
    load_templates,
    render_pdf,
    render_png,
    render_svg,
    render_zpl,
)

TEMPLATES = load_templates(default_templates_dir())
NAMES = ["cryovial", "tube-2ml", "cryobag"]
FORMAT = {"qr": zxingcpp.BarcodeFormat.QRCode, "datamatrix": zxingcpp.BarcodeFormat.DataMatrix}
DOTS_PER_MM = {203: 8, 300: 12, 600: 24}  # ZPL's own dot grid, restated independently
PAYLOAD = "=G12342600012381=<S1001V00"  # DIN G123426000123, type-3 flags 81 (check L = 21)
BERLIN = ZoneInfo("Europe/Berlin")


def content(**changes: object) -> LabelContent:
    base = LabelContent(
        payload=PAYLOAD, identifier="G1234 26 000123", check="L", product="HPC, Cord Blood",
        product_code="S1001 V 00", donor_code="D-000123", collection_date=dt.date(2026, 1, 15),
        expiry=dt.datetime(2027, 1, 15, 19, 20, tzinfo=BERLIN), warnings=(), reprint=False)
    return replace(base, **changes)


def din_content(seq: int) -> LabelContent:
    din = f"G123426{seq:06d}"
    check = check_character(din)
    flags = 60 + CHECK_ALPHABET.index(check)
    return content(payload=f"={din}{flags}=<S1001V00", identifier=f"G1234 26 {seq:06d}",
                   check=check)


def px(mm: float, dpi: int) -> int:
    return round(mm / 25.4 * dpi)


def decode(img: PIL.Image.Image) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(img)


# ---- templates ------------------------------------------------------------------------

def test_templates_load_and_validate() -> None:
    containers = {n for n, t in TEMPLATES.items() if t.role == "container"}
    assert containers == set(NAMES)
    sizes = {n: (TEMPLATES[n].width_mm, TEMPLATES[n].height_mm) for n in NAMES}
    assert sizes == {"cryovial": (38, 13), "tube-2ml": (50, 25), "cryobag": (100, 100)}
    for name in NAMES:
        t = TEMPLATES[name]
        assert t.dpi == 300 and t.title
        kept = {f.field for f in t.fields if f.keep}
        assert kept >= {"identifier", "product", "product_code", "warnings"}  # ST-004 minimum
        c = t.code
        assert c is not None
        assert c.x_mm + c.size_mm <= t.width_mm and c.y_mm + c.size_mm <= t.height_mm
    assert TEMPLATES["cryobag"].kind == "bag"
    assert {s.data for s in TEMPLATES["cryobag"].linear} == {"din", "product", "expiry"}
    for small in ("cryovial", "tube-2ml"):  # what moves off a small label has somewhere to go
        tag = TEMPLATES[small].companion
        assert tag is not None and tag.role == "accompanying"
        assert (tag.width_mm, tag.height_mm) == (TEMPLATES[small].width_mm,
                                                 TEMPLATES[small].height_mm)
    assert 10 <= TEMPLATES["cryovial"].code.size_mm <= 11  # type: ignore[union-attr]


def test_default_templates_dir_is_repo_labels_folder() -> None:
    assert default_templates_dir() == Path(__file__).resolve().parents[1] / "labels"


GOOD = (default_templates_dir() / "cryovial.toml").read_text()
TAG = (default_templates_dir() / "cryovial-tag.toml").read_text()
IDENTIFIER = 'field = "identifier"\nregion = "text"\nsize_pt = 6.5\nmin_pt = 5.0\n'
BROKEN = {
    "syntax": GOOD.replace('name = "cryovial"', 'name = "cryovial'),
    "missing key": GOOD.replace("dpi = 300\n", ""),
    "misspelt key": GOOD.replace("size_mm = 10.5", "size_mn = 10.5"),
    "code too big": GOOD.replace("size_mm = 10.5", "size_mm = 14.0"),
    "region outside": GOOD.replace("width_mm = 26.4", "width_mm = 30.0"),
    "region on code": GOOD.replace("x_mm = 11.3\ny_mm = 0.3", "x_mm = 5.0\ny_mm = 0.3"),
    "bad dpi": GOOD.replace("dpi = 300", "dpi = 250"),
    "missing field": GOOD.replace('field = "product_code"', 'field = "volume"'),
    "unknown field": GOOD.replace('field = "donor_code"', 'field = "donor_name"'),
    "name mismatch": GOOD.replace('name = "cryovial"', 'name = "vial"'),
    "identifier may drop": GOOD.replace(IDENTIFIER + 'give_way = ["shrink"]\nkeep = true',
                                        IDENTIFIER + 'give_way = ["shrink"]\nkeep = false'),
    "kept field moves": GOOD.replace(IDENTIFIER + 'give_way = ["shrink"]',
                                     IDENTIFIER + 'give_way = ["shrink", "accompany"]'),
    "below legible floor": GOOD.replace("min_pt = 5.0", "min_pt = 3.0"),
    "unknown give-way": GOOD.replace('give_way = ["shrink", "accompany"]',
                                     'give_way = ["shrink", "drop"]'),
    "no accompanying": GOOD.replace('accompanying = "cryovial-tag"\n', ""),
    "wrap without lines": GOOD.replace("max_lines = 5", "max_lines = 0"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_template_names_the_file(tmp_path: Path, kind: str) -> None:
    assert BROKEN[kind] != GOOD
    (tmp_path / "cryovial.toml").write_text(BROKEN[kind])
    (tmp_path / "cryovial-tag.toml").write_text(TAG)
    with pytest.raises(ValueError, match=r"cryovial\.toml"):
        load_templates(tmp_path)


def test_copy_of_good_template_loads(tmp_path: Path) -> None:
    (tmp_path / "cryovial.toml").write_text(GOOD)
    (tmp_path / "cryovial-tag.toml").write_text(TAG)
    assert load_templates(tmp_path)["cryovial"] == TEMPLATES["cryovial"]


def test_missing_accompanying_template_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cryovial.toml").write_text(GOOD)
    with pytest.raises(ValueError, match="cryovial-tag"):
        load_templates(tmp_path)


# ---- PNG ----------------------------------------------------------------------------

@pytest.mark.parametrize("symbology", ["qr", "datamatrix"])
@pytest.mark.parametrize("name", NAMES)
def test_png_decodes_to_payload_at_template_size(name: str, symbology: str) -> None:
    t = TEMPLATES[name]
    img = PIL.Image.open(io.BytesIO(render_png(content(), t, symbology)))
    assert img.format == "PNG" and img.mode in ("1", "L")
    assert img.size == (px(t.width_mm, t.dpi), px(t.height_mm, t.dpi))
    assert tuple(round(v) for v in img.info["dpi"]) == (t.dpi, t.dpi)
    found = [b for b in decode(img) if b.format != zxingcpp.BarcodeFormat.Code128]
    assert len(found) == 1
    assert found[0].format == FORMAT[symbology]
    assert found[0].text == PAYLOAD


@pytest.mark.parametrize("symbology", ["qr", "datamatrix"])
def test_longer_payload_still_reads_on_bag(symbology: str) -> None:
    payload = PAYLOAD + "&>0270151159=)A9876543210"  # with expiry and more structures
    img = PIL.Image.open(io.BytesIO(render_png(content(payload=payload), TEMPLATES["cryobag"],
                                               symbology)))
    two_d = [(b.format, b.text) for b in decode(img) if b.format != zxingcpp.BarcodeFormat.Code128]
    assert two_d == [(FORMAT[symbology], payload)]


def test_qr_is_error_correction_q_and_whole_dots() -> None:
    t = TEMPLATES["cryovial"]
    img = PIL.Image.open(io.BytesIO(render_png(content(), t)))
    (found,) = decode(img)
    assert found.ec_level == "Q"
    (lay,) = labels.layout(content(), t, "qr")
    # Version 2 (25 x 25) at Q: "=G" and "=<S" in byte mode, the DIN's digits in numeric
    # mode (all bytes would need version 3); 25 modules + 2 x 4 quiet at 3 dots = 8.4 mm.
    assert lay.module_px >= 3 and len(lay.matrix) == 25


# ---- SVG ----------------------------------------------------------------------------

RUN = re.compile(r"M([\d.]+) ([\d.]+)h([\d.]+)v([\d.]+)h-[\d.]+z")


def rasterise_code(svg: str, t: LabelTemplate, scale: float) -> PIL.Image.Image:
    """Paint the SVG's code path (runs of modules) into an image, nothing else."""
    (d,) = re.findall(r'<path d="([^"]+)"', svg)
    img = PIL.Image.new("L", (round(t.width_mm * scale), round(t.height_mm * scale)), 255)
    pixels = img.load()
    runs = RUN.findall(d)
    assert runs and len("".join(m.group(0) for m in RUN.finditer(d))) == len(d)
    for x, y, w, h in ((float(v) for v in r) for r in runs):
        for i in range(round(x * scale), round((x + w) * scale)):
            for j in range(round(y * scale), round((y + h) * scale)):
                pixels[i, j] = 0
    return img


@pytest.mark.parametrize("symbology", ["qr", "datamatrix"])
@pytest.mark.parametrize("name", NAMES)
def test_svg_is_sized_in_mm_and_its_code_decodes(name: str, symbology: str) -> None:
    t = TEMPLATES[name]
    svg = render_svg(content(), t, symbology)
    w, h = f"{t.width_mm:g}", f"{t.height_mm:g}"
    assert re.search(rf'<svg [^>]*width="{w}mm" height="{h}mm" viewBox="0 0 {w} {h}"', svg)
    found = decode(rasterise_code(svg, t, scale=2 * t.dpi / 25.4))
    assert [(b.format, b.text) for b in found] == [(FORMAT[symbology], PAYLOAD)]
    assert ">G1234 26 000123</text>" in svg
    assert re.search(r'<rect [^>]*fill="none" stroke="#000"', svg)  # the check box
    assert ">L</text>" in svg


def test_svg_escapes_markup() -> None:
    svg = render_svg(content(product="HPC <&> Marrow"), TEMPLATES["cryobag"])
    assert ">HPC &lt;&amp;&gt; Marrow</text>" in svg


# ---- ZPL ----------------------------------------------------------------------------

@pytest.mark.parametrize("dpi", [203, 300, 600])
@pytest.mark.parametrize("name", NAMES)
def test_zpl_structure_and_dimensions(name: str, dpi: int) -> None:
    t = replace(TEMPLATES[name], dpi=dpi)
    zpl = render_zpl(content(), t)
    assert zpl.startswith("^XA") and zpl.rstrip().endswith("^XZ")
    assert f"^PW{round(t.width_mm * DOTS_PER_MM[dpi])}\n" in zpl
    assert f"^LL{round(t.height_mm * DOTS_PER_MM[dpi])}\n" in zpl
    (mag,) = re.findall(r"\^BQN,2,(\d+)\^FDQA,", zpl)
    assert 2 <= int(mag) <= 10
    assert f"^FDQA,{PAYLOAD}^FS" in zpl
    assert re.search(r"\^GB(\d+),\1,\d+\^FS", zpl)  # square box around the check character
    assert re.search(r"\^FB\d+,1,0,C\^A0N,\d+,\d+\^FH\^FDL\^FS", zpl)
    assert "^FH^FDG1234 26 000123^FS" in zpl and "^A0N," in zpl


def test_zpl_qr_magnification_fills_code_box() -> None:
    # The printer encodes the QR itself and may use byte mode: 26 bytes at Q need version 3
    # (29 modules). Cryovial 10.5 mm = 126 dots; 29 + 2 x 4 quiet = 37 -> 3 dots per module.
    assert "^BQN,2,3^" in render_zpl(content(), TEMPLATES["cryovial"])
    # Bag: 24 mm = 288 dots // 37 = 7 (8 would draw 296 dots, past the code area).
    assert "^BQN,2,7^" in render_zpl(content(), TEMPLATES["cryobag"])


def test_zpl_datamatrix() -> None:
    zpl = render_zpl(content(), TEMPLATES["tube-2ml"], "datamatrix")
    assert re.search(rf"\^BXN,\d+,200\^FD{re.escape(PAYLOAD)}\^FS", zpl)
    assert "^BQ" not in zpl


def test_zpl_escapes_control_characters_in_text() -> None:
    zpl = render_zpl(content(product="HPC^XZ~JA_x"), TEMPLATES["cryobag"])
    assert "^FH^FDHPC_5EXZ_7EJA_5Fx^FS" in zpl
    assert zpl.count("^XZ") == 1 and "~" not in zpl
    for data in re.findall(r"\^FD(.*?)\^FS", zpl):
        assert "^" not in data and "~" not in data


def test_zpl_refuses_control_characters_in_payload() -> None:
    bad = content(payload=PAYLOAD + "^XZ")
    with pytest.raises(ValueError, match="control"):
        render_zpl(bad, TEMPLATES["cryobag"])


# ---- warnings and reprint -------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_warnings_and_reprint_only_when_set(name: str) -> None:
    t = TEMPLATES[name]
    words = ("FOR AUTOLOGOUS USE ONLY", "QUARANTINE", "REPRINT", "BIOHAZARD")
    plain = content()
    for text in (render_zpl(plain, t), render_svg(plain, t)):
        assert not any(w in text for w in words)
    marked = content(warnings=("FOR AUTOLOGOUS USE ONLY", "QUARANTINE"), reprint=True)
    for text in (render_zpl(marked, t), render_svg(marked, t)):
        assert "FOR AUTOLOGOUS USE ONLY" in text and "QUARANTINE" in text
        assert "REPRINT" in text and "BIOHAZARD" not in text
    bio = render_zpl(content(warnings=("BIOHAZARD",)), t)
    assert "BIOHAZARD" in bio and "REPRINT" not in bio


def test_band_prints_white_on_black_only_with_warnings() -> None:
    t = TEMPLATES["tube-2ml"]
    assert "^FR" not in render_zpl(content(), t)
    assert "^FR^FH^FDQUARANTINE^FS" in render_zpl(content(warnings=("QUARANTINE",)), t)


# ---- PDF ----------------------------------------------------------------------------

def pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", pdf))


def media_boxes(pdf: bytes) -> list[list[float]]:
    return [[float(v) for v in m.split()] for m in re.findall(rb"/MediaBox \[([^\]]+)\]", pdf)]


@pytest.mark.parametrize("name", NAMES)
def test_pdf_roll_one_page_per_label_of_label_size(name: str) -> None:
    t = TEMPLATES[name]
    pdf = render_pdf([din_content(i) for i in range(1, 4)], t, layout="roll")
    assert pdf.startswith(b"%PDF") and pages(pdf) == 3
    boxes = media_boxes(pdf)
    assert boxes
    for box in boxes:  # fpdf2 writes it once on /Pages; pages inherit it
        assert box[:2] == [0, 0]
        assert box[2] == pytest.approx(t.width_mm / 25.4 * 72, abs=0.01)
        assert box[3] == pytest.approx(t.height_mm / 25.4 * 72, abs=0.01)


@pytest.mark.parametrize("name", NAMES)
def test_pdf_sheet_of_a_box_of_96(name: str) -> None:
    t = TEMPLATES[name]
    per_page = (int((210 - 2 * labels.SHEET_MARGIN_MM + 2) // (t.width_mm + 2))
                * int((297 - 2 * labels.SHEET_MARGIN_MM + 2) // (t.height_mm + 2)))
    assert per_page == {"cryovial": 5 * 19, "tube-2ml": 3 * 10, "cryobag": 1 * 2}[name]
    batch = [din_content(i) for i in range(1, 97)]
    pdf = render_pdf(batch, t, layout="sheet", compress=False)
    n_pages = math.ceil(96 / per_page)
    assert pages(pdf) == n_pages
    for box in media_boxes(pdf):
        assert box == pytest.approx([0, 0, 595.28, 841.89], abs=0.01)  # A4
    for c in batch:  # every label drawn exactly once
        assert pdf.count(f"({c.identifier}) Tj".encode()) == 1
    streams = re.findall(rb"stream\n(.*?)endstream", pdf, re.S)
    per_stream = [len(re.findall(rb"\(G1234 26 \d{6}\) Tj", s)) for s in streams if b"Tj" in s]
    assert per_stream == [per_page] * (n_pages - 1) + [96 - per_page * (n_pages - 1)]


def test_pdf_is_deterministic_and_compressed_by_default() -> None:
    batch = [din_content(1), din_content(2)]
    a = render_pdf(batch, TEMPLATES["tube-2ml"])
    assert a == render_pdf(batch, TEMPLATES["tube-2ml"])
    assert b"(G1234 26 000001) Tj" not in a  # compressed stream
    created = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    assert b"D:20260301120000" in render_pdf(batch, TEMPLATES["tube-2ml"], created=created)


# ---- refusing what does not fit ------------------------------------------------------

def test_payload_too_long_for_cryovial_is_refused() -> None:
    with pytest.raises(ValueError, match="cryovial.*dot"):
        render_png(content(payload=PAYLOAD + "=)" + "a1" * 60), TEMPLATES["cryovial"])


def test_small_code_box_is_refused() -> None:
    t = replace(TEMPLATES["cryovial"], name="tiny", code=CodeSpec(0.5, 1.25, 5.0, 4))
    for render in (render_png, render_svg, render_zpl):
        with pytest.raises(ValueError, match="'tiny'"):
            render(content(), t)
    with pytest.raises(ValueError, match="'tiny'"):
        render_pdf([content()], t)


def test_product_name_too_long_for_small_labels_is_refused_naming_the_bag() -> None:
    # A product name is never dropped or moved off the container; on the small labels it
    # may shrink and abbreviate but not wrap, so 50 characters cannot fit there.
    long_product = content(product="MSC(AT), culture-expanded, passage 4, cryopreserved")
    for name in ("cryovial", "tube-2ml"):
        with pytest.raises(labels.LabelDoesNotFit, match=f"'{name}'.*product.*4.*pt"):
            render_png(long_product, TEMPLATES[name])
    assert labels.first_fitting(long_product, TEMPLATES) == "cryobag"
    assert labels.first_fitting(content(), TEMPLATES) == "cryovial"  # smallest first


def test_many_warnings_and_a_long_donor_code_print_on_a_cryovial() -> None:
    # The case that used to be refused: a smudged autologous MSC vial relabelled.
    many = content(warnings=("FOR AUTOLOGOUS USE ONLY", "QUARANTINE", "NOT FOR RESEARCH USE"),
                   reprint=True, donor_code="DNR-2026-000123-XYZ1")
    zpl = render_zpl(many, TEMPLATES["cryovial"])
    assert zpl.count("^XA") == 2  # the vial, then its accompanying label
    vial, tag = zpl.split("^XZ")[:2]
    for word in ("FOR AUTOLOGOUS USE ONLY", "QUARANTINE", "NOT FOR RESEARCH USE", "REPRINT",
                 "G1234 26 000123", "HPC, Cord Blood"):
        assert word in vial
    assert "DNR-2026-000123-XYZ1" in tag and "G1234 26 000123" in tag
    assert "^BQ" not in tag  # the tag is not scanned in place of the vial


def test_tube_takes_a_20_character_donor_code() -> None:
    c = content(donor_code="DNR-2026-000123-XYZ1")
    (page,) = labels.layout(c, TEMPLATES["tube-2ml"])  # no accompanying label needed
    assert any("DNR-2026-000123-XYZ1" in t.text for t in page.texts)


def test_template_overlap_is_refused() -> None:
    t = TEMPLATES["cryovial"]
    moved = tuple(replace(r, x_mm=5.0) for r in t.regions)
    with pytest.raises(ValueError, match="cryovial.*overlaps"):
        replace(t, regions=moved)


@pytest.mark.parametrize("call", [
    lambda: render_png(content(), TEMPLATES["cryovial"], "pdf417"),
    lambda: render_svg(content(), TEMPLATES["cryovial"], "QR"),
    lambda: render_zpl(content(), TEMPLATES["cryovial"], "code128"),
    lambda: render_pdf([content()], TEMPLATES["cryovial"], layout="fanfold"),
    lambda: render_pdf([content()], TEMPLATES["cryovial"], symbology="aztec"),
    lambda: render_pdf([], TEMPLATES["cryovial"]),
    lambda: label_content_hash(content(), "cryovial", "jpeg"),
])
def test_unknown_options_are_refused(call) -> None:  # noqa: ANN001
    with pytest.raises(ValueError):
        call()


# ---- content ------------------------------------------------------------------------

def test_test_payload_is_what_our_scanner_accepts() -> None:
    scanned = parse_scan(PAYLOAD)
    assert (scanned.din, scanned.check) == ("G123426000123", "L")


@pytest.mark.parametrize("changes", [
    {"check": "A"},  # wrong check character for the DIN
    {"check": "LL"},
    {"payload": "=G99992600012381=<S1001V00"},  # code names another donation
    {"payload": "=G12342600012373=<S1001V00"},  # type-3 flags disagree with the check
    {"payload": "https://lims.example/s/G123426000123"},
    {"payload": ""},
    {"product": "HPC\nCord"},
    {"donor_code": "D\u2013000123"},  # en dash: not Latin-1
    {"expiry": dt.datetime(2025, 1, 1, tzinfo=BERLIN)},
    {"expiry": dt.datetime(2027, 1, 15, 19, 20)},  # naive: which zone would the label mean?
])
def test_inconsistent_content_is_refused(changes: dict) -> None:
    with pytest.raises(ValueError):
        content(**changes)


def test_expiry_is_optional() -> None:
    zpl = render_zpl(content(expiry=None), TEMPLATES["tube-2ml"])
    assert "Expires" not in zpl and "Collected 2026-01-15" in zpl
    bag = render_zpl(content(expiry=None), TEMPLATES["cryobag"])
    assert "EXP" not in bag and bag.count("^BC") == 2  # DIN and product, no expiry symbol


def test_expiry_shows_date_time_and_zone_without_seconds() -> None:
    c = content(expiry=dt.datetime(2026, 12, 1, 19, 20, 33, 123456, tzinfo=BERLIN))
    assert "Expires 2026-12-01 19:20 CET" in render_zpl(c, TEMPLATES["tube-2ml"])
    summer = content(expiry=dt.datetime(2027, 7, 1, 8, 5, tzinfo=BERLIN))
    assert "Expires 2027-07-01 08:05 CEST" in render_zpl(summer, TEMPLATES["tube-2ml"])


def test_label_content_hash() -> None:
    h = label_content_hash(content(), "cryovial", "png")
    assert re.fullmatch(r"[0-9a-f]{64}", h)
    assert h == label_content_hash(content(), "cryovial", "png")
    others = {
        label_content_hash(content(donor_code="D-000124"), "cryovial", "png"),
        label_content_hash(content(warnings=("QUARANTINE",)), "cryovial", "png"),
        label_content_hash(content(), "tube-2ml", "png"),
        label_content_hash(content(), "cryovial", "zpl"),
        label_content_hash(content(), "cryovial", "png", symbology="datamatrix"),
    }
    assert h not in others and len(others) == 5
    # A reprint of unchanged data hashes like the original: that is what gets compared.
    assert label_content_hash(content(reprint=True), "cryovial", "png") == h


@pytest.mark.parametrize("dpi", [203, 600])
def test_png_at_other_printer_resolutions(dpi: int) -> None:
    t = replace(TEMPLATES["cryovial"], dpi=dpi)
    img = PIL.Image.open(io.BytesIO(render_png(content(), t)))
    assert img.size == (px(38, dpi), px(13, dpi))
    assert [b.text for b in decode(img)] == [PAYLOAD]
