"""The formats: PNG, SVG, PDF (roll or A4 sheet) and ZPL, all drawn from one layout.

A print is the container label, followed by its accompanying label when text had to move
off it (same size, same roll): PNG and SVG stack them with the roll's gap, PDF gives each
its own page or cell, ZPL sends two labels.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from itertools import groupby
from xml.sax.saxutils import escape

from fpdf import FPDF
from PIL import Image, ImageDraw

from lims.labels.content import LabelContent
from lims.labels.layout import BASELINE, PT_MM, Page, _font, _stroke, need
from lims.labels.layout import layout as lay_out
from lims.labels.templates import ZPL_DOTS_PER_MM, LabelTemplate

FORMATS = ("png", "svg", "pdf", "zpl")
A4_MM = (210.0, 297.0)
SHEET_MARGIN_MM = 5.0  # office printers cannot print to the paper edge
SHEET_GAP_MM = 2.0
ROLL_GAP_MM = 3.0  # liner between two labels on a roll, as PNG and SVG show it
PREVIEW_TEXT = "PREVIEW - NOT A LABEL"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


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


def _bar_runs(modules: str) -> list[tuple[int, int]]:
    """(first module, width) of each bar of a Code 128 symbol."""
    out, c = [], 0
    for dark, group in groupby(modules):
        k = len(list(group))
        if dark == "1":
            out.append((c, k))
        c += k
    return out


def _preview_marks(p: Page) -> list[tuple[float, float, float, float]]:
    """A cross over the whole label: a preview shows the layout but must not be stuck on."""
    return [(0.0, 0.0, p.width, p.height), (0.0, p.height, p.width, 0.0)]


# ---- PNG ----------------------------------------------------------------------------


def _png_page(p: Page, preview: bool) -> Image.Image:
    ppm = p.dpi / 25.4

    def px(mm: float) -> int:
        return round(mm * ppm)

    img = Image.new("1", (px(p.width), px(p.height)), 1)
    draw = ImageDraw.Draw(img)
    for x, y, w, h, stroke in p.rects:
        xy = (px(x), px(y), px(x + w) - 1, px(y + h) - 1)
        draw.rectangle(xy, fill=None if stroke else 0, outline=0, width=max(1, px(stroke)))
    if p.matrix:
        n, m = len(p.matrix), p.module_px
        sym = Image.new("1", (n, n))
        sym.putdata([0 if dark else 1 for row in p.matrix for dark in row])
        sym = sym.resize((n * m, n * m), Image.Resampling.NEAREST)  # whole dots per module
        img.paste(sym, (px(p.code_x), px(p.code_y)))
    for b in p.bars:
        x0, y0, y1 = px(b.x), px(b.y), px(b.y + b.height) - 1
        for start, k in _bar_runs(b.modules):  # whole dots per module, as the printer
            draw.rectangle((x0 + start * b.module_dots, y0,
                            x0 + (start + k) * b.module_dots - 1, y1), fill=0)
    for tx in p.texts:
        em = tx.size_pt * PT_MM
        ink = 1 if tx.white else 0
        draw.text((px(tx.x), px(tx.y + BASELINE * em)), tx.text, fill=ink, font=_font(px(em)),
                  anchor="ls", stroke_width=_stroke(px(em)) if tx.bold else 0, stroke_fill=ink)
    if preview:
        for ax, ay, bx, by in _preview_marks(p):
            draw.line((px(ax), px(ay), px(bx), px(by)), fill=0, width=max(2, px(0.4)))
    return img


def render_image(content: LabelContent, template: LabelTemplate, symbology: str = "qr", *,
                 preview: bool = False) -> Image.Image:
    """The print as a 1-bit image at the template dpi (what render_png encodes)."""
    pages = [_png_page(p, preview) for p in lay_out(content, template, symbology)]
    gap = round(ROLL_GAP_MM * template.dpi / 25.4)
    img = pages[0]
    if len(pages) > 1:
        img = Image.new("1", (max(i.width for i in pages),
                              sum(i.height for i in pages) + gap * (len(pages) - 1)), 1)
        y = 0
        for i in pages:
            img.paste(i, (0, y))
            y += i.height + gap
    return img


def render_png(content: LabelContent, template: LabelTemplate, symbology: str = "qr", *,
               preview: bool = False) -> bytes:
    """1-bit PNG at the template dpi: one pixel is one printer dot, no grey to dither."""
    img = render_image(content, template, symbology, preview=preview)
    buf = io.BytesIO()
    img.save(buf, "PNG", dpi=(template.dpi, template.dpi))
    return buf.getvalue()


# ---- SVG ----------------------------------------------------------------------------


def _n(v: float) -> str:
    return f"{v:.4f}".rstrip("0").rstrip(".")


def _svg_page(p: Page, oy: float, preview: bool) -> list[str]:
    out = [f'<rect y="{_n(oy)}" width="{_n(p.width)}" height="{_n(p.height)}" fill="#fff"/>']
    if p.matrix:
        mod = p.module_px * 25.4 / p.dpi
        d = "".join(f"M{_n(p.code_x + c * mod)} {_n(oy + p.code_y + r * mod)}h{_n(k * mod)}"
                    f"v{_n(mod)}h-{_n(k * mod)}z" for r, c, k in _runs(p.matrix))
        out.append(f'<path d="{d}" fill="#000" shape-rendering="crispEdges"/>')
    for b in p.bars:
        x_mod = b.module_dots * 25.4 / p.dpi
        d = "".join(f"M{_n(b.x + s * x_mod)} {_n(oy + b.y)}h{_n(k * x_mod)}v{_n(b.height)}"
                    f"h-{_n(k * x_mod)}z" for s, k in _bar_runs(b.modules))
        out.append(f'<path class="code128" data-isbt="{escape(b.data)}" d="{d}" fill="#000" '
                   'shape-rendering="crispEdges"/>')
    for x, y, bw, bh, stroke in p.rects:
        s = stroke / 2  # keep the stroke inside the box, as in the PNG
        paint = f'fill="none" stroke="#000" stroke-width="{_n(stroke)}"' if s else 'fill="#000"'
        out.append(f'<rect x="{_n(x + s)}" y="{_n(oy + y + s)}" width="{_n(bw - 2 * s)}" '
                   f'height="{_n(bh - 2 * s)}" {paint}/>')
    for tx in p.texts:
        em = tx.size_pt * PT_MM
        out.append(f'<text x="{_n(tx.x)}" y="{_n(oy + tx.y + BASELINE * em)}" '
                   f'font-size="{_n(em)}" font-family="Helvetica, Arial, sans-serif" '
                   f'font-weight="{"bold" if tx.bold else "normal"}" '
                   f'fill="{"#fff" if tx.white else "#000"}">{escape(tx.text)}</text>')
    if preview:
        for x0, y0, x1, y1 in _preview_marks(p):
            out.append(f'<line x1="{_n(x0)}" y1="{_n(oy + y0)}" x2="{_n(x1)}" '
                       f'y2="{_n(oy + y1)}" stroke="#000" stroke-width="0.4"/>')
    return out


def render_svg(content: LabelContent, template: LabelTemplate, symbology: str = "qr", *,
               preview: bool = False) -> str:
    """SVG in millimetres (viewBox units = mm); codes are paths of module runs."""
    pages = lay_out(content, template, symbology)
    w = _n(template.width_mm)
    h = _n(sum(p.height for p in pages) + ROLL_GAP_MM * (len(pages) - 1))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}mm" height="{h}mm" '
           f'viewBox="0 0 {w} {h}">']
    if preview:
        out.append(f"<title>{PREVIEW_TEXT}</title>")
    oy = 0.0
    for p in pages:
        out += _svg_page(p, oy, preview)
        oy += p.height + ROLL_GAP_MM
    return "\n".join([*out, "</svg>"]) + "\n"


# ---- PDF ----------------------------------------------------------------------------


def _draw_pdf(pdf: FPDF, p: Page, ox: float, oy: float) -> None:
    # Vector rectangles, not an image: crisp on any printer (roll printer or 1200 dpi
    # office laser for sheets) and small; module size is still a whole number of dots.
    pdf.set_fill_color(0)
    if p.matrix:
        mod = p.module_px * 25.4 / p.dpi
        for r, c, k in _runs(p.matrix):
            pdf.rect(ox + p.code_x + c * mod, oy + p.code_y + r * mod, k * mod, mod, style="F")
    for b in p.bars:
        x_mod = b.module_dots * 25.4 / p.dpi
        for start, k in _bar_runs(b.modules):
            pdf.rect(ox + b.x + start * x_mod, oy + b.y, k * x_mod, b.height, style="F")
    for x, y, w, h, stroke in p.rects:
        s = stroke / 2
        pdf.set_line_width(stroke)
        pdf.rect(ox + x + s, oy + y + s, w - 2 * s, h - 2 * s, style="D" if s else "F")
    for tx in p.texts:
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

    An accompanying label follows its container label (next page or next cell).
    ``created`` is the PDF creation date; the default is fixed (1970), as this module
    reads no clock, so equal input gives byte-identical PDFs.
    """
    kind = layout
    need(kind, ("roll", "sheet"), "layout")
    if not contents:
        raise ValueError("no labels to render")
    t = template
    # Lay every label out before drawing any: one that does not fit refuses the whole job.
    pages = [p for c in contents for p in lay_out(c, t, symbology)]
    cols, rows = sheet_grid(t) if kind == "sheet" else (1, 1)
    if cols * rows == 0:
        raise ValueError(f"template {t.name!r} does not fit on an A4 sheet")
    pdf = FPDF(unit="mm", format=(t.width_mm, t.height_mm) if kind == "roll" else "A4")
    pdf.set_creation_date(created or _EPOCH)
    pdf.set_compression(compress)
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    for i, p in enumerate(pages):
        k = i % (cols * rows)
        if k == 0:
            pdf.add_page()
        ox = oy = 0.0
        if kind == "sheet":
            ox = SHEET_MARGIN_MM + (k % cols) * (t.width_mm + SHEET_GAP_MM)
            oy = SHEET_MARGIN_MM + (k // cols) * (t.height_mm + SHEET_GAP_MM)
        _draw_pdf(pdf, p, ox, oy)
    return bytes(pdf.output())


# ---- ZPL ----------------------------------------------------------------------------


def _zpl_text(s: str) -> str:
    # ^FH hex escapes: '_' is the escape introducer itself, '^' and '~' are ZPL commands.
    return s.replace("_", "_5F").replace("^", "_5E").replace("~", "_7E")


# QR byte-mode capacity at error correction Q, versions 1-10 (ISO/IEC 18004 table 7).
_QR_Q_BYTES = (11, 20, 32, 46, 60, 74, 86, 108, 130, 151)


def _printer_qr_modules(payload: str, ours: int) -> int:
    """Modules of the QR the printer may draw: it encodes the payload itself (^BQ), possibly
    all in byte mode, so a larger version than ours must still fit the code area."""
    version = next((v for v, cap in enumerate(_QR_Q_BYTES, 1) if cap >= len(payload)), 10)
    return max(ours, 17 + 4 * version)


def _zpl_page(p: Page, content: LabelContent, symbology: str) -> list[str]:
    dpmm = ZPL_DOTS_PER_MM[p.dpi]

    def d(mm: float) -> int:
        return round(mm * dpmm)

    out = ["^XA", "^CI28", f"^PW{d(p.width)}", f"^LL{d(p.height)}", "^LH0,0"]
    if p.code_box is not None:
        cx, cy, size = p.code_box
        modules = len(p.matrix)
        if symbology == "qr":
            modules = _printer_qr_modules(content.payload, modules)
        mag = min(10, int(size * dpmm) // (modules + 2 * p.quiet))  # 10 = max
        x, y = d(cx) + p.quiet * mag, d(cy) + p.quiet * mag  # the printer adds no quiet zone
        if symbology == "qr":
            # ^BQN,2,m: normal orientation, model 2, m dots per module. In ^FD, "QA," means
            # error correction Q and automatic input mode (printer picks byte/alphanumeric).
            out.append(f"^FO{x},{y}^BQN,2,{mag}^FDQA,{content.payload}^FS")
        else:  # ^BXN,h,200: Data Matrix ECC 200 with h dots per module
            out.append(f"^FO{x},{y}^BXN,{mag},200^FD{content.payload}^FS")
    for b in p.bars:
        # ^BY: module width in dots; ^BCN,h,N,N,N,A: Code 128, no printed interpretation
        # line (the template prints the eye-readable text), automatic subset selection.
        out.append(f"^FO{d(b.x)},{d(b.y)}^BY{b.module_dots}^BCN,{d(b.height)},N,N,N,A"
                   f"^FD{b.data}^FS")
    for rx, ry, w, h, stroke in p.rects:
        thick = d(stroke) if stroke else min(d(w), d(h))  # full thickness = filled box
        out.append(f"^FO{d(rx)},{d(ry)}^GB{d(w)},{d(h)},{max(1, thick)}^FS")
    for tx in p.texts:
        h = d(tx.size_pt * PT_MM)
        pos = f"^FO{d(tx.x)},{d(tx.y)}"
        if tx.box:  # font 0 is narrower than Helvetica: let the printer centre it (^FB ... C)
            pos = f"^FO{d(tx.box[0])},{d(tx.y)}^FB{d(tx.box[1])},1,0,C"
        out.append(f"{pos}^A0N,{h},{h}{'^FR' if tx.white else ''}^FH^FD{_zpl_text(tx.text)}^FS")
    out.append("^XZ")
    return out


def render_zpl(content: LabelContent, template: LabelTemplate, symbology: str = "qr") -> str:
    """ZPL II for Zebra printers; the printer draws the codes natively (^BQ / ^BX, ^BC)."""
    if "^" in content.payload or "~" in content.payload:
        raise ValueError("payload contains ZPL control characters '^' or '~'")
    out: list[str] = []
    for p in lay_out(content, template, symbology):
        out += _zpl_page(p, content, symbology)
    return "\n".join(out) + "\n"
