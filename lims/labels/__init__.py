"""Container labels after ISBT 128 ST-004, rendered as PNG, SVG, PDF and ZPL.

Pure rendering: templates are TOML data in ``labels/``; no database, HTTP or clock.
Text gives way as each template says (smaller type down to a legible floor, standard
abbreviations, wrapping, the accompanying label); only when even that cannot carry the
content is a label refused (``LabelDoesNotFit``, a ``ValueError``) and ``first_fitting``
names a template that would take it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict

from lims.labels.content import LabelContent
from lims.labels.layout import (
    SYMBOLOGIES,
    LabelDoesNotFit,
    Page,
    code128,
    fits,
    layout,
    need,
    text_width_mm,
)
from lims.labels.render import (
    A4_MM,
    FORMATS,
    PREVIEW_TEXT,
    ROLL_GAP_MM,
    SHEET_GAP_MM,
    SHEET_MARGIN_MM,
    render_image,
    render_pdf,
    render_png,
    render_svg,
    render_zpl,
    sheet_grid,
)
from lims.labels.templates import (
    FIELD_KINDS,
    FLOOR_PT,
    GIVE_WAY,
    NEVER_DROPPED,
    CodeSpec,
    FieldSpec,
    LabelTemplate,
    LinearSpec,
    RegionSpec,
    abbreviate,
    default_templates_dir,
    load_template,
    load_templates,
)

__all__ = [
    "A4_MM", "FIELD_KINDS", "FLOOR_PT", "FORMATS", "GIVE_WAY", "NEVER_DROPPED", "PREVIEW_TEXT",
    "ROLL_GAP_MM", "SHEET_GAP_MM", "SHEET_MARGIN_MM", "SYMBOLOGIES", "CodeSpec", "FieldSpec",
    "LabelContent", "LabelDoesNotFit", "LabelTemplate", "LinearSpec", "Page", "RegionSpec",
    "abbreviate", "code128", "default_templates_dir", "first_fitting", "fits",
    "label_content_hash", "layout", "load_template", "load_templates", "render_pdf",
    "render_image", "render_png", "render_svg", "render_zpl", "sheet_grid", "text_width_mm",
]


def first_fitting(content: LabelContent, templates: Mapping[str, LabelTemplate],
                  symbology: str = "qr", *, exclude: str = "") -> str | None:
    """The smallest container template that carries this content, None if none does."""
    by_area = sorted((t for t in templates.values()
                      if t.role == "container" and t.name != exclude),
                     key=lambda t: (t.width_mm * t.height_mm, t.name))
    return next((t.name for t in by_area if fits(content, t, symbology)), None)


def label_content_hash(content: LabelContent, template_name: str, fmt: str, *,
                       symbology: str = "qr") -> str:
    """sha256 of canonical JSON of content + template + format.

    ``reprint`` is left out: it is a property of the print job, and leaving it out lets
    a reprint's hash equal the original's exactly when the label data is unchanged.
    """
    need(fmt, FORMATS, "format")
    need(symbology, SYMBOLOGIES, "symbology")
    data = asdict(content)
    data.pop("reprint")
    doc = {"v": 2, "content": data, "template": template_name, "format": fmt,
           "symbology": symbology}
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=lambda o: o.isoformat())
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
