"""The OpenAPI document as an integrator needs it, completed in one place: an example for
every request body (one per workflow event for transitions, from the workflow table),
problem+json for every error response, the security schemes."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

from lims.domain import workflow

PROBLEM = "application/problem+json"
FHIR_PREFIX = "/api/v1/fhir/"
_WHEN = "2026-03-04T09:15:00+01:00"
FHIR_JSON = "application/fhir+json"
NO_NUL = "^[^\u0000]*$"
OPERATION_OUTCOME = {"type": "object", "required": ["resourceType", "issue"], "properties": {
    "resourceType": {"const": "OperationOutcome"},
    "issue": {"type": "array", "items": {"type": "object"}}}}

# One valid example per request body, by its schema's name.
EXAMPLES: dict[str, Any] = {
    "Body_sign_in": {"username": "tech", "password": "correct-horse-42"},
    "UserIn": {"username": "hospital-lims", "full_name": "Hospital LIMS",
               "roles": ["integration"]},
    "UserChangeIn": {"full_name": "Hospital LIMS (production)"},
    "BloodGroupIn": {"abo_rh": "A Neg"},
    "WebhookIn": {"url": "https://lims.hospital.example/hooks/lims",
                  "event_types": ["sample.*"], "description": "Hospital LIMS, production"},
    "DisableIn": {"reason": "Receiver being moved"},
    "EnableIn": {"note": "Receiver back after maintenance"},
    "ApiKeyIn": {"name": "order interface", "scopes": ["read", "write"]},
    "DonorIn": {"code": "CB-2026-0412", "donor_type": "allogeneic", "related": False,
                "eligibility": "pending"},
    "EligibilityIn": {"eligibility": "eligible", "note": "All tests negative"},
    "ConsentIn": {"form_version": "v3", "scopes": ["clinical", "research"],
                  "obtained_at": _WHEN, "obtained_by": "Dr. A. Weber"},
    "WithdrawIn": {"scopes": ["research"], "reason": "Donor asked by phone on 2026-03-05"},
    "CollectionIn": {"donor_id": "01a23700-0000-7000-8000-000000000001",
                     "source": "cord_blood", "site": "Maternity unit",
                     "started_at": _WHEN, "ended_at": "2026-03-04T09:23:00+01:00",
                     "local_timezone": "Europe/Berlin", "volume_ml": 95, "anticoagulant": "CPD",
                     "collector": "Midwife M.", "external_ref": "ORD-2026-0001"},
    "DerivativesIn": {"kind": "mnc", "volume_ml": 20, "count": 1, "cell_count": 1.2e9,
                      "viability_pct": 94, "external_ref": "MNC-2026-0001"},
    "QcIn": {"test": "viability", "result": "pass", "value": 94, "unit": "%",
             "specification": ">= 70 %"},
    "SignatureIn": {"password": "correct-horse-42", "meaning": "approved"},
    "LocationIn": {"kind": "box", "name": "Box 7", "parent_id":
                   "01a23700-0000-7000-8000-000000000002", "rows": 9, "cols": 9},
    "HandOverIn": {"to": "user:tech2", "temperature_c": 4, "shipper": "Courier A",
                   "condition": "sealed", "note": "To the processing lab"},
    "ReceiptIn": {"received_at": _WHEN, "temperature_c": 5},
    "ReviewIn": {"assessment": "Ten minutes at 12 °C in the validated shipper: no impact."},
    "RecipientIn": {"code": "P-2026-0007", "wristband_id": "WB-778812"},
    "VerifyIn": {"wristband": "WB-778812", "product": "=W12342600012360=<S1002V00",
                 "site": "Ward 3"},
    "ScanIn": {"payload": "=W12342600012360=<S1002V00", "station": "bench-2"},
    "ScanActIn": {"payload": "=W12342600012360=<S1002V00", "station": "bench-2",
                  "event": "receive"},
    "BatchIn": {"payloads": ["=W12342600012360=<S1002V00", "=W12342600012461=<S1002V00"],
                "station": "bench-2", "event": "receive", "mode": "all_or_nothing"},
    "SheetIn": {"sample_ids": ["01a23700-0000-7000-8000-000000000003"],
                "template": "cryovial", "layout": "sheet", "symbology": "qr"},
    "BulkIn": {"mode": "best_effort", "items": [
        {"sample_id": "01a23700-0000-7000-8000-000000000003", "event": "receive",
         "if_match": '"2"'},
        {"sample_id": "01a23700-0000-7000-8000-000000000004", "event": "start_processing",
         "data": {"method": "volume_reduction"}}]},
}
_FIELD_EXAMPLE = {"number": 1.0, "integer": 1, "position": 1, "datetime": _WHEN,
                  "object": {}, "text": "see batch record", "id": "01a23700-0000-7000-8000-0"}


def step_examples() -> dict[str, Any]:
    """One example body per event, from its row of the workflow table."""
    out = {}
    for t in workflow.TRANSITIONS:
        data = {}
        for f in t.fields:
            if not f.required:
                continue
            choices = f.choices or next(iter((f.choices_by_source or {}).values()), ())
            data[f.name] = choices[0] if choices else _FIELD_EXAMPLE.get(f.type, "value")
        body: dict[str, Any] = {"event": t.event}
        if t.needs_reason:
            body["reason"] = "Bag leaking at the port"
        if data:
            body["data"] = data
        if t.needs_signature:
            body["signature"] = {"password": "correct-horse-42",
                                 "meaning": sorted(t.meanings)[0]}
        out[t.event] = {"summary": t.description, "value": body}
    return out


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else None


def _no_nul(node: Any) -> None:
    """State on every free text that it cannot hold a NUL character (the service refuses
    one: PostgreSQL cannot store it, and no scanner means it)."""
    if isinstance(node, dict):
        if node.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(
                node):
            node["pattern"] = NO_NUL
        for value in node.values():
            _no_nul(value)
    elif isinstance(node, list):
        for value in node:
            _no_nul(value)


def complete(doc: dict[str, Any]) -> dict[str, Any]:
    """Examples on request bodies, problem+json on errors, summaries everywhere."""
    problem = {"$ref": "#/components/schemas/Problem"}
    for path, operations in doc.get("paths", {}).items():
        for op in operations.values():
            if not op.get("summary"):
                op["summary"] = (op.get("description") or op["operationId"]).split("\n")[0]
            for media in op.get("requestBody", {}).get("content", {}).values():
                if "example" in media or "examples" in media:
                    continue
                name = _ref_name(media.get("schema", {}))
                if name in EXAMPLES:
                    media["example"] = EXAMPLES[name]
                elif "oneOf" in media.get("schema", {}):
                    media["examples"] = step_examples()
            for code, answer in op.get("responses", {}).items():
                if code[0] not in "45":
                    continue
                if path.startswith(FHIR_PREFIX):
                    answer["content"] = {FHIR_JSON: {"schema": OPERATION_OUTCOME}}
                else:
                    answer["content"] = {PROBLEM: {"schema": problem}}
    _no_nul(doc.get("paths", {}))
    _no_nul(doc.get("components", {}).get("schemas", {}))
    schemas = doc.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return doc


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the document declares for this path (the Allow header of a 405):
    FastAPI keeps GET and POST of one path as two routes, Starlette names only one."""
    table = getattr(app.state, "allow_table", None)
    if table is None:
        table = [(re.compile("^" + re.sub(r"{[^}]+}", "[^/]+", p) + "$"),
                  sorted(m.upper() for m in ops))
                 # literal paths first: /collections/import before /collections/{id}
                 for p, ops in sorted(app.openapi().get("paths", {}).items(),
                                      key=lambda item: item[0].count("{"))]
        app.state.allow_table = table
    return next((methods for pattern, methods in table if pattern.match(path)), [])


def install(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
