"""Labels always print: every template, longest allowed values, every combination of warnings.

Expectations are written from the lab's rules (ISBT 128 ST-004 and DOMAIN.md), not read
back from the renderer: the words a label must show, the exact ISBT data structures its
symbols carry, the legibility floor. Each symbol is decoded by zxing-cpp from the PNG.
PNGs for a reviewer land in tests/artifacts/labels/.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import PIL.Image
import pytest
import zxingcpp

from lims import labels
from lims.config import Settings
from lims.domain.isbt import PRODUCT_TYPES
from lims.labels import LabelContent, render_png, render_svg, render_zpl
from lims.services import labelling

TEMPLATES = labels.load_templates(labels.default_templates_dir())
CONTAINERS = ["cryovial", "tube-2ml", "cryobag"]
BERLIN = ZoneInfo("Europe/Berlin")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "labels"
Q = zxingcpp.BarcodeFormat

# DIN G123426000123: MOD 37-2 check value 21 = "L" (worked by hand in test_labels.py),
# so type-3 flags are 81; product MSC(AT) S1102, autologous (1), division A0.
DIN_STRUCTURE = "=G12342600012381"
PRODUCT_STRUCTURE = "=<S11021A0"
PAYLOAD = DIN_STRUCTURE + PRODUCT_STRUCTURE
EXPIRY = dt.datetime(2026, 12, 1, 19, 20, tzinfo=BERLIN)
EXPIRY_STRUCTURE = "&>0263351920"  # 1 December 2026 = day 335, 19:20 local time

# Every word lims.domain.flags can put on a label, in the order it puts them.
WARNINGS = ("FOR AUTOLOGOUS USE ONLY", "BIOHAZARD", "QUARANTINE", "NOT FOR CLINICAL USE",
            "NOT FOR RESEARCH USE", "NOT FOR BANKING USE")
# What an abbreviated warning must still say (its key words).
KEY_WORDS = {"FOR AUTOLOGOUS USE ONLY": "AUTOLOGOUS USE ONLY", "BIOHAZARD": "BIOHAZARD",
             "QUARANTINE": "QUARANTINE", "NOT FOR CLINICAL USE": "NOT FOR CLINICAL",
             "NOT FOR RESEARCH USE": "NOT FOR RESEARCH", "NOT FOR BANKING USE": "NOT FOR BANKING",
             "REPRINT": "REPRINT"}


def content(*, longest: bool = False, warnings: tuple[str, ...] = (), reprint: bool = False,
            **changes: object) -> LabelContent:
    """A label's content; ``longest`` fills every text with the longest value allowed."""
    kw: dict[str, object] = dict(
        payload=PAYLOAD, identifier="G1234 26 000123", check="L", product="MSC(AT)",
        product_code="S11021A0", donor_code="AT-2026-0042", collection_date=dt.date(2026, 11, 28),
        expiry=EXPIRY, warnings=warnings, reprint=reprint, facility="Demo Stem Cell Laboratory",
        attributes=("Cryopreserved",), volume="Approx. 25 mL", storage="Store at -150 \u00b0C or "
        "colder", statements=("Do Not Irradiate",))
    if longest:
        kw |= dict(
            # Donor.code and Recipient.code: 40 characters; wristband: 60; anticoagulant: 60;
            # LIMS_FACILITY_NAME: 80; the longest product class name and storage statement.
            product=LONGEST_PRODUCT, storage=LONGEST_STORAGE,
            donor_code="DNR-2026-" + "X" * 31,
            facility=("Stem Cell Processing Laboratory, University Hospital X, "
                      "Department of Haematol").ljust(FACILITY_MAX, "y"),
            volume="Approx. 1250.5 mL, " + "ACD-A anticoagulant citrate dextrose solution A"
            .ljust(60, "X"),
            recipient="For use by intended recipient only: " + "R" * 40
            + " (wristband " + "7" * 60 + ")",
            abo_rh="AB Rh(D) negative", attributes=("Cryopreserved", "Volume reduced"),
            statements=("Do Not Irradiate", "Rx only"))
    return LabelContent(**(kw | changes))  # type: ignore[arg-type]


LONGEST_PRODUCT = max((p.class_name for p in PRODUCT_TYPES.values()), key=len)
LONGEST_STORAGE = max((s for p in PRODUCT_TYPES.values()
                       for s in (p.storage_fresh, p.storage_frozen)), key=len)
FACILITY_MAX = next(m.max_length for m in Settings.model_fields["facility_name"].metadata
                    if hasattr(m, "max_length"))


def all_combinations() -> list[tuple[tuple[str, ...], bool]]:
    out = []
    for picks in itertools.product([False, True], repeat=len(WARNINGS)):
        words = tuple(w for w, on in zip(WARNINGS, picks, strict=True) if on)
        out += [(words, False), (words, True)]
    return out


def page_text(page: labels.Page) -> str:
    return " ".join(t.text for t in page.texts)


def boxes(page: labels.Page) -> list[tuple[str, float, float, float, float]]:
    """(text, x, y, width, height) of every text as drawn, measured here."""
    return [(t.text, t.x, t.y, labels.text_width_mm(t.text, t.size_pt, t.bold),
             t.size_pt * 25.4 / 72) for t in page.texts]


def check_page(page: labels.Page, what: str) -> None:
    """Legible, inside the label, and no two texts on top of each other."""
    drawn = boxes(page)
    for text, x, y, w, h in drawn:
        assert min(t.size_pt for t in page.texts) >= labels.FLOOR_PT, what
        assert x >= 0 and y >= 0, (what, text)
        assert x + w <= page.width + 0.05 and y + h <= page.height + 0.05, (what, text)
    for (a, ax, ay, aw, ah), (b, bx, by, bw, bh) in itertools.combinations(drawn, 2):
        overlap = ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah
        assert not overlap, (what, a, b)
    if page.code_box:  # no text on the 2-D code or its quiet zone
        cx, cy, size = page.code_box
        for text, x, y, w, h in drawn:
            assert not (x < cx + size and cx < x + w and y < cy + size and cy < y + h), text


def check_carries(c: LabelContent, pages: tuple[labels.Page, ...], name: str) -> None:
    container = page_text(pages[0])
    # Never dropped, never moved: the DIN, its check, the product and its code, the warnings.
    assert c.identifier in container and c.product_code in container
    assert c.product in container or labels.abbreviate(c.product) in container
    for w in (*c.warnings, *(["REPRINT"] if c.reprint else [])):
        assert KEY_WORDS[w] in container.replace(" / ", "  "), (name, w)
    everything = " ".join(page_text(p) for p in pages).replace("\n", " ")
    squeezed = re.sub(r"\s+", "", everything)
    # What may move still appears somewhere in the print (wrapped lines rejoined).
    for value in (c.donor_code, c.collection_date.isoformat(), "2026-12-01 19:20 CET"):
        assert value.replace(" ", "") in squeezed, (name, value)
    if len(pages) == 2:
        tag = page_text(pages[1])
        assert c.identifier in tag and pages[1].code_box is None  # names the same DIN
        assert pages[0].moved  # a tag only when something had to move


@pytest.mark.parametrize("longest", [False, True], ids=["typical", "longest"])
@pytest.mark.parametrize("name", CONTAINERS)
def test_every_combination_of_warnings_prints(name: str, longest: bool) -> None:
    t = TEMPLATES[name]
    for words, reprint in all_combinations():
        c = content(longest=longest, warnings=words, reprint=reprint)
        pages = labels.layout(c, t)  # raises if refused: no combination may be
        for i, p in enumerate(pages):
            check_page(p, f"{name} page {i} {words} reprint={reprint}")
        check_carries(c, pages, name)
        assert render_zpl(c, t).count("^XA") == len(pages)
        if longest:  # rasterised at the template's dpi (PNG without the encoding step)
            img = labels.render_image(c, t)
            assert img.width == round(t.width_mm * t.dpi / 25.4)


def test_the_relabelled_msc_vial_of_the_issue_prints() -> None:
    c = content(warnings=("FOR AUTOLOGOUS USE ONLY", "QUARANTINE", "NOT FOR RESEARCH USE"),
                reprint=True)
    pages = labels.layout(c, TEMPLATES["cryovial"])
    check_carries(c, pages, "cryovial")


def decode_all(png: bytes) -> list[tuple[zxingcpp.BarcodeFormat, str]]:
    img = PIL.Image.open(io.BytesIO(png))
    return sorted(((b.format, b.text) for b in zxingcpp.read_barcodes(img)),
                  key=lambda ft: (str(ft[0]), ft[1]))


REPRESENTATIVE = [
    ("plain", {}),
    ("all-warnings-longest", {"longest": True, "warnings": WARNINGS, "reprint": True}),
]


@pytest.mark.parametrize("symbology", ["qr", "datamatrix"])
@pytest.mark.parametrize("case", [c[0] for c in REPRESENTATIVE])
@pytest.mark.parametrize("name", CONTAINERS)
def test_every_symbol_decodes_to_the_exact_data_structure(name: str, case: str,
                                                          symbology: str) -> None:
    c = content(**dict(REPRESENTATIVE)[case])
    two_d = Q.QRCode if symbology == "qr" else Q.DataMatrix
    expected = [(two_d, PAYLOAD)]
    if name == "cryobag":  # ST-004: Code 128 for DIN, product code and expiry beside the 2-D
        expected += [(Q.Code128, DIN_STRUCTURE), (Q.Code128, PRODUCT_STRUCTURE),
                     (Q.Code128, EXPIRY_STRUCTURE)]
    got = decode_all(render_png(c, TEMPLATES[name], symbology))
    assert got == sorted(expected, key=lambda ft: (str(ft[0]), ft[1]))


def test_bag_zpl_has_matching_code_128_fields() -> None:
    zpl = render_zpl(content(), TEMPLATES["cryobag"])
    for data in (DIN_STRUCTURE, PRODUCT_STRUCTURE, EXPIRY_STRUCTURE):
        # ^BY3: 0.25 mm modules at 12 dots/mm; ^BC: Code 128, no interpretation line, auto.
        assert re.search(rf"\^BY3\^BCN,108,N,N,N,A\^FD{re.escape(data)}\^FS", zpl), data
    assert zpl.count("^BC") == 3 and f"^FDQA,{PAYLOAD}^FS" in zpl


def test_bag_shows_the_four_quadrants_and_statements() -> None:
    c = content(longest=True, warnings=("FOR AUTOLOGOUS USE ONLY",))
    (page,) = labels.layout(c, TEMPLATES["cryobag"])
    at = {t.text: (t.x, t.y) for t in page.texts}
    half = 50.0

    def where(fragment: str) -> tuple[float, float]:
        return next(xy for text, xy in at.items() if fragment in text)

    ul, ur = (lambda x, y: x < half and y < half), (lambda x, y: x >= half and y < half)
    ll, lr = (lambda x, y: x < half and y >= half), (lambda x, y: x >= half and y >= half)
    assert ul(*where("G1234 26 000123")) and ul(*where("81"))  # DIN with its flags
    assert ul(*where("Stem Cell Processing"))  # facility
    assert ur(*where("AB Rh(D) negative"))
    assert ll(*where("S11021A0")) and ll(*where(LONGEST_PRODUCT[:10]))
    assert lr(*where("2026-12-01"))
    text = page_text(page)
    for must in ("Collected 2026-11-28", "Approx. 1250.5 mL", "Store at 2-8", "Do Not Irradiate",
                 "FOR AUTOLOGOUS USE ONLY", "recipient only"):
        assert must in text, must
    # The boxed check character beside the DIN: a square frame around "L".
    check = next(t for t in page.texts if t.text == "L")
    assert check.box is not None
    side = check.box[1]
    assert any(abs(r[2] - side) < 1e-6 and abs(r[3] - side) < 1e-6 and r[4] > 0
               for r in page.rects)


def test_code_128_modules_are_whole_dots_at_iso_x_dimension() -> None:
    (page,) = labels.layout(content(), TEMPLATES["cryobag"])
    for bars in page.bars:
        assert bars.module_dots == 3  # 0.254 mm at 300 dpi: ISBT 128's nominal 0.25 mm
        assert set(bars.modules) == {"0", "1"} and bars.modules.startswith("11010")  # start


def test_refusal_names_a_template_that_fits() -> None:
    c = content(product="MSC(AT), culture-expanded, passage 4, cryopreserved")
    with pytest.raises(labels.LabelDoesNotFit) as exc:
        labels.layout(c, TEMPLATES["cryovial"])
    msg = labelling._refusal(TEMPLATES["cryovial"], c, "qr", exc.value).detail
    assert "cannot be printed on 'cryovial'" in msg and "It fits on 'cryobag'" in msg


def test_preview_is_crossed_out_so_it_cannot_be_used_as_a_label() -> None:
    c = content()
    svg = render_svg(c, TEMPLATES["tube-2ml"], preview=True)
    assert labels.PREVIEW_TEXT in svg and svg.count("<line ") == 2
    assert "<line " not in render_svg(c, TEMPLATES["tube-2ml"])
    assert render_png(c, TEMPLATES["tube-2ml"], preview=True) != render_png(c,
                                                                           TEMPLATES["tube-2ml"])


# ---- pictures for a reviewer ---------------------------------------------------------

VARIANTS = {
    "plain": {},
    "held": {"warnings": ("QUARANTINE",)},
    "reprinted": {"reprint": True},
    "all-warnings": {"longest": True, "warnings": WARNINGS, "reprint": True},
    "issue-vial": {"warnings": ("FOR AUTOLOGOUS USE ONLY", "QUARANTINE", "NOT FOR RESEARCH USE"),
                   "reprint": True},
}


@pytest.mark.parametrize("name", CONTAINERS)
def test_write_pngs_for_review(name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for variant, kw in VARIANTS.items():
        png = render_png(content(**kw), TEMPLATES[name])  # type: ignore[arg-type]
        (ARTIFACTS / f"{name}-{variant}.png").write_bytes(png)
        assert PIL.Image.open(io.BytesIO(png)).info["dpi"][0] == pytest.approx(300, abs=0.01)
    preview = render_png(content(), TEMPLATES[name], preview=True)
    (ARTIFACTS / f"{name}-preview.png").write_bytes(preview)
