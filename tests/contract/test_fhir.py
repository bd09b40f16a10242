"""HL7 FHIR R4: what a hospital system reads, validated with fhir.resources (R4B models),
value sets included. Expectations are those of the FHIR specification, not of our code."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.biologicallyderivedproduct import BiologicallyDerivedProduct
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.specimen import Specimen

from tests.api.helpers import box, collection, donor, step

FHIR = "application/fhir+json"
# http://hl7.org/fhir/R4/valueset-specimen-status.html
SPECIMEN_STATUS = {"available", "unavailable", "unsatisfactory", "entered-in-error"}
# http://hl7.org/fhir/R4/valueset-product-category.html and -product-status.html
PRODUCT_CATEGORY = {"organ", "tissue", "fluid", "cells", "biologicalAgent"}
PRODUCT_STATUS = {"available", "unavailable"}
ISBT128 = "urn:oid:2.16.840.1.113883.6.18"


def _fhir(r):
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(FHIR)
    return r.json()


def _outcome(r, status: int):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(FHIR)
    oo = OperationOutcome.model_validate(r.json())
    assert oo.issue and oo.issue[0].severity == "error"
    return oo


@pytest.fixture
def processed(api):
    """A cord blood unit received, processed into a cell product stored in a box."""
    d = donor(api)
    bag = collection(api, d["id"])["samples"][0]
    step(api, bag["id"], "receive")
    step(api, bag["id"], "start_processing", data={"method": "volume_reduction"})
    product = api.post(f"/samples/{bag['id']}/derivatives",
                       {"kind": "mnc", "volume_ml": 20}).json()[0]
    step(api, bag["id"], "complete_processing")
    b = box(api)
    step(api, product["id"], "cryopreserve", data={"box_id": b["id"], "position": 5})
    return d, bag, product


def test_capability_statement(api):
    cs = CapabilityStatement.model_validate(_fhir(api.get("/fhir/metadata")))
    assert cs.fhirVersion.startswith("4.0")
    served = {r.type: {i.code for i in r.interaction} for r in cs.rest[0].resource}
    assert served["Specimen"] >= {"read", "search-type"}
    assert "read" in served["BiologicallyDerivedProduct"]


def test_specimen_of_a_received_and_processed_unit(api, processed):
    d, bag, product = processed
    data = _fhir(api.get(f"/fhir/Specimen/{bag['id']}"))
    sp = Specimen.model_validate(data)
    assert sp.status in SPECIMEN_STATUS and sp.status == "available"
    ids = {i.system: i.value for i in sp.identifier}
    assert ids[ISBT128] == bag["code"].split("-")[0]  # the DIN
    assert bag["code"] in ids.values()
    assert sp.accessionIdentifier.value == bag["code"]
    assert sp.subject.type == "Patient" and sp.subject.identifier.value == d["code"]
    assert sp.subject.reference is None  # the donor by code only
    assert sp.receivedTime is not None
    assert sp.collection.collectedPeriod.start < sp.collection.collectedPeriod.end
    assert sp.collection.quantity.value == 95 and sp.collection.quantity.code == "mL"
    assert sp.collection.collector.display == "Midwife M."
    assert sp.collection.bodySite and sp.collection.method
    assert [p.description for p in sp.processing] == ["volume reduction"]
    assert sp.container[0].specimenQuantity.unit == "mL"
    assert sp.type.coding[0].code == "cord_blood"
    child = Specimen.model_validate(_fhir(api.get(f"/fhir/Specimen/{product['id']}")))
    assert child.parent[0].reference == f"Specimen/{bag['id']}"


def test_rejected_and_consumed_samples_have_the_fhir_status(api):
    d = donor(api)
    s = collection(api, d["id"])["samples"][0]
    step(api, s["id"], "reject", reason="warm on arrival",
         signature={"password": "correct-horse-42", "meaning": "performed"})
    sp = Specimen.model_validate(_fhir(api.get(f"/fhir/Specimen/{s['id']}")))
    assert sp.status == "unsatisfactory"


def test_cell_product(api, processed):
    _, bag, product = processed
    bdp = BiologicallyDerivedProduct.model_validate(
        _fhir(api.get(f"/fhir/BiologicallyDerivedProduct/{product['id']}")))
    assert bdp.productCategory in PRODUCT_CATEGORY and bdp.productCategory == "cells"
    assert bdp.status in PRODUCT_STATUS
    assert bdp.productCode.coding[0].code == product["product_code"]
    assert bdp.parent[0].reference == f"BiologicallyDerivedProduct/{bag['id']}"
    assert bdp.collection.collectedPeriod.start is not None
    assert bdp.storage and "position 5" in bdp.storage[0].description
    assert bdp.storage[0].scale == "celsius"


def test_search_by_identifier_is_a_searchset_bundle(api, processed):
    _, bag, product = processed
    din = bag["code"].split("-")[0]
    bundle = Bundle.model_validate(_fhir(api.get("/fhir/Specimen",
                                                 params={"identifier": f"{ISBT128}|{din}"})))
    assert bundle.type == "searchset"
    found = {e.resource.id for e in bundle.entry}
    assert found == {bag["id"], product["id"]}
    for e in bundle.entry:
        Specimen.model_validate(e.resource.model_dump())
    one = Bundle.model_validate(_fhir(api.get("/fhir/Specimen",
                                              params={"identifier": product["code"]})))
    assert [e.resource.id for e in one.entry] == [product["id"]]
    none = Bundle.model_validate(_fhir(api.get("/fhir/Specimen",
                                               params={"identifier": "W000026999999"})))
    assert none.total == 0 and not none.entry


def test_unknown_ids_and_unsupported_searches_answer_an_operation_outcome(api, processed):
    _, bag, _ = processed
    _outcome(api.get("/fhir/Specimen/no-such-id"), 404)
    _outcome(api.get("/fhir/BiologicallyDerivedProduct/no-such-id"), 404)
    plasma = api.post(f"/samples/{bag['id']}/derivatives", {"kind": "plasma", "volume_ml": 5})
    assert plasma.status_code == 201, plasma.text
    not_cells = api.get(f"/fhir/BiologicallyDerivedProduct/{plasma.json()[0]['id']}")
    _outcome(not_cells, 404)
    Specimen.model_validate(_fhir(api.get(f"/fhir/Specimen/{plasma.json()[0]['id']}")))
    oo = _outcome(api.get("/fhir/Specimen", params={"type": "cord_blood", "identifier": "X"}), 422)
    assert "type" in oo.issue[0].diagnostics
    _outcome(api.get("/fhir/Specimen"), 422)
    other = api.get("/fhir/Specimen", params={"identifier": f"http://other|{bag['code']}"})
    assert Bundle.model_validate(_fhir(other)).total == 0  # not a system we issue
    _outcome(api.as_(None).get(f"/fhir/Specimen/{bag['id']}"), 401)
