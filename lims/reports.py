"""Two-way traceability report (21 CFR 1271.290): donor to every product and its
recipient or disposition, and recipient back to donor, as a printable A4 PDF; with the
holds, QC results, deviations, temperature excursions and signatures an inspector asks for.

Pure rendering of the JSON-shaped trace: no database, HTTP or clock (the generation time
is in the input), so equal input gives byte-identical PDFs. Times are printed as the trace
gives them in the lab's zone (``x_at_local``), falling back to ISO 8601 (``x_at``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from fpdf import FPDF

KINDS = ("donor_trace", "recipient_trace")
MARGIN_MM = 15.0
LINE_MM = 4.2  # 9 pt text plus leading
INDENT_MM = 6.0  # per generation
MAX_INDENT_DEPTH = 12  # then lines keep >= 100 mm; the outline number shows the depth
SIGNATURE_INDENT_MM = 8.0
HANG_MM = 4.0  # wrapped lines of a tree entry sit right of its first, under no other entry
LABEL_MM = 34.0
CELL_MM = 3.6  # 8 pt table text plus leading
CELL_PAD_MM = 0.6
CELSIUS = "\u00b0C"  # the degree sign is Latin-1: the core fonts draw it
# Page-total placeholder. _latin1 turns control characters into "?", so no printed data
# can collide with it (fpdf2's default "{nb}" could occur in a free-text disposition).
_NB = "\x01nb\x01"

Node = Mapping[str, Any]


class TreeLine(NamedTuple):
    """One printed line of a lineage: a sample, or a signature of the sample above it."""

    depth: int
    text: str
    signature: bool = False


def _latin1(value: object) -> str:
    """Text the PDF core fonts can draw: '?' for anything outside printable Latin-1."""
    s = "-" if value is None or value == "" else str(value)
    return "".join(" " if c.isspace() else c if c.isprintable() and ord(c) < 256 else "?"
                   for c in s)


def _when(d: Mapping[str, Any], key: str) -> Any:
    """The readable lab time of ``d[key]`` when the trace has one, else the ISO time."""
    return d.get(f"{key}_local") or d.get(key)


def _ml(volume: Any) -> str | None:
    return None if volume is None else f"{float(volume):g} mL"


def _join(*parts: object) -> str:
    return " | ".join("-" if p is None or p == "" else str(p) for p in parts)


def node_text(n: Node) -> str:
    """code | product | state | volume | disposition, then recipient and distribution."""
    text = _join(n.get("code"), n.get("product") or n.get("kind"), n.get("state"),
                 _ml(n.get("volume_ml")), n.get("disposition"))
    if r := n.get("recipient"):
        text += f" | recipient {r.get('code')} (wristband {r.get('wristband_id') or '-'})"
    if n.get("distributed_to"):
        text += f" | distributed to {n['distributed_to']}"
    if n.get("intended_use"):
        text += f" | intended use {n['intended_use']}"
    return text


def _signatures(n: Node, depth: int) -> list[TreeLine]:
    return [TreeLine(depth, f"signed {s.get('meaning')} by {s.get('signer_name')} at "
                            f"{_when(s, 'signed_at')}", True) for s in n.get("signatures") or ()]


def tree_lines(nodes: Sequence[Node], depth: int = 0, prefix: str = "") -> list[TreeLine]:
    """Depth first: each sample, its signatures, then its children one generation deeper.

    Outline numbers (1, 1.2, 1.2.1) keep parentage readable where a tree runs onto a new page.
    """
    out: list[TreeLine] = []
    for i, n in enumerate(nodes, 1):
        number = f"{prefix}{i}"
        out += [TreeLine(depth, f"{number}  {node_text(n)}"), *_signatures(n, depth)]
        out += tree_lines(n.get("children") or (), depth + 1, number + ".")
    return out


def path_lines(product: Node) -> list[TreeLine]:
    """Donor, collection, then each container from the primary one down to the product."""
    d, c = product.get("donor") or {}, product.get("collection") or {}
    out = [TreeLine(0, "Donor " + _join(d.get("code"), d.get("donor_type"),
                                        f"eligibility {d.get('eligibility') or '-'}")),
           TreeLine(1, "Collection DIN " + _join(c.get("din"), c.get("source"), c.get("site"),
                                                 f"started {_when(c, 'started_at') or '-'}"))]
    path, sample = list(product.get("path") or ()), product.get("sample")
    if sample and (not path or (path[-1].get("id"), path[-1].get("code"))
                   != (sample.get("id"), sample.get("code"))):
        path.append(sample)  # the path must end at the product, however it was built
    for depth, n in enumerate(path, 2):
        out += [TreeLine(depth, node_text(n)), *_signatures(n, depth)]
    return out


class _Report(FPDF):
    def __init__(self, title: str, subtitle: str) -> None:
        super().__init__(unit="mm", format="A4")
        self.title_text, self.subtitle = _latin1(title), _latin1(subtitle)
        self.continued: str | None = None  # section running on, named on each new page

    def header(self) -> None:
        _write(self, self.title_text, "B", 13, h=6)
        page = f"{self.subtitle} | Page {self.page_no()} of {_NB}"  # the alias is no Latin-1
        _write(self, _wrap(self, page, "", 8), "", 8, h=4)
        self.line(self.l_margin, self.y + 1, self.w - self.r_margin, self.y + 1)
        self.ln(3)
        if self.continued:
            _write(self, self.continued, "I", 8)


def _wrap(pdf: FPDF, s: str, style: str, size: float, x: float = 0.0) -> list[str]:
    """Text ``s`` broken into lines that fit from ``x`` mm right of the margin."""
    pdf.set_font("helvetica", style, size)
    w = pdf.epw - x
    # fpdf2's line breaker costs ~3 ms a line: only lines too wide for one go through it.
    if pdf.get_string_width(s) < w - 2 * pdf.c_margin - 0.01:
        return [s]
    lines: list[str] = pdf.multi_cell(w, LINE_MM, s, dry_run=True,  # type: ignore[assignment]
                                      output="LINES")
    return lines


def _write(pdf: FPDF, text: object, style: str = "", size: float = 9, x: float = 0.0,
           h: float = LINE_MM, hang: float = 0.0) -> None:
    """Left-aligned text ``x`` mm right of the margin (later lines ``hang`` mm further),
    wrapped unless already a list of lines."""
    lines = text if isinstance(text, list) else _wrap(pdf, _latin1(text), style, size, x + hang)
    pdf.set_font("helvetica", style, size)
    for i, line in enumerate(lines):
        pdf.set_x(pdf.l_margin + x + (hang if i else 0.0))
        pdf.cell(pdf.epw - x - (hang if i else 0.0), h, line, new_x="LMARGIN", new_y="NEXT")


def _heading(pdf: _Report, text: str) -> None:
    if pdf.will_page_break(20):  # no heading stranded at the foot of a page
        pdf.add_page()
    pdf.ln(2)
    _write(pdf, text, "B", 11, h=6)


def _facts(pdf: _Report, pairs: Sequence[tuple[str, object]]) -> None:
    for label, value in pairs:
        pdf.set_font("helvetica", "B", 9)
        pdf.cell(LABEL_MM, LINE_MM, label)
        _write(pdf, value, x=LABEL_MM)


def _lines(pdf: _Report, lines: Sequence[TreeLine]) -> None:
    blocks: list[list[tuple[list[str], str, float, float, float, float]]] = []  # sample + sigs
    for line in lines:
        x = min(line.depth, MAX_INDENT_DEPTH) * INDENT_MM
        style, size = ("I", 8.0) if line.signature else ("", 9.0)
        x += SIGNATURE_INDENT_MM if line.signature else 0.0
        cell = (_wrap(pdf, _latin1(line.text), style, size, x + HANG_MM), style, size, x,
                LINE_MM, HANG_MM)
        if line.signature and blocks:
            blocks[-1].append(cell)
        else:
            blocks.append([cell])
    for block in blocks:
        height = sum(len(cell[0]) for cell in block) * LINE_MM
        # Keep a sample with its signatures on one page, unless even one page is too short.
        if pdf.will_page_break(height) and height < pdf.eph / 2:
            pdf.add_page()
        for cell in block:
            _write(pdf, *cell)


def _section(pdf: _Report, heading: str, facts: Sequence[tuple[str, object]],
             lines: Sequence[TreeLine]) -> None:
    _heading(pdf, heading)
    _facts(pdf, facts)
    pdf.ln(2)
    pdf.continued = f"{heading} (continued)"  # names the section on each page it runs onto
    _lines(pdf, lines)
    pdf.continued = None


def _donor(pdf: _Report, t: Node) -> None:
    d = t.get("donor") or {}
    _heading(pdf, "Donor")
    _facts(pdf, [("Donor code", d.get("code")), ("Donor type", d.get("donor_type")),
                 ("Eligibility", d.get("eligibility")), ("Record id", d.get("id")),
                 *_zone(t)])
    _table(pdf, "Consents", (14, 40, 40, 43, 43),
           ("Form", "Scopes", "Withdrawn scopes", "Obtained", "Withdrawn"),
           [(c.get("form_version"), ", ".join(c.get("scopes") or ()),
             ", ".join(c.get("withdrawn_scopes") or ()), _when(c, "obtained_at"),
             _when(c, "withdrawn_at")) for c in t.get("consents") or ()],
           "No consent recorded.")
    for c in t.get("collections") or ():
        din = c.get("din") or "-"
        _section(pdf, f"Collection {din}", [
            ("DIN", din), ("Source", c.get("source")), ("Site", c.get("site")),
            ("Started", _when(c, "started_at")), ("Ended", _when(c, "ended_at")),
            ("Volume", _ml(c.get("volume_ml")))],
            tree_lines(c.get("samples") or ()) or [TreeLine(0, "No samples recorded.")])
    if not t.get("collections"):
        _section(pdf, "Collections", [], [TreeLine(0, "No collections recorded.")])
    _records(pdf, t)


def _recipient(pdf: _Report, t: Node) -> None:
    r = t.get("recipient") or {}
    _heading(pdf, "Recipient")
    _facts(pdf, [("Recipient code", r.get("code")), ("Wristband", r.get("wristband_id")),
                 ("Own donor code", r.get("donor_code")), ("Record id", r.get("id")),
                 *_zone(t)])
    for i, p in enumerate(t.get("products") or (), 1):
        _section(pdf, f"Product {i}: {(p.get('sample') or {}).get('code') or '-'}",
                 [("Administered at", _when(p, "administered_at") or "not recorded")],
                 path_lines(p))
        _records(pdf, p, f"Product {i}: ")
    if not t.get("products"):
        _section(pdf, "Products", [], [TreeLine(0, "No products recorded for this recipient.")])


def _zone(t: Node) -> list[tuple[str, object]]:
    return [("Times", f"lab time, {t['timezone']}")] if t.get("timezone") else []


def _both(when: object, who: object) -> str | None:
    """'2026-12-01 19:20 CET by Jana Tech', or None when nothing happened."""
    if not when:
        return None
    return f"{when} by {who}" if who else str(when)


def _num(value: Any, unit: Any = None) -> str | None:
    if value is None:
        return None
    text = f"{float(value):g}" if isinstance(value, int | float) else str(value)
    return f"{text} {unit}" if unit else text


def _late(d: Node) -> str | None:
    """'4 h (52 h after collection)': how late, and the figure the deviation report names."""
    late, since = d.get("late_by"), d.get("since_collection")
    return f"{late} ({since} after collection)" if late and since else late


def _cell_lines(pdf: FPDF, s: str, style: str, size: float, width: float) -> list[str]:
    """Text ``s`` broken into lines that fit a table cell ``width`` mm wide."""
    pdf.set_font("helvetica", style, size)
    if pdf.get_string_width(s) < width - 2 * pdf.c_margin - 0.01:
        return [s]
    lines: list[str] = pdf.multi_cell(width, CELL_MM, s, dry_run=True,  # type: ignore[assignment]
                                      output="LINES")
    return lines


def _row(pdf: _Report, widths: Sequence[float], cells: Sequence[str],
         head: Sequence[str] | None) -> None:
    """One bordered table row; on a new page the heading row ``head`` is drawn first
    (``head`` None: this row is the heading row)."""
    style = "B" if head is None else ""
    wrapped = [_cell_lines(pdf, c, style, 8, w) for c, w in zip(cells, widths, strict=True)]
    height = max(len(x) for x in wrapped) * CELL_MM + 2 * CELL_PAD_MM
    if pdf.will_page_break(height) and height < pdf.eph / 2:
        pdf.add_page()
        if head is not None:
            _row(pdf, widths, head, None)
    pdf.set_font("helvetica", style, 8)
    x, y = pdf.l_margin, pdf.y
    for lines, w in zip(wrapped, widths, strict=True):
        if head is None:
            pdf.set_fill_color(235)
        pdf.rect(x, y, w, height, style="DF" if head is None else "D")
        for i, line in enumerate(lines):
            pdf.set_xy(x, y + CELL_PAD_MM + i * CELL_MM)
            pdf.cell(w, CELL_MM, line)
        x += w
    pdf.set_xy(pdf.l_margin, y + height)


def _table(pdf: _Report, heading: str, widths: Sequence[float], head: Sequence[str],
           rows: Sequence[Sequence[object]], empty: str) -> None:
    """A headed table whose heading row repeats on each page it runs onto.

    Drawn cell by cell rather than with fpdf2's table(), which re-measures every cell
    several times (about 25 ms a row here: seconds for a donor with hundreds of records).
    """
    _heading(pdf, heading)
    if not rows:
        _write(pdf, empty, "I")  # an absence shown, not a silent gap
        return
    if pdf.will_page_break(3 * (CELL_MM + 2 * CELL_PAD_MM)):  # heading row + first rows
        pdf.add_page()
    pdf.continued = f"{heading} (continued)"
    _row(pdf, widths, list(head), None)
    for row in rows:
        _row(pdf, widths, [_latin1(v) for v in row], list(head))
    pdf.continued = None


def _records(pdf: _Report, t: Node, prefix: str = "") -> None:
    """Holds, QC results, deviations, excursions and signatures, each with its times."""
    _table(pdf, f"{prefix}Holds", (39, 36, 33, 36, 36),
           ("Sample", "Placed", "Reason", "Lifted", "Reason for lifting"),
           [(h.get("sample_code"), _both(_when(h, "placed_at"), h.get("placed_by")),
             h.get("reason"), _both(_when(h, "lifted_at"), h.get("lifted_by")) or "still on hold",
             h.get("lift_reason")) for h in t.get("holds") or ()],
           "No hold recorded.")
    _table(pdf, f"{prefix}QC results", (39, 22, 20, 25, 14, 60),
           ("Sample", "Test", "Value", "Specification", "Result", "Recorded"),
           [(q.get("sample_code"), q.get("test"), _num(q.get("value"), q.get("unit")),
             q.get("specification"), str(q.get("result") or "-").upper(),
             _both(_when(q, "recorded_at"), q.get("recorded_by")))
            for q in t.get("qc_results") or ()],
           "No QC result recorded.")
    _table(pdf, f"{prefix}Deviations", (39, 27, 34, 34, 22, 24),
           ("Sample", "Step", "Window closed", "Started", "Late by", "Reason"),
           [(d.get("sample_code"), d.get("step"),
             _when(d, "window_closed_at"), _both(_when(d, "started_at"), d.get("started_by")),
             _late(d), d.get("reason")) for d in t.get("deviations") or ()],
           "No deviation recorded.")
    _table(pdf, f"{prefix}Temperature excursions", (39, 18, 22, 34, 67),
           ("Sample", "Measured", "Allowed", "Detected", "QA review"),
           [(e.get("sample_code"), _num(e.get("temperature_c"), CELSIUS),
             f"{_num(e.get('allowed_min_c'))} to {_num(e.get('allowed_max_c'), CELSIUS)}",
             _when(e, "detected_at"),
             f"{_both(_when(e, 'reviewed_at'), e.get('reviewed_by'))}: {e.get('assessment')}"
             if e.get("reviewed_at") else "NOT REVIEWED: blocks release")
            for e in t.get("excursions") or ()],
           "No temperature excursion recorded.")
    _table(pdf, f"{prefix}Signatures", (39, 40, 20, 47, 34),
           ("Sample", "Signed record", "Meaning", "Signed by", "Signed at"),
           [(g.get("sample_code"), g.get("record"), g.get("meaning"), g.get("signer_name"),
             _when(g, "signed_at")) for g in t.get("signatures") or ()],
           "No signature recorded.")


def trace_pdf(trace: Mapping[str, Any], *, compress: bool = True) -> bytes:
    """A4 PDF of a ``donor_trace`` or ``recipient_trace`` dict; ValueError for other kinds.

    ``generated_at`` (ISO 8601 with offset) is printed on every page and is the PDF
    creation date: the inspector's copy is dated by the data, not by a clock here.
    """
    kind = trace.get("kind")
    if kind not in KINDS:
        raise ValueError(f"unknown trace kind {kind!r}; use one of {list(KINDS)}")
    try:
        generated = dt.datetime.fromisoformat(trace.get("generated_at") or "")
    except (TypeError, ValueError):
        generated = None
    if generated is None or generated.tzinfo is None:  # without an offset: which 12:00?
        raise ValueError("generated_at must be an ISO 8601 time with a UTC offset")
    who = "donor" if kind == "donor_trace" else "recipient"
    title = f"Traceability report: {who} {(trace.get(who) or {}).get('code') or '-'}"
    pdf = _Report(title, f"{trace.get('facility') or '-'} | Generated at "
                         f"{_when(trace, 'generated_at')}")
    pdf.set_title(pdf.title_text)
    pdf.set_creation_date(generated)
    pdf.set_compression(compress)
    pdf.alias_nb_pages(_NB)
    pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
    pdf.set_auto_page_break(True, MARGIN_MM)
    pdf.add_page()
    (_donor if kind == "donor_trace" else _recipient)(pdf, trace)
    return bytes(pdf.output())
