"""HL7 FHIR R4 views of our records, built from the sample card (lims/services/views.py).

Nothing here reads a sample's columns a second way: a Specimen and a BiologicallyDerivedProduct
are translations of `views.card`, plus the collection, the processing steps and the receipt
the card does not carry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lims import __version__
from lims.db import lookup, queries
from lims.db.tables import Collection, Location, Sample
from lims.domain import isbt
from lims.domain.checks import checked
from lims.domain.errors import Invalid, NotFound
from lims.services import views
from lims.services.context import Context

# Identifier systems. ISBT 128 is registered with HL7 under this OID; sample and donor
# codes are ours.
ISBT128 = "urn:oid:2.16.840.1.113883.6.18"
SAMPLE_CODE = "https://lims.example/fhir/sid/sample-code"
DONOR_CODE = "https://lims.example/fhir/sid/donor-code"
KIND = "https://lims.example/fhir/CodeSystem/sample-kind"
LOCAL_PRODUCT = "https://lims.example/fhir/CodeSystem/product-code"
UCUM = "http://unitsofmeasure.org"
FHIR_JSON = "application/fhir+json"

# Specimen.status (required binding http://hl7.org/fhir/ValueSet/specimen-status).
UNAVAILABLE = {"consumed", "discarded", "distributed", "administered"}
UNSATISFACTORY = {"rejected"}
# Where each source is taken from (Specimen.collection.bodySite), SNOMED CT.
BODY_SITE = {
    "bone_marrow": ("14016003", "Bone marrow structure"),
    "cord_blood": ("280127005", "Umbilical cord structure"),
    "adipose_tissue": ("13024002", "Subcutaneous adipose tissue"),
}
# Viable-cell products (ISBT 128 cellular therapy classes) are those never irradiated.
CELL_KINDS = frozenset(k for k, p in isbt.PRODUCT_TYPES.items() if p.do_not_irradiate)
SEARCH_PARAMS = ("identifier",)


def _period(start: datetime | None, end: datetime | None) -> dict[str, str]:
    return {k: v.isoformat() for k, v in (("start", start), ("end", end)) if v is not None}


def _identifiers(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"use": "official", "system": ISBT128, "value": card["din"],
         "type": {"text": "Donation identification number (DIN)"}},
        {"use": "usual", "system": SAMPLE_CODE, "value": card["code"],
         "type": {"text": "Sample code (DIN, product code, division)"}},
    ]


def _ml(volume: float) -> dict[str, Any]:
    return {"value": volume, "unit": "mL", "system": UCUM, "code": "mL"}


def _product_code(card: dict[str, Any]) -> dict[str, Any]:
    published = isbt.product_type(card["kind"]).isbt_published
    return {"coding": [{"system": ISBT128 if published else LOCAL_PRODUCT,
                        "code": card["product_code"], "display": card["product"]}],
            "text": card["product"]}


def _processing(ctx: Context, sample_id: str) -> list[dict[str, Any]]:
    return [{"description": step.method.replace("_", " "),
             "procedure": {"text": step.method},
             "timePeriod": _period(step.started_at, step.ended_at)}
            for step in queries.steps_of(ctx.session, sample_id)]


def _received(ctx: Context, sample_id: str) -> str | None:
    received = [t.at for t in queries.transitions_of(ctx.session, sample_id)
                if t.event == "receive"]
    return received[-1].isoformat() if received else None


def specimen(ctx: Context, sample_id: str) -> dict[str, Any]:
    """The sample as a FHIR R4 Specimen."""
    s = queries.get(ctx.session, Sample, sample_id)
    card = views.card(ctx, s)
    c = queries.get(ctx.session, Collection, s.collection_id)
    status = ("unsatisfactory" if card["state"] in UNSATISFACTORY
              else "unavailable" if card["state"] in UNAVAILABLE else "available")
    site = BODY_SITE.get(c.source)
    resource: dict[str, Any] = {
        "resourceType": "Specimen", "id": card["id"],
        "meta": {"versionId": str(card["version"]),
                 "lastUpdated": card["updated_at"].isoformat()},
        "identifier": _identifiers(card),
        "accessionIdentifier": {"system": SAMPLE_CODE, "value": card["code"]},
        "status": status,
        "type": {"coding": [{"system": KIND, "code": card["kind"],
                             "display": card["product"]}], "text": card["product"]},
        "subject": {"type": "Patient", "identifier": {"system": DONOR_CODE,
                                                      "value": card["donor_code"]},
                    "display": f"Donor {card['donor_code']}"},
        "collection": {
            "collector": {"display": c.collector},
            "collectedPeriod": _period(c.started_at, c.ended_at),
            "quantity": _ml(c.volume_ml),
            "method": {"text": f"{c.source.replace('_', ' ')} collection at {c.site}"},
            **({"bodySite": {"coding": [{"system": "http://snomed.info/sct",
                                         "code": site[0], "display": site[1]}],
                             "text": site[1]}} if site else {}),
        },
        "container": [{"identifier": [{"system": SAMPLE_CODE, "value": card["code"]}],
                       "description": card["product"],
                       "specimenQuantity": _ml(card["volume_ml"])}],
    }
    if card["parent_id"]:
        resource["parent"] = [{"reference": f"Specimen/{card['parent_id']}"}]
    received = _received(ctx, s.id)
    if received:
        resource["receivedTime"] = received
    processing = _processing(ctx, s.id)
    if processing:
        resource["processing"] = processing
    if card["warnings"]:
        resource["note"] = [{"text": w} for w in card["warnings"]]
    return resource


def product(ctx: Context, sample_id: str) -> dict[str, Any]:
    """A cell product as a FHIR R4 BiologicallyDerivedProduct."""
    s = queries.get(ctx.session, Sample, sample_id)
    if s.kind not in CELL_KINDS:
        raise NotFound(f"Sample {s.code} is a {s.kind.replace('_', ' ')}, not a cell "
                       "product: read it as Specimen/" + s.id)
    card = views.card(ctx, s)
    c = queries.get(ctx.session, Collection, s.collection_id)
    resource: dict[str, Any] = {
        "resourceType": "BiologicallyDerivedProduct", "id": card["id"],
        "meta": {"versionId": str(card["version"]),
                 "lastUpdated": card["updated_at"].isoformat()},
        "identifier": _identifiers(card),
        "productCategory": "cells",
        "productCode": _product_code(card),
        "status": "unavailable" if card["state"] in UNAVAILABLE | UNSATISFACTORY
        else "available",
        "quantity": 1,
        "collection": {
            "collector": {"display": c.collector},
            "source": {"type": "Patient", "identifier": {"system": DONOR_CODE,
                                                         "value": card["donor_code"]}},
            "collectedPeriod": _period(c.started_at, c.ended_at),
        },
    }
    if card["parent_id"]:
        resource["parent"] = [{"reference": f"BiologicallyDerivedProduct/{card['parent_id']}"}]
    processing = _processing(ctx, s.id)
    if processing:
        resource["processing"] = processing
    if s.location_id:
        loc = queries.get(ctx.session, Location, s.location_id)
        storage: dict[str, Any] = {"description": card["location"], "scale": "celsius"}
        if loc.max_temp_c is not None:
            storage["temperature"] = loc.max_temp_c
        if card["expires_at"]:
            storage["duration"] = {"end": card["expires_at"].isoformat()}
        resource["storage"] = [storage]
    return resource


def search_specimens(ctx: Context, params: dict[str, list[str]], base: str) -> dict[str, Any]:
    """Specimen?identifier=[system|]value as a searchset Bundle. Any other search is
    refused with the parameters we support (an OperationOutcome)."""
    unsupported = sorted(set(params) - set(SEARCH_PARAMS))
    if unsupported or not params.get("identifier"):
        raise Invalid(f"Unsupported search: {', '.join(unsupported) or 'no parameter'}. "
                      "Specimen supports identifier=[system|]value (DIN or sample code).")
    found: dict[str, Sample] = {}
    for token in params["identifier"]:
        # An identifier in a system we do not issue matches nothing (FHIR token search).
        system, _, value = token.rpartition("|")
        for s in _by_identifier(ctx, system, value):
            found[s.id] = s
    entries = [{"fullUrl": f"{base}/Specimen/{s.id}", "resource": specimen(ctx, s.id),
                "search": {"mode": "match"}} for s in sorted(found.values(), key=lambda x: x.id)]
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries),
            "entry": entries}


def _by_identifier(ctx: Context, system: str, value: str) -> list[Sample]:
    samples: list[Sample] = []
    if system in ("", SAMPLE_CODE):
        samples += lookup.samples_by_codes(ctx.session, [value])
    if system in ("", ISBT128):
        samples += lookup.samples_of_donation(ctx.session, value)
    return samples


@checked
def capability_statement(base: str, now: datetime) -> dict[str, Any]:
    """What this server answers in FHIR: read Specimen and BiologicallyDerivedProduct,
    search Specimen by identifier."""
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": now.isoformat(),
        "kind": "instance", "fhirVersion": "4.0.1", "format": ["json"],
        "software": {"name": "lims", "version": __version__},
        "implementation": {"description": "Stem-cell laboratory sample tracking", "url": base},
        "rest": [{
            "mode": "server",
            "security": {"description": "Bearer token or X-API-Key of a service account"},
            "resource": [
                {"type": "Specimen", "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": [{"name": "identifier", "type": "token",
                                  "documentation": "DIN or sample code, [system|]value"}]},
                {"type": "BiologicallyDerivedProduct", "interaction": [{"code": "read"}]},
            ],
        }],
    }


def operation_outcome(detail: str, code: str = "processing") -> dict[str, Any]:
    """An error as FHIR clients read it."""
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": detail}]}
