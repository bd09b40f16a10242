"""Fitting a label's content into a template: every format draws what this module decides.

Each field has candidate renderings in the order its template's ``give_way`` lists the
steps (the first step listed is tried first). While a region overflows, the field of
lowest priority that can still give way takes its next, smaller rendering; a field that
``accompany``s moves to the accompanying label. If nothing can give way any more, the
label does not fit (``LabelDoesNotFit``): nothing is ever dropped silently.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import zxingcpp
from fpdf.fonts import CORE_FONTS_CHARWIDTHS
from PIL import ImageFont

from lims.labels.content import LabelContent
from lims.labels.templates import (
    LINEAR_QUIET_MODULES,
    LIST_FIELDS,
    MIN_MODULE_DOTS,
    SHRINK_STEP_PT,
    FieldSpec,
    LabelTemplate,
    abbreviate,
)

SYMBOLOGIES = ("qr", "datamatrix")
SPEC_QUIET_MODULES = {"qr": 4, "datamatrix": 1}  # the symbology standards' minimum
PT_MM = 25.4 / 72
LINE_PITCH = 1.1  # em between lines of a wrapped field
FIELD_GAP = 0.15  # em of the next field between two fields of a region
BASELINE = 0.8  # em from the line's top to the baseline, same in every format
BAND_PAD = 0.2  # em of black around reversed text, or of space inside a frame
CHECK_BOX = 1.3  # em: side of the box around the check character
FLAGS_SCALE = 0.6  # the DIN flags print smaller than the DIN
INLINE_GAP = 0.6  # em between two fields on one line
LIST_SEP = " / "


class LabelDoesNotFit(ValueError):
    """Even the smallest legible type, abbreviations, wrapping and the accompanying label
    cannot carry this content on this template."""

    def __init__(self, template: str, reason: str) -> None:
        super().__init__(f"template {template!r}: {reason}")
        self.template = template
        self.reason = reason


def need(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; use one of {list(allowed)}")


@lru_cache(maxsize=64)
def _font(px: int) -> ImageFont.FreeTypeFont:
    # Pillow's bundled font: no dependency on system fonts on the print server.
    return ImageFont.load_default(size=px)  # type: ignore[return-value]


@lru_cache(maxsize=16384)
def text_width_mm(text: str, size_pt: float, bold: bool = False) -> float:
    """Widest of the PDF (Helvetica) and PNG (Pillow, at 300 dpi) renderings, so all fit.

    Pillow is measured at the pixel size it will draw: small sizes come out a few per
    cent wider than the font's outline would say (hinting, rounding of the size).
    """
    widths = CORE_FONTS_CHARWIDTHS["helveticaB" if bold else "helvetica"]
    em = size_pt * PT_MM
    helvetica = sum(widths.get(c, 1000) for c in text) / 1000 * em
    px = max(1, round(em * 300 / 25.4))
    # mode "1": the 1-bit PNG is drawn with mono hinting, whose advances are wider.
    pillow = (_font(px).getlength(text, mode="1") + (2 * _stroke(px) if bold else 0)) * 25.4 / 300
    return max(helvetica, pillow)


def _stroke(px: int) -> int:
    """Extra stroke that makes Pillow's regular font read as bold (none at small sizes,
    where a thicker stroke would fill the letters in on a thermal printer)."""
    return 1 if px >= 30 else 0


# ---- what is drawn ------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    x: float
    y: float  # top of the line in mm; the baseline is BASELINE em lower
    size_pt: float
    text: str
    bold: bool
    white: bool = False
    box: tuple[float, float] | None = None  # (x, width) of the box it is centred in


@dataclass(frozen=True)
class Bars:
    """A Code 128 symbol: modules as '1' (bar) / '0' (space), quiet zones not included."""

    data: str
    x: float  # left of the first bar, mm
    y: float
    height: float
    module_dots: int
    modules: str


@dataclass(frozen=True)
class Page:
    """One label as drawn: 2-D code, Code 128 symbols, texts and rectangles (mm)."""

    width: float
    height: float
    dpi: int
    matrix: tuple[tuple[bool, ...], ...]
    quiet: int
    module_px: int
    code_x: float  # top-left of the symbol proper, mm
    code_y: float
    code_box: tuple[float, float, float] | None  # x, y, size of the template's code area
    texts: tuple[Text, ...]
    rects: tuple[tuple[float, float, float, float, float], ...]  # x, y, w, h, stroke (0=fill)
    bars: tuple[Bars, ...] = ()
    moved: tuple[str, ...] = ()  # fields this label passed on to the accompanying label


# ---- symbols ------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def matrix(payload: str, symbology: str) -> tuple[tuple[bool, ...], ...]:
    """Module matrix of the 2-D code (cached: a reprint or a preview costs nothing)."""
    if symbology == "qr":
        # Level Q (25 %) so a smudged or curved vial still reads. zxing-cpp (C++) picks the
        # smallest version and mixes byte and numeric segments (the DIN's 12 digits), so a
        # 26-character payload is version 2 (25 x 25), and it is ~50x faster than qrcode.
        return _pixels(zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode,
                                               ec_level="Q"))
    if symbology == "datamatrix":
        # ECC 200; square because the code area is square (rectangular would be smaller).
        bc = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.DataMatrix, force_square=True)
        return _pixels(bc)
    raise AssertionError(symbology)  # layout() checked it


def _pixels(bc: zxingcpp.Barcode) -> tuple[tuple[bool, ...], ...]:
    img = bc.to_image(scale=1, add_quiet_zones=False)
    h, w = img.shape
    px = bytes(memoryview(img))  # type: ignore[arg-type]  # Image is a buffer
    return tuple(tuple(px[r * w + c] < 128 for c in range(w)) for r in range(h))


@lru_cache(maxsize=4096)
def code128(data: str) -> str:
    """Code 128 modules of ``data`` ('1' = bar). zxing-cpp picks code sets A/B/C optimally.

    zxing-cpp rather than python-barcode or our own table: it is already our decoder and
    Data Matrix writer (no new dependency), it packs digit runs in code set C (the DIN's
    twelve digits: a shorter symbol), and the tests decode every symbol with the same
    well-kept library. We only take the module pattern and draw whole printer dots.
    """
    row = _pixels(zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.Code128))[0]
    return "".join("1" if dark else "0" for dark in row)


# ---- fitting text -------------------------------------------------------------------


@dataclass(frozen=True)
class _State:
    size: float
    lines: tuple[str, ...]  # empty: moved to the accompanying label
    height: float
    width: float


def _items(f: FieldSpec, c: LabelContent) -> list[str]:
    """What a field says, as items (list fields) or one value; empty = nothing to show."""
    if f.field == "warnings":
        return [*c.warnings, *(["REPRINT"] if c.reprint else [])]
    if f.field in LIST_FIELDS:
        return list(getattr(c, f.field))
    value = {"identifier": c.identifier, "product": c.product, "product_code": c.product_code,
             "volume": c.volume, "donor_code": c.donor_code,
             "collection_date": c.collection_date.isoformat(), "expiry": c.expiry_text(),
             "storage": c.storage, "facility": c.facility, "abo_rh": c.abo_rh or "",
             "recipient": c.recipient or "", "text": f.text}[f.field]
    return [f.prefix + value] if value else []


def _pieces(text: str, size: float, bold: bool, width: float) -> list[str]:
    """Break one item at spaces; a word too wide for any line is broken between characters,
    starting on the line it follows (so "Donor" stays with the start of the code)."""
    out: list[str] = []
    for word in text.split(" "):
        if out and text_width_mm(f"{out[-1]} {word}", size, bold) <= width:
            out[-1] = f"{out[-1]} {word}"
            continue
        if text_width_mm(word, size, bold) <= width or len(word) <= 1:
            out.append(word)
            continue
        head = f"{out.pop()} " if out else ""
        while word:
            k = len(word)
            while k > 1 and text_width_mm(head + word[:k], size, bold) > width:
                k -= 1
            if k == 1 and head and text_width_mm(head + word[:1], size, bold) > width:
                out.append(head.rstrip())  # not even one character fits after the head
                head = ""
                continue
            out.append(head + word[:k])
            head, word = "", word[k:]
    return out


def _wrap(items: list[str], size: float, bold: bool, width: float) -> list[str]:
    """Pack items on lines, joined by " / "; an item breaks over lines only if it must."""
    lines: list[str] = []
    for item in items:
        if lines and text_width_mm(f"{lines[-1]}{LIST_SEP}{item}", size, bold) <= width:
            lines[-1] = f"{lines[-1]}{LIST_SEP}{item}"
        elif text_width_mm(item, size, bold) <= width:
            lines.append(item)
        else:
            lines += _pieces(item, size, bold, width)
    return lines


def _identifier_width(identifier: str, din_flags: str, f: FieldSpec, size: float) -> float:
    em = size * PT_MM
    w = text_width_mm(identifier, size, f.bold) + 0.3 * em + CHECK_BOX * em
    if f.flags and din_flags:
        w += 0.25 * em + text_width_mm(din_flags, size * FLAGS_SCALE, f.bold)
    return w


def block_height(f: FieldSpec, size: float, n: int) -> float:
    em = size * PT_MM
    pad = BAND_PAD * em if f.band or f.boxed else 0.0
    first = CHECK_BOX * em if f.field == "identifier" else em
    return 2 * pad + first + LINE_PITCH * em * (n - 1)


def _candidates(f: FieldSpec, c: LabelContent, items: list[str], width: float) -> list[_State]:
    """Renderings of a field that fit the region's width, most preferred first."""
    ident = (c.identifier, c.din_flags) if f.field == "identifier" else ("", "")
    return _candidates_of(f, tuple(items), width, ident)


@lru_cache(maxsize=8192)
def _candidates_of(f: FieldSpec, items: tuple[str, ...], width: float,
                   ident: tuple[str, str]) -> list[_State]:
    sizes = [f.size_pt]
    while sizes[-1] - SHRINK_STEP_PT >= f.floor_pt - 1e-9:
        sizes.append(round(sizes[-1] - SHRINK_STEP_PT, 2))
    dims: dict[str, list[float]] = {"shrink": list(sizes), "abbreviate": [0.0, 1.0],
                                    "wrap": [float(n) for n in range(1, f.max_lines + 1)]}
    order = [g for g in f.give_way if g in dims]  # first listed gives way first
    fixed = {"shrink": f.size_pt, "abbreviate": 0.0, "wrap": 1.0}
    out: list[_State] = []
    seen: set[tuple[float, tuple[str, ...]]] = set()
    for combo in itertools.product(*(dims[g] for g in reversed(order))):
        pick = fixed | dict(zip(reversed(order), combo, strict=True))
        size, short, n = float(pick["shrink"]), bool(pick["abbreviate"]), int(pick["wrap"])
        text_items = [abbreviate(i) for i in items] if short else list(items)
        em = size * PT_MM
        pad = BAND_PAD * em if f.band or f.boxed else 0.0
        avail = width - 2 * pad
        if f.field == "identifier":
            w = _identifier_width(ident[0], ident[1], f, size)
            lines = [ident[0]] if w <= avail else []
        else:
            lines = _wrap(text_items, size, f.bold, avail)
            w = max(text_width_mm(line, size, f.bold) for line in lines) + 2 * pad
            if w > width + 1e-9:
                lines = []
        if not lines or len(lines) > n or (size, tuple(lines)) in seen:
            continue
        seen.add((size, tuple(lines)))
        out.append(_State(size, tuple(lines), block_height(f, size, len(lines)), w))
    if "accompany" in f.give_way:
        out.append(_State(0.0, (), 0.0, 0.0))
    return out


def _flow(t: LabelTemplate, region: str, chosen: list[tuple[FieldSpec, _State]]
          ) -> tuple[float, list[tuple[FieldSpec, _State, float, float]]]:
    """Lay a region's fields out in rows: (height used, [(field, state, x, y)])."""
    r = t.region(region)
    placed: list[tuple[FieldSpec, _State, float, float]] = []
    row_y, row_h, row_end, row_single = r.y_mm, 0.0, r.x_mm, False
    for f, s in chosen:
        if f.region != region or not s.lines:
            continue
        em = s.size * PT_MM
        x = row_end + INLINE_GAP * em
        if f.inline and placed and row_single and len(s.lines) == 1 \
                and x + s.width <= r.x_mm + r.width_mm + 1e-9:
            placed.append((f, s, x, row_y))
            row_h, row_end = max(row_h, s.height), x + s.width
            continue
        if placed:
            row_y += row_h + FIELD_GAP * em
        placed.append((f, s, r.x_mm, row_y))
        row_h, row_end = s.height, r.x_mm + s.width
        row_single = len(s.lines) == 1 and not (f.band or f.boxed)
    return (row_y + row_h - r.y_mm) if placed else 0.0, placed


def _fit(c: LabelContent, t: LabelTemplate, only: frozenset[str] | None = None
         ) -> tuple[list[tuple[FieldSpec, _State, float, float]], tuple[str, ...]]:
    """Choose a rendering per field so every region fits; returns placements and moved fields."""
    fields: list[FieldSpec] = []
    cands: dict[int, list[_State]] = {}
    for f in t.fields:
        if only is not None and f.field not in only and not f.keep and f.field != "text":
            continue
        items = _items(f, c)
        if not items:
            continue
        options = _candidates(f, c, items, t.region(f.region).width_mm)
        if not options:
            what = " / ".join(items)
            raise LabelDoesNotFit(t.name, f"{f.field} {what!r} does not fit the "
                                  f"{t.region(f.region).width_mm:g} mm wide {f.region} region "
                                  f"even at {f.floor_pt:g} pt"
                                  + (" with abbreviations" if "abbreviate" in f.give_way else "")
                                  + (f" on {f.max_lines} lines" if f.max_lines > 1 else ""))
        fields.append(f)
        cands[id(f)] = options
    at = {id(f): 0 for f in fields}
    rank = {id(f): i for i, f in enumerate(fields)}
    while True:
        chosen = [(f, cands[id(f)][at[id(f)]]) for f in fields]
        over = []
        for r in t.regions:
            used, _ = _flow(t, r.name, chosen)
            if used > r.height_mm + 1e-6:
                over.append((r, used))
        if not over:
            break
        used_in = dict((r.name, used) for r, used in over)
        movable = []
        for f in fields:
            if f.region not in used_in:
                continue
            # The next rendering of this field that leaves its region less full (a smaller
            # rendering, or one that lets the next field share its line).
            for j in range(at[id(f)] + 1, len(cands[id(f)])):
                trial = [(g, cands[id(g)][j if g is f else at[id(g)]]) for g in fields]
                if _flow(t, f.region, trial)[0] < used_in[f.region] - 1e-9:
                    movable.append((f.priority, rank[id(f)], f, j))
                    break
        if not movable:
            r, used = over[0]
            crowded = ", ".join(f.field for f, s in chosen if f.region == r.name and s.lines)
            raise LabelDoesNotFit(t.name, f"region {r.name} needs {used:.1f} mm, has "
                                  f"{r.height_mm:g} mm even with the smallest legible type "
                                  f"({crowded})")
        _, _, f, nxt = max(movable, key=lambda m: (m[0], m[1]))
        at[id(f)] = nxt
    placed = [p for r in t.regions for p in _flow(t, r.name, chosen)[1]]
    moved = tuple(f.field for f, s in chosen if not s.lines)
    return placed, moved


# ---- pages --------------------------------------------------------------------------


def _texts(c: LabelContent, t: LabelTemplate,
           placed: list[tuple[FieldSpec, _State, float, float]]
           ) -> tuple[list[Text], list[tuple[float, float, float, float, float]]]:
    texts: list[Text] = []
    rects: list[tuple[float, float, float, float, float]] = []
    stroke = max(0.15, 2 * 25.4 / t.dpi)
    for f, s, x, y in placed:
        em = s.size * PT_MM
        pad = BAND_PAD * em if f.band or f.boxed else 0.0
        region_w = t.region(f.region).width_mm
        if f.band:
            rects.append((x, y, region_w, s.height, 0.0))
        elif f.boxed:
            rects.append((x, y, s.width, s.height, stroke))
        if f.field == "identifier":
            side = CHECK_BOX * em
            ty = y + (side - em) / 2
            texts.append(Text(x, ty, s.size, c.identifier, f.bold))
            cx = x + text_width_mm(c.identifier, s.size, f.bold) + 0.3 * em
            if f.flags and c.din_flags:
                fs = s.size * FLAGS_SCALE
                texts.append(Text(cx - 0.05 * em, ty + BASELINE * (em - fs * PT_MM), fs,
                                  c.din_flags, f.bold))
                cx += 0.25 * em + text_width_mm(c.din_flags, fs, f.bold)
            rects.append((cx, y, side, side, stroke))
            w = text_width_mm(c.check, s.size, f.bold)
            texts.append(Text(cx + (side - w) / 2, ty, s.size, c.check, f.bold, box=(cx, side)))
            continue
        for i, line in enumerate(s.lines):
            texts.append(Text(x + pad, y + pad + i * LINE_PITCH * em, s.size, line, f.bold,
                              white=f.band))
    return texts, rects


def _page(c: LabelContent, t: LabelTemplate, symbology: str,
          placed: list[tuple[FieldSpec, _State, float, float]], moved: tuple[str, ...]) -> Page:
    texts, rects = _texts(c, t, placed)
    bars = []
    for spec in t.linear:
        data = c.linear_data(spec.data)
        if data is None:
            continue
        modules = code128(data)
        dots = spec.module_dots(t.dpi)
        x_mod = dots * 25.4 / t.dpi
        need_w = (len(modules) + 2 * LINEAR_QUIET_MODULES) * x_mod
        if need_w > spec.width_mm + 1e-9:
            raise LabelDoesNotFit(t.name, f"the {spec.data} Code 128 symbol needs {need_w:.1f} "
                                  f"mm with its quiet zones, the template gives {spec.width_mm:g}")
        bars.append(Bars(data, spec.x_mm + LINEAR_QUIET_MODULES * x_mod, spec.y_mm,
                         spec.height_mm, dots, modules))
    if t.code is None:
        return Page(t.width_mm, t.height_mm, t.dpi, (), 0, 0, 0.0, 0.0, None, tuple(texts),
                    tuple(rects), tuple(bars), moved)
    m = matrix(c.payload, symbology)
    quiet = max(t.code.quiet_zone_modules, SPEC_QUIET_MODULES[symbology])
    # Whole printer dots per module, else the printer rounds modules unevenly.
    module_px = int(t.code.size_mm / 25.4 * t.dpi) // (len(m) + 2 * quiet)
    if module_px < MIN_MODULE_DOTS:
        raise LabelDoesNotFit(t.name, f"a {len(m)}-module {symbology} code leaves {module_px} "
                              f"dot(s) per module (< {MIN_MODULE_DOTS}); payload too long")
    offset = quiet * module_px * 25.4 / t.dpi
    return Page(t.width_mm, t.height_mm, t.dpi, m, quiet, module_px, t.code.x_mm + offset,
                t.code.y_mm + offset, (t.code.x_mm, t.code.y_mm, t.code.size_mm), tuple(texts),
                tuple(rects), tuple(bars), moved)


@lru_cache(maxsize=512)
def layout(c: LabelContent, t: LabelTemplate, symbology: str = "qr") -> tuple[Page, ...]:
    """The container label, followed by its accompanying label when text had to move.

    Cached: the same content on the same template (a preview, then the print) is laid
    out once. Content and templates are frozen, so a cached layout cannot go stale.
    """
    need(symbology, SYMBOLOGIES, "symbology")
    placed, moved = _fit(c, t)
    pages = [_page(c, t, symbology, placed, moved)]
    if moved:
        a = t.companion
        if a is None:  # validation makes "accompany" imply a companion; belt and braces
            raise LabelDoesNotFit(t.name, f"{', '.join(moved)} need an accompanying label")
        try:
            a_placed, a_moved = _fit(c, a, only=frozenset(moved))
        except LabelDoesNotFit as e:
            raise LabelDoesNotFit(t.name, f"the accompanying label {a.name!r}: {e.reason}"
                                  ) from None
        shown = {f.field for f, _, _, _ in a_placed}
        if missing := [m for m in moved if m not in shown] + list(a_moved):
            raise LabelDoesNotFit(t.name, f"the accompanying label {a.name!r} has no place for "
                                  f"{', '.join(missing)}")
        pages.append(_page(c, a, symbology, a_placed, ()))
    return tuple(pages)


def fits(c: LabelContent, t: LabelTemplate, symbology: str = "qr") -> bool:
    try:
        layout(c, t, symbology)
    except LabelDoesNotFit:
        return False
    return True
