"""Printing labels: the content a sample's label must show, and the print record.

A preview renders the same label but records nothing; only a print is recorded, and
only a print after a print is a reprint (it needs a reason and says REPRINT).
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo

from lims import labels
from lims.db import labels as label_db
from lims.db import queries
from lims.db.tables import Collection, Donor, LabelPrint, Recipient, Sample
from lims.domain import flags, isbt, permissions
from lims.domain.errors import Invalid
from lims.services import audit, views
from lims.services.context import Context

MEDIA = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf",
         "zpl": "application/vnd.zebra.zpl"}
# A preview is looked at on a screen; PDF and ZPL go to printers, so they are prints.
PREVIEW_FORMATS = ("png", "svg")


@lru_cache
def templates() -> dict[str, labels.LabelTemplate]:
    return labels.load_templates(labels.default_templates_dir())


def container_templates() -> dict[str, labels.LabelTemplate]:
    """The templates a container label can be printed on (not the accompanying ones)."""
    return {n: t for n, t in templates().items() if t.role == "container"}


def template(name: str) -> labels.LabelTemplate:
    found = container_templates().get(name)
    if found is None:
        raise Invalid(f"Unknown label template '{name}'. Use one of: "
                      f"{', '.join(container_templates())}.")
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
    product = isbt.product_type(s.kind)
    # The date as it was where the material was collected, not where it is printed.
    local = collection.started_at.astimezone(ZoneInfo(collection.local_timezone))
    events = label_db.events_applied(ctx.session, s.id)
    frozen = s.state == "cryopreserved" or ("cryopreserve" in events and "thaw" not in events)
    attributes = ("Thawed",) if s.state == "thawed" or "thaw" in events else \
        ("Cryopreserved",) if frozen else ()
    volume = f"Approx. {s.volume_ml:g} mL"
    if s.parent_id is None and collection.anticoagulant:  # the collected product itself
        volume += f", {collection.anticoagulant}"
    recipient = None
    if s.recipient_id:
        r = queries.get(ctx.session, Recipient, s.recipient_id)
        recipient = f"For use by intended recipient only: {r.code} (wristband {r.wristband_id})"
    return labels.LabelContent(
        payload=isbt.label_payload(collection.din, s.product_code, ctype, s.division),
        identifier=isbt.human_din(collection.din),
        check=isbt.check_character(collection.din),
        product=product.class_name,
        product_code=f"{s.product_code}{ctype}{s.division}",
        donor_code=donor.code,
        collection_date=local.date(),
        # The lab's zone: the label shows it, and ISBT 005 encodes local time.
        expiry=s.expires_at.astimezone(ctx.settings.zone) if s.expires_at else None,
        warnings=flags.label_words(views.tube_facts(ctx, s, donor)),
        reprint=reprint,
        facility=ctx.settings.facility_name,
        abo_rh=donor.abo_rh,  # where typed; else the quadrant stays empty, as ST-004 allows
        attributes=attributes,
        volume=volume,
        storage=product.storage_frozen if frozen else product.storage_fresh,
        recipient=recipient,
        statements=("Do Not Irradiate",) if product.do_not_irradiate else (),
    )


def _refusal(tpl: labels.LabelTemplate, c: labels.LabelContent, symbology: str,
             exc: ValueError) -> Invalid:
    """Why a label cannot be printed, naming a template that would take it."""
    msg = f"This label cannot be printed on '{tpl.name}': {exc}."
    if isinstance(exc, labels.LabelDoesNotFit):
        other = labels.first_fitting(c, container_templates(), symbology, exclude=tpl.name)
        msg += (f" It fits on '{other}': print it with template={other}." if other else
                " No template takes it: shorten the text or add a larger template.")
    return Invalid(msg)


def _render(contents: list[labels.LabelContent], tpl: labels.LabelTemplate, fmt: str,
            symbology: str, layout: str, preview: bool) -> bytes:
    try:
        if fmt == "pdf":
            return labels.render_pdf(contents, tpl, symbology=symbology, layout=layout)
        if fmt == "png":
            return labels.render_png(contents[0], tpl, symbology=symbology, preview=preview)
        if fmt == "svg":
            return labels.render_svg(contents[0], tpl, symbology=symbology,
                                     preview=preview).encode()
        return labels.render_zpl(contents[0], tpl, symbology=symbology).encode()
    except ValueError as exc:  # the label would not fit or read: refuse, print nothing
        bad = next((c for c in contents if not labels.fits(c, tpl, symbology)), contents[0])
        raise _refusal(tpl, bad, symbology, exc) from None


def preview_label(ctx: Context, sample_id: str, *, template_name: str, fmt: str,
                  symbology: str) -> bytes:
    """The label as it would print now (REPRINT included), crossed out; records nothing."""
    permissions.require(ctx.actor.roles, "print_label")
    if fmt not in PREVIEW_FORMATS:
        raise Invalid(f"A preview is a PNG or SVG ({fmt} goes to a printer: print it instead).")
    tpl = template(template_name)
    s = queries.get(ctx.session, Sample, sample_id)
    c = content(ctx, s, reprint=label_db.printed_before(ctx.session, s.id))
    return _render([c], tpl, fmt, symbology, "roll", preview=True)


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
        reprint = label_db.printed_before(ctx.session, s.id)
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
    # A refusal raises Invalid: the request's transaction rolls back, nothing is recorded.
    return _render(contents, tpl, fmt, symbology, layout, preview=False)
