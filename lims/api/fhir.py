"""HL7 FHIR R4 (JSON): Specimen, BiologicallyDerivedProduct and the CapabilityStatement.
Errors here are OperationOutcomes (lims/api/problems.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from lims.api.contract import ContractRoute
from lims.api.deps import Auth
from lims.api.openapi import OPERATION_OUTCOME
from lims.db.types import utcnow
from lims.services import fhir


class FhirJSON(JSONResponse):
    media_type = fhir.FHIR_JSON


router = APIRouter(prefix="/fhir", tags=["HL7 FHIR"], route_class=ContractRoute,
                   default_response_class=FhirJSON)


def outcomes(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI: FHIR errors are OperationOutcome resources."""
    text = {401: "Not signed in", 403: "Role not permitted", 404: "Unknown id",
            422: "Unsupported search or parameter"}
    return {c: {"description": text.get(c, "Error"),
                "content": {fhir.FHIR_JSON: {"schema": OPERATION_OUTCOME}}} for c in codes}


def _resource(name: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": f"A FHIR R4 {name}", "content": {fhir.FHIR_JSON: {
        "schema": {"type": "object", "required": ["resourceType"],
                   "properties": {"resourceType": {"const": name}}}}}}}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/api/v1/fhir"


@router.get("/metadata", operation_id="fhir_capabilities", response_model=None,
            summary="FHIR CapabilityStatement", responses={**_resource("CapabilityStatement"),
                                                          **outcomes(422)})
def capabilities(request: Request) -> Any:
    """What this FHIR server answers: needs no sign-in."""
    return fhir.capability_statement(_base(request), utcnow())


@router.get("/Specimen", operation_id="fhir_search_specimens", response_model=None,
            summary="Search Specimens by identifier",
            responses={**_resource("Bundle"), **outcomes(401, 403, 422)})
def search_specimens(ctx: Auth, request: Request, identifier: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200)]],
        Query(min_length=1, description="[system|]value: a DIN or a sample code")]) -> Any:
    """A searchset Bundle of the samples with this DIN or sample code."""
    return fhir.search_specimens(ctx, {"identifier": identifier}, _base(request))


@router.get("/Specimen/{sample_id}", operation_id="fhir_read_specimen", response_model=None,
            summary="Read a Specimen", responses={**_resource("Specimen"),
                                                  **outcomes(401, 403, 404)})
def read_specimen(sample_id: str, ctx: Auth) -> Any:
    return fhir.specimen(ctx, sample_id)


@router.get("/BiologicallyDerivedProduct/{sample_id}", operation_id="fhir_read_product",
            response_model=None, summary="Read a cell product",
            responses={**_resource("BiologicallyDerivedProduct"), **outcomes(401, 403, 404)})
def read_product(sample_id: str, ctx: Auth) -> Any:
    """Cell products (HPC, MSC, MNC, SVF, iPSC): product code, processing, storage."""
    return fhir.product(ctx, sample_id)
