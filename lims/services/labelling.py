"""Printing labels: the content a sample's label must show, and the print record."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlmodel import select

from lims import labels
from lims.db import queries
from lims.db.tables import Collection, Donor, LabelPrint, Sample
from lims.domain import flags, isbt, permissions
from lims.domain.errors import Invalid
from lims.services import audit, scanning
from lims.services.context import Context

MEDIA = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf",
         "zpl": "application/vnd.zebra.zpl"}


@lru_cache
def templates() -> dict[str, labels.LabelTemplate]:
    return labels.load_templates(labels.default_templates_dir())


def template(name: str) -> labels.LabelTemplate:
    found = templates().get(name)
    if found is None:
        raise Invalid(f"Unknown label template '{name}'. Use one of: {', '.join(templates())}.")
    return found


def collection_type(donor: Donor) -> str:
    if donor.donor_type == "autologous":
        return isbt.COLLECTION_TYPE["autologous"]
    return isbt.COLLECTION_TYPE["allogeneic_related" if donor.related else "allogeneic_unrelated"]


def content(ctx: Context, s: Sample, *, reprint: bool) -> labels.LabelContent:
    """What the label of this sample shows now, warnings included (21 CFR 1271.370)."""
    donor = queries.get(ctx.session, Donor, s.donor_id)
    collection = queries.get(ctx.session, Collection, s.collection_id)
    ctype = collection_type(donor)
    # The date as it was where the material was collected, not where it is printed.
    local = collection.started_at.astimezone(ZoneInfo(collection.local_timezone))
    return labels.LabelContent(
        payload=isbt.label_payload(collection.din, s.product_code, ctype, s.division),
        identifier=isbt.human_din(collection.din),
        check=isbt.check_character(collection.din),
        product=isbt.product_type(s.kind).class_name,
        product_code=f"{s.product_code}{ctype}{s.division}",
        donor_code=donor.code,
        collection_date=local.date(),
        expiry=s.expires_at.astimezone(ctx.settings.zone).date() if s.expires_at else None,
        warnings=flags.label_words(scanning.tube_facts(ctx, s, donor)),
        reprint=reprint,
    )


def _printed_before(ctx: Context, sample_id: str) -> bool:
    q = select(LabelPrint.id).where(LabelPrint.sample_id == sample_id).limit(1)
    return ctx.session.execute(q).first() is not None


def print_labels(ctx: Context, sample_ids: list[str], *, template_name: str, fmt: str,
                 symbology: str, reason: str | None, layout: str = "roll") -> bytes:
    """Render labels and record each print. A reprint needs a reason and says REPRINT."""
    permissions.require(ctx.actor.roles, "print_label")
    if fmt not in MEDIA:
        raise Invalid(f"Format must be one of: {', '.join(MEDIA)}.")
    if fmt != "pdf" and len(sample_ids) != 1:
        raise Invalid("Several labels at once come as one PDF: use format=pdf.")
    tpl = template(template_name)
    contents = []
    for sample_id in sample_ids:
        s = queries.get(ctx.session, Sample, sample_id)
        reprint = _printed_before(ctx, s.id)
        if reprint and not (reason and reason.strip()):
            raise Invalid(f"The label of {s.code} was printed before: a reprint needs a reason.")
        c = content(ctx, s, reprint=reprint)
        contents.append(c)
        digest = labels.label_content_hash(c, tpl.name, fmt, symbology=symbology)
        ctx.session.add(LabelPrint(sample_id=s.id, template=tpl.name, format=fmt,
                                   content_hash=digest, reprint=reprint,
                                   reason=reason if reprint else None,
                                   printed_by=ctx.actor.id, printed_at=ctx.now))
        audit.record(ctx, "label_reprinted" if reprint else "label_printed", "sample", s.id,
                     after={"template": tpl.name, "format": fmt, "content_hash": digest},
                     reason=reason if reprint else None)
    try:
        if fmt == "pdf":
            return labels.render_pdf(contents, tpl, symbology=symbology, layout=layout)
        if fmt == "png":
            return labels.render_png(contents[0], tpl, symbology=symbology)
        if fmt == "svg":
            return labels.render_svg(contents[0], tpl, symbology=symbology).encode()
        return labels.render_zpl(contents[0], tpl, symbology=symbology).encode()
    except ValueError as exc:  # the label would not fit or read: refuse, print nothing
        raise Invalid(f"This label cannot be printed on '{tpl.name}': {exc}") from None
