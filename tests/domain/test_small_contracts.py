"""Small published answers: who may act, which fields and methods a form offers, what an
error keeps although the request fails, and JSON as it reads back from the database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lims.domain import audit, permissions, sources, workflow
from lims.domain.errors import DomainError, Invalid, NotPermitted


def test_allowed_answers_for_any_of_the_roles_held():
    assert permissions.allowed(["technician"], "derive")
    assert permissions.allowed(["viewer", "qa"], "approve_qc")
    assert not permissions.allowed(["technician", "coordinator"], "approve_qc")
    assert not permissions.allowed([], "scan")


def test_a_refusal_names_the_roles_that_may_and_the_ones_held():
    with pytest.raises(NotPermitted) as caught:
        permissions.require(["technician", "coordinator"], "verify_audit")
    assert caught.value.detail == ("To verify the audit trail you need the role admin or qa; "
                                   "you have coordinator, technician.")
    with pytest.raises(NotPermitted) as caught:
        permissions.require([], "approve_qc")
    assert caught.value.detail == "To approve QC results you need the role qa; you have no role."


# What each source's processing may be (the lab's validated methods per source).
SOP_METHODS = {
    "bone_marrow": ("cd34_selection", "cryopreservation_preparation", "culture_expansion",
                    "density_gradient", "formulation", "plastic_adherence", "post_thaw_wash",
                    "red_cell_depletion", "reprogramming", "volume_reduction", "washing"),
    "cord_blood": ("cd34_selection", "cryopreservation_preparation", "culture_expansion",
                   "density_gradient", "formulation", "plastic_adherence", "post_thaw_wash",
                   "red_cell_depletion", "reprogramming", "volume_reduction", "washing"),
    "adipose_tissue": ("cryopreservation_preparation", "culture_expansion",
                       "enzymatic_digestion", "formulation", "plastic_adherence",
                       "post_thaw_wash", "reprogramming", "washing"),
}


def test_methods_offered_per_source_in_name_order():
    assert sources.methods_by_source() == SOP_METHODS


def test_the_processing_form_offers_the_methods_of_the_sample_source():
    (method,) = [f for f in workflow.fields_of("start_processing") if f.name == "method"]
    assert workflow.choices_for(method, "adipose_tissue") == SOP_METHODS["adipose_tissue"]
    assert [f.name for f in workflow.fields_of("dispatch")] == ["courier", "shipper"]
    with pytest.raises(Invalid) as caught:
        workflow.fields_of("teleport")
    assert caught.value.detail.startswith("Unknown event 'teleport'. Known events: collect, ")


def test_an_error_can_keep_a_record_of_the_failed_attempt():
    kept: list[str] = []
    error = DomainError("Wrong password.")
    assert error.keep is None
    same = error.keeping(lambda: kept.append("failed sign-in"))
    assert same is error
    assert error.keep is not None
    error.keep()
    assert kept == ["failed sign-in"]


def test_jsonable_reads_like_the_json_column():
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert audit.jsonable({"at": at, "n": (1, 2), "name": "Jörg"}) == {
        "at": "2026-12-01T09:30:00+00:00", "n": [1, 2], "name": "Jörg"}
