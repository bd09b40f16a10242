"""Container labels (ISBT 128 style) rendered as PNG, SVG, PDF and ZPL.

Pure rendering: templates are TOML data in ``labels/``; no database, HTTP or clock.
Every format is laid out by one function (``_layout``) so they agree, and every fit
problem raises ``ValueError``: refusing a label beats printing an unreadable one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from itertools import groupby
from pathlib import Path
from xml.sax.saxutils import escape

import qrcode
import zxingcpp
from fpdf import FPDF
from fpdf.fonts import CORE_FONTS_CHARWIDTHS
from PIL import Image, ImageDraw, ImageFont

from lims.domain.isbt import CHECK_ALPHABET, check_character

FIELD_KINDS = ("identifier", "check", "product", "product_code", "donor_code",
               "collection_date", "expiry", "warnings")
# DOMAIN.md: a container label shows at least these; product_code is optional.
REQUIRED_FIELDS = frozenset(FIELD_KINDS) - {"product_code"}
SYMBOLOGIES = ("qr", "datamatrix")
FORMATS = ("png", "svg", "pdf", "zpl")
ZPL_DOTS_PER_MM = {203: 8, 300: 12, 600: 24}
MIN_MODULE_DOTS = 2
MIN_FONT_PT = 4.0
SPEC_QUIET_MODULES = {"qr": 4, "datamatrix": 1}  # the symbology standards' minimum
A4_MM = (210.0, 297.0)
SHEET_MARGIN_MM = 5.0  # office printers cannot print to the paper edge
SHEET_GAP_MM = 2.0
PT_MM = 25.4 / 72
LINE_PITCH = 1.1  # em between lines of a wrapped field
BASELINE = 0.8  # em from the field's top to the baseline, same in every format
BAND_PAD = 0.2  # em of black around reversed text
CHECK_BOX = 1.3  # em: side of the box around the check character
_DIN = re.compile(r"[A-NP-Z1-9]\d{12}")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _need(value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; use one of {list(allowed)}")


@dataclass(frozen=True)
class LabelContent:
    """What one label says; validated so a mismatched label cannot be built."""

    payload: str
    identifier: str
    check: str
    product: str
    product_code: str
    donor_code: str
    collection_date: dt.date
    expiry: dt.date | None
    warnings: tuple[str, ...] = ()
    reprint: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "warnings", tuple(self.warnings))
        p = self.payload
        if not p or not all(" " <= c <= "~" for c in p):
            raise ValueError("payload must be non-empty printable ASCII")
        if "://" in p:
            raise ValueError("payload must carry the identifier, not a URL")
        if len(self.check) != 1 or self.check not in CHECK_ALPHABET:
            raise ValueError(f"check must be one character of {CHECK_ALPHABET}")
        for t in (self.identifier, self.product, self.product_code, self.donor_code,
                  *self.warnings):  # Latin-1: what the PDF core fonts and ZPL font 0 cover
            if not t.isprintable() or max(map(ord, t), default=0) > 255:
                raise ValueError(f"{t!r}: printable Latin-1 text only")
        if not self.identifier.strip():
            raise ValueError("identifier is empty")
        if self.expiry is not None and self.expiry < self.collection_date:
            raise ValueError("expiry is before the collection date")
        # Last line of defence for chain of identity: text, check box and code must agree.
        din = self.identifier.replace(" ", "")
        if _DIN.fullmatch(din):
            if check_character(din) != self.check:
                raise ValueError(f"check {self.check!r} does not match DIN {din}")
            if "=" + din not in p:
                raise ValueError(f"payload {p!r} does not carry DIN {din}")
            i = p.index("=" + din) + 14
            flags, want = p[i:i + 2], 60 + CHECK_ALPHABET.index(self.check)
            typed = flags.isascii() and flags.isdigit() and 60 <= int(flags) <= 96
            if typed and int(flags) != want:
                # lims.domain.isbt.parse_scan would reject this label when it is scanned.
                raise ValueError(f"payload flags {flags} should be {want} (type 3, check)")


@dataclass(frozen=True)
class CodeSpec:
    """Square area reserved for the 2-D code, quiet zone included."""

    x_mm: float
    y_mm: float
    size_mm: float
    quiet_zone_modules: int = 4


@dataclass(frozen=True)
class FieldSpec:
    """One text field: top-left corner, font size and the box it must stay inside."""

    field: str
    x_mm: float
    y_mm: float
    size_pt: float
    max_width_mm: float
    max_lines: int = 1
    bold: bool = False
    band: bool = False  # white text on a black band (warnings)
    prefix: str = ""

    @property
    def em(self) -> float:
        return self.size_pt * PT_MM

    @property
    def pad(self) -> float:
        return BAND_PAD * self.em if self.band else 0.0

    def box(self, lines: int | None = None) -> tuple[float, float, float, float]:
        """(x, y, w, h) in mm; the check box is square."""
        if self.field == "check":
            return (self.x_mm, self.y_mm, CHECK_BOX * self.em, CHECK_BOX * self.em)
        n = self.max_lines if lines is None else lines
        h = 2 * self.pad + self.em * (1 + LINE_PITCH * (n - 1))
        return (self.x_mm, self.y_mm, self.max_width_mm, h)


@dataclass(frozen=True)
class LabelTemplate:
    """A parsed, validated label template (see labels/*.toml)."""

    name: str
    title: str
    width_mm: float
    height_mm: float
    dpi: int
    code: CodeSpec
    fields: tuple[FieldSpec, ...]

    def __post_init__(self) -> None:
        try:
            _check_template(self)
        except ValueError as e:
            raise ValueError(f"template {self.name!r}: {e}") from None


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _check_template(t: LabelTemplate) -> None:
    if t.dpi not in ZPL_DOTS_PER_MM:
        raise ValueError(f"dpi {t.dpi} not one of {sorted(ZPL_DOTS_PER_MM)}")
    if t.width_mm <= 0 or t.height_mm <= 0:
        raise ValueError("width_mm and height_mm must be positive")
    c = t.code
    code_box = (c.x_mm, c.y_mm, c.size_mm, c.size_mm)
    if not isinstance(c.quiet_zone_modules, int) or not 0 <= c.quiet_zone_modules <= 10:
        raise ValueError("quiet_zone_modules must be an integer 0..10")
    if c.size_mm <= 0 or min(c.x_mm, c.y_mm) < 0 or c.x_mm + c.size_mm > t.width_mm \
            or c.y_mm + c.size_mm > t.height_mm:
        raise ValueError("the code does not fit within the label")
    kinds = [f.field for f in t.fields]
    if len(kinds) != len(set(kinds)) or not REQUIRED_FIELDS <= set(kinds) <= set(FIELD_KINDS):
        raise ValueError(f"fields {kinds}: need each of {sorted(REQUIRED_FIELDS)} once "
                         "(product_code optional)")
    boxes: list[tuple[str, tuple[float, float, float, float]]] = []
    for f in t.fields:
        x, y, w, h = box = f.box()
        if f.size_pt < MIN_FONT_PT or w <= 0 or not isinstance(f.max_lines, int) \
                or f.max_lines < 1:
            raise ValueError(f"{f.field}: needs size_pt >= {MIN_FONT_PT}, width and lines > 0")
        if f.max_lines > 1 and f.field != "warnings":
            raise ValueError(f"{f.field}: only warnings wrap over several lines")
        if x < 0 or y < 0 or x + w > t.width_mm + 1e-9 or y + h > t.height_mm + 1e-9:
            raise ValueError(f"{f.field} ({x}..{x + w:.2f} x {y}..{y + h:.2f} mm) is "
                             f"outside the {t.width_mm} x {t.height_mm} mm label")
        if _overlap(box, code_box):
            raise ValueError(f"{f.field} overlaps the code or its quiet zone")
        for other, ob in boxes:
            if _overlap(box, ob):
                raise ValueError(f"{f.field} overlaps {other}")
        boxes.append((f.field, box))


def load_template(path: Path) -> LabelTemplate:
    """Parse and validate one template file; errors name the file."""
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
        # Dataclass constructors reject unknown (misspelt) and missing keys with TypeError.
        fields = tuple(FieldSpec(**{"max_width_mm": raw["width_mm"] - f["x_mm"], **f})
                       for f in raw["fields"])
        t = LabelTemplate(**raw | {"code": CodeSpec(**raw["code"]), "fields": fields})
    except (tomllib.TOMLDecodeError, ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{path.name}: {type(e).__name__}: {e}") from e
    if t.name != path.stem:
        raise ValueError(f"{path.name}: name {t.name!r} must match the file name")
    return t


def load_templates(folder: Path) -> dict[str, LabelTemplate]:
    """All ``*.toml`` templates in ``folder`` by name."""
    if not folder.is_dir():
        raise FileNotFoundError(f"label template folder {folder} not found")
    return {p.stem: load_template(p) for p in sorted(folder.glob("*.toml"))}


def default_templates_dir() -> Path:
    """The repository's ``labels/`` folder."""
    return Path(__file__).resolve().parent.parent / "labels"


# ---- layout -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Text:
    x: float
    y: float  # top of the line in mm; the baseline is BASELINE em lower
    size_pt: float
    text: str
    bold: bool
    white: bool = False
    box: tuple[float, float] | None = None  # (x, width) of the box it is centred in


@dataclass(frozen=True)
class _Layout:
    matrix: tuple[tuple[bool, ...], ...]
    quiet: int
    module_px: int
    code_x: float  # top-left of the symbol proper, mm
    code_y: float
    texts: tuple[_Text, ...]
    rects: tuple[tuple[float, float, float, float, float], ...]  # x, y, w, h, stroke (0=fill)


@lru_cache(maxsize=64)
def _font(px: int) -> ImageFont.FreeTypeFont:
    # Pillow's bundled font: no dependency on system fonts on the print server.
    return ImageFont.load_default(size=px)  # type: ignore[return-value]


def text_width_mm(text: str, size_pt: float, bold: bool = False) -> float:
    """Widest of the PDF (Helvetica) and PNG (Pillow) renderings, so all formats fit."""
    widths = CORE_FONTS_CHARWIDTHS["helveticaB" if bold else "helvetica"]
    helvetica = sum(widths.get(c, 1000) for c in text) / 1000
    return max(helvetica, _font(100).getlength(text) / 100) * size_pt * PT_MM


def _matrix(payload: str, symbology: str) -> tuple[tuple[bool, ...], ...]:
    if symbology == "qr":
        # Level Q (25 %) so a smudged or curved vial still reads; fit=True = smallest version.
        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, border=0)
        qr.add_data(payload)
        qr.make(fit=True)
        return tuple(tuple(bool(m) for m in row) for row in qr.get_matrix())
    if symbology == "datamatrix":
        # ECC 200; square because the code area is square (rectangular would be smaller).
        bc = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.DataMatrix, force_square=True)
        img = bc.to_image(scale=1, add_quiet_zones=False)
        h, w = img.shape
        px = bytes(memoryview(img))  # type: ignore[arg-type]  # Image is a buffer
        return tuple(tuple(px[r * w + c] < 128 for c in range(w)) for r in range(h))
    raise AssertionError(symbology)  # _layout checked it


def _field_lines(f: FieldSpec, c: LabelContent, avail: float, tname: str) -> list[str]:
    if f.field == "warnings":
        items = [*c.warnings, *(["REPRINT"] if c.reprint else [])]
        lines: list[str] = []
        for item in items:  # wrap between warnings, never inside one
            if lines and text_width_mm(f"{lines[-1]} / {item}", f.size_pt, f.bold) <= avail:
                lines[-1] = f"{lines[-1]} / {item}"
            else:
                lines.append(item)
    else:
        value = {"identifier": c.identifier, "check": c.check, "product": c.product,
                 "product_code": c.product_code, "donor_code": c.donor_code,
                 "collection_date": c.collection_date.isoformat(),
                 "expiry": c.expiry.isoformat() if c.expiry else ""}[f.field]
        lines = [f.prefix + value] if value else []
    for line in lines:
        if (w := text_width_mm(line, f.size_pt, f.bold)) > avail:
            raise ValueError(f"template {tname!r}: {f.field} {line!r} is {w:.1f} mm wide, "
                             f"only {avail:.1f} mm available")
    if len(lines) > f.max_lines:
        raise ValueError(f"template {tname!r}: {f.field} needs {len(lines)} lines, "
                         f"room for {f.max_lines}")
    return lines


def _layout(c: LabelContent, t: LabelTemplate, symbology: str) -> _Layout:
    _need(symbology, SYMBOLOGIES, "symbology")
    matrix = _matrix(c.payload, symbology)
    quiet = max(t.code.quiet_zone_modules, SPEC_QUIET_MODULES[symbology])
    # Whole printer dots per module, else the printer rounds modules unevenly.
    module_px = int(t.code.size_mm / 25.4 * t.dpi) // (len(matrix) + 2 * quiet)
    if module_px < MIN_MODULE_DOTS:
        raise ValueError(f"template {t.name!r}: a {len(matrix)}-module {symbology} code leaves "
                         f"{module_px} dot(s) per module (< {MIN_MODULE_DOTS}); payload too long")
    offset = quiet * module_px * 25.4 / t.dpi
    texts: list[_Text] = []
    rects: list[tuple[float, float, float, float, float]] = []
    for f in t.fields:
        lines = _field_lines(f, c, f.max_width_mm - 2 * f.pad, t.name)
        if f.field == "check":
            x, y, side, _ = f.box()
            rects.append((x, y, side, side, max(0.15, 2 * 25.4 / t.dpi)))
            w = text_width_mm(c.check, f.size_pt, f.bold)
            texts.append(_Text(x + (side - w) / 2, y + (side - f.em) / 2, f.size_pt, c.check,
                               f.bold, box=(x, side)))
            continue
        if f.band and lines:
            rects.append((*f.box(len(lines)), 0.0))
        for i, line in enumerate(lines):
            texts.append(_Text(f.x_mm + f.pad, f.y_mm + f.pad + i * LINE_PITCH * f.em,
                               f.size_pt, line, f.bold, white=f.band))
    return _Layout(matrix, quiet, module_px, t.code.x_mm + offset, t.code.y_mm + offset,
                   tuple(texts), tuple(rects))


def _runs(matrix: tuple[tuple[bool, ...], ...]) -> list[tuple[int, int, int]]:
    """(row, first column, length) of each horizontal run of dark modules."""
    out = []
    for r, row in enumerate(matrix):
        c = 0
        for dark, group in groupby(row):
            k = len(list(group))
            if dark:
                out.append((r, c, k))
            c += k
    return out


# ---- formats ------------------------------------------------------------------------


def render_png(content: LabelContent, template: LabelTemplate, symbology: str = "qr") -> bytes:
    """1-bit PNG at the template dpi: one pixel is one printer dot, no grey to dither."""
    lay, t = _layout(content, template, symbology), template
    ppm = t.dpi / 25.4

    def px(mm: float) -> int:
        return round(mm * ppm)

    img = Image.new("1", (px(t.width_mm), px(t.height_mm)), 1)
    draw = ImageDraw.Draw(img)
    for x, y, w, h, stroke in lay.rects:
        xy = (px(x), px(y), px(x + w) - 1, px(y + h) - 1)
        draw.rectangle(xy, fill=None if stroke else 0, outline=0, width=max(1, px(stroke)))
    n, m = len(lay.matrix), lay.module_px
    sym = Image.new("1", (n, n))
    sym.putdata([0 if dark else 1 for row in lay.matrix for dark in row])
    sym = sym.resize((n * m, n * m), Image.Resampling.NEAREST)  # whole dots per module
    img.paste(sym, (px(lay.code_x), px(lay.code_y)))
    for tx in lay.texts:
        em = tx.size_pt * PT_MM
        draw.text((px(tx.x), px(tx.y + BASELINE * em)), tx.text, fill=1 if tx.white else 0,
                  font=_font(px(em)), anchor="ls")
    buf = io.BytesIO()
    img.save(buf, "PNG", dpi=(t.dpi, t.dpi))
    return buf.getvalue()


def _n(v: float) -> str:
    return f"{v:.4f}".rstrip("0").rstrip(".")


def render_svg(content: LabelContent, template: LabelTemplate, symbology: str = "qr") -> str:
    """SVG in millimetres (viewBox units = mm); the code is one path of module runs."""
    lay, t = _layout(content, template, symbology), template
    w, h, mod = _n(t.width_mm), _n(t.height_mm), lay.module_px * 25.4 / t.dpi
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}mm" height="{h}mm" '
           f'viewBox="0 0 {w} {h}">', f'<rect width="{w}" height="{h}" fill="#fff"/>']
    d = "".join(f"M{_n(lay.code_x + c * mod)} {_n(lay.code_y + r * mod)}h{_n(k * mod)}"
                f"v{_n(mod)}h-{_n(k * mod)}z" for r, c, k in _runs(lay.matrix))
    out.append(f'<path d="{d}" fill="#000" shape-rendering="crispEdges"/>')
    for x, y, bw, bh, stroke in lay.rects:
        s = stroke / 2  # keep the stroke inside the box, as in the PNG
        paint = f'fill="none" stroke="#000" stroke-width="{_n(stroke)}"' if s else 'fill="#000"'
        out.append(f'<rect x="{_n(x + s)}" y="{_n(y + s)}" width="{_n(bw - 2 * s)}" '
                   f'height="{_n(bh - 2 * s)}" {paint}/>')
    for tx in lay.texts:
        em = tx.size_pt * PT_MM
        out.append(f'<text x="{_n(tx.x)}" y="{_n(tx.y + BASELINE * em)}" font-size="{_n(em)}" '
                   f'font-family="Helvetica, Arial, sans-serif" font-weight='
                   f'"{"bold" if tx.bold else "normal"}" fill="{"#fff" if tx.white else "#000"}">'
                   f"{escape(tx.text)}</text>")
    return "\n".join([*out, "</svg>"]) + "\n"


def _draw_pdf(pdf: FPDF, lay: _Layout, dpi: int, ox: float, oy: float) -> None:
    # Vector rectangles, not an image: crisp on any printer (roll printer or 1200 dpi
    # office laser for sheets) and small; module size is still a whole number of dots.
    mod = lay.module_px * 25.4 / dpi
    pdf.set_fill_color(0)
    for r, c, k in _runs(lay.matrix):
        pdf.rect(ox + lay.code_x + c * mod, oy + lay.code_y + r * mod, k * mod, mod, style="F")
    for x, y, w, h, stroke in lay.rects:
        s = stroke / 2
        pdf.set_line_width(stroke)
        pdf.rect(ox + x + s, oy + y + s, w - 2 * s, h - 2 * s, style="D" if s else "F")
    for tx in lay.texts:
        pdf.set_font("helvetica", "B" if tx.bold else "", tx.size_pt)
        pdf.set_text_color(255 if tx.white else 0)
        pdf.text(ox + tx.x, oy + tx.y + BASELINE * tx.size_pt * PT_MM, tx.text)


def sheet_grid(template: LabelTemplate) -> tuple[int, int]:
    """(columns, rows) of labels on an A4 sheet with SHEET_GAP_MM between them."""
    def fit(span: float, size: float) -> int:
        return int((span - 2 * SHEET_MARGIN_MM + SHEET_GAP_MM) // (size + SHEET_GAP_MM))
    return fit(A4_MM[0], template.width_mm), fit(A4_MM[1], template.height_mm)


def render_pdf(contents: Sequence[LabelContent], template: LabelTemplate, symbology: str = "qr",
               layout: str = "roll", *, compress: bool = True,
               created: dt.datetime | None = None) -> bytes:
    """``roll``: one page per label, page = label; ``sheet``: a grid on A4 pages.

    ``created`` is the PDF creation date; the default is fixed (1970), as this module
    reads no clock, so equal input gives byte-identical PDFs.
    """
    _need(layout, ("roll", "sheet"), "layout")
    if not contents:
        raise ValueError("no labels to render")
    t = template
    lays = [_layout(c, t, symbology) for c in contents]  # refuse the job before drawing any
    cols, rows = sheet_grid(t) if layout == "sheet" else (1, 1)
    if cols * rows == 0:
        raise ValueError(f"template {t.name!r} does not fit on an A4 sheet")
    pdf = FPDF(unit="mm", format=(t.width_mm, t.height_mm) if layout == "roll" else "A4")
    pdf.set_creation_date(created or _EPOCH)
    pdf.set_compression(compress)
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    for i, lay in enumerate(lays):
        k = i % (cols * rows)
        if k == 0:
            pdf.add_page()
        ox = oy = 0.0
        if layout == "sheet":
            ox = SHEET_MARGIN_MM + (k % cols) * (t.width_mm + SHEET_GAP_MM)
            oy = SHEET_MARGIN_MM + (k // cols) * (t.height_mm + SHEET_GAP_MM)
        _draw_pdf(pdf, lay, t.dpi, ox, oy)
    return bytes(pdf.output())


def _zpl_text(s: str) -> str:
    # ^FH hex escapes: '_' is the escape introducer itself, '^' and '~' are ZPL commands.
    return s.replace("_", "_5F").replace("^", "_5E").replace("~", "_7E")


def render_zpl(content: LabelContent, template: LabelTemplate, symbology: str = "qr") -> str:
    """ZPL II for Zebra printers; the printer draws the code natively (^BQ / ^BX)."""
    if "^" in content.payload or "~" in content.payload:
        raise ValueError("payload contains ZPL control characters '^' or '~'")
    t, lay = template, _layout(content, template, symbology)
    dpmm = ZPL_DOTS_PER_MM[t.dpi]

    def d(mm: float) -> int:
        return round(mm * dpmm)

    mag = min(10, int(t.code.size_mm * dpmm) // (len(lay.matrix) + 2 * lay.quiet))  # 10 = max
    x, y = d(t.code.x_mm) + lay.quiet * mag, d(t.code.y_mm) + lay.quiet * mag
    out = ["^XA", "^CI28", f"^PW{d(t.width_mm)}", f"^LL{d(t.height_mm)}", "^LH0,0"]
    if symbology == "qr":
        # ^BQN,2,m: normal orientation, model 2, m dots per module. In ^FD, "QA," means
        # error correction Q and automatic input mode (printer picks byte/alphanumeric).
        out.append(f"^FO{x},{y}^BQN,2,{mag}^FDQA,{content.payload}^FS")
    else:  # ^BXN,h,200: Data Matrix ECC 200 with h dots per module
        out.append(f"^FO{x},{y}^BXN,{mag},200^FD{content.payload}^FS")
    for rx, ry, w, h, stroke in lay.rects:
        thick = d(stroke) if stroke else min(d(w), d(h))  # full thickness = filled box
        out.append(f"^FO{d(rx)},{d(ry)}^GB{d(w)},{d(h)},{max(1, thick)}^FS")
    for tx in lay.texts:
        h = d(tx.size_pt * PT_MM)
        pos = f"^FO{d(tx.x)},{d(tx.y)}"
        if tx.box:  # font 0 is narrower than Helvetica: let the printer centre it (^FB ... C)
            pos = f"^FO{d(tx.box[0])},{d(tx.y)}^FB{d(tx.box[1])},1,0,C"
        out.append(f"{pos}^A0N,{h},{h}{'^FR' if tx.white else ''}^FH^FD{_zpl_text(tx.text)}^FS")
    out.append("^XZ")
    return "\n".join(out) + "\n"


def label_content_hash(content: LabelContent, template_name: str, fmt: str, *,
                       symbology: str = "qr") -> str:
    """sha256 of canonical JSON of content + template + format.

    ``reprint`` is left out: it is a property of the print job, and leaving it out lets
    a reprint's hash equal the original's exactly when the label data is unchanged.
    """
    _need(fmt, FORMATS, "format")
    _need(symbology, SYMBOLOGIES, "symbology")
    data = asdict(content)
    data.pop("reprint")
    doc = {"v": 1, "content": data, "template": template_name, "format": fmt,
           "symbology": symbology}
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=lambda o: o.isoformat())
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
