"""Tests for lims.domain.sources: which methods and derived kinds fit which source.

Expectations come from DOMAIN.md (isolation is source-specific: density gradients for
marrow and cord blood, collagenase digestion for lipoaspirate), not from the tables.
"""

from __future__ import annotations

import pytest

from lims.domain.errors import Invalid
from lims.domain.sources import (
    COLLECTED_KINDS,
    KINDS,
    METHODS,
    PRIMARY_KIND,
    Source,
    check_kind,
    check_method,
)

BM, AT, CB = Source.bone_marrow, Source.adipose_tissue, Source.cord_blood


def suggestions(err: Invalid) -> list[str]:
    """The methods a refusal offers instead ('Use one of: a, b.')."""
    return err.detail.split("Use one of:", 1)[1].strip().rstrip(".").split(", ")


# --- methods ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "source"), [
    ("density_gradient", BM),
    ("density_gradient", CB),
    ("red_cell_depletion", BM),
    ("red_cell_depletion", CB),
    ("volume_reduction", CB),
    ("cd34_selection", BM),
    ("enzymatic_digestion", AT),
    ("washing", AT),
    ("plastic_adherence", AT),
    ("plastic_adherence", BM),
    ("culture_expansion", BM),
    ("reprogramming", AT),
])
def test_check_method_accepts_validated_methods(method, source):
    assert check_method(method, source) is None


@pytest.mark.parametrize(("method", "source"), [
    ("density_gradient", AT),
    ("enzymatic_digestion", BM),
    ("enzymatic_digestion", CB),
    ("red_cell_depletion", AT),
    ("volume_reduction", AT),
])
def test_check_method_refuses_methods_not_validated_for_the_source(method, source):
    with pytest.raises(Invalid) as info:
        check_method(method, source)
    err = info.value
    assert method in err.detail
    assert source.value.replace("_", " ") in err.detail
    offered = suggestions(err)
    assert method not in offered
    assert offered == sorted(offered)
    for m in offered:
        check_method(m, source)  # every suggestion must itself be accepted


def test_adipose_refusal_points_to_digestion():
    with pytest.raises(Invalid) as info:
        check_method("density_gradient", AT)
    offered = suggestions(info.value)
    assert "enzymatic_digestion" in offered and "washing" in offered
    assert "density_gradient" not in offered


def test_marrow_refusal_points_to_density_gradient():
    with pytest.raises(Invalid) as info:
        check_method("enzymatic_digestion", BM)
    offered = suggestions(info.value)
    assert "density_gradient" in offered
    assert "enzymatic_digestion" not in offered


def test_enzymatic_digestion_is_only_for_adipose():
    assert METHODS["enzymatic_digestion"] == {AT}
    assert METHODS["density_gradient"] == {BM, CB}


@pytest.mark.parametrize("source", list(Source))
def test_check_method_refuses_unknown_method_listing_options(source):
    with pytest.raises(Invalid) as info:
        check_method("ficoll_magic", source)
    detail = info.value.detail
    assert "ficoll_magic" in detail
    assert "Known:" in detail
    for m in ("density_gradient", "enzymatic_digestion", "washing"):
        assert m in detail


# --- kinds -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "source"), [
    ("svf", BM),
    ("svf", CB),
    ("msc_adipose", CB),
    ("msc_adipose", BM),
    ("msc_marrow", AT),
    ("msc_cord", BM),
    ("lipoaspirate", BM),
    ("maternal_sample", BM),
    ("maternal_sample", AT),
    ("hsc_cd34", AT),
    ("cord_blood", BM),
])
def test_check_kind_refuses_kinds_the_source_cannot_yield(kind, source):
    with pytest.raises(Invalid) as info:
        check_kind(kind, source)
    assert kind in info.value.detail
    assert source.value.replace("_", " ") in info.value.detail


@pytest.mark.parametrize(("kind", "source"), [
    ("svf", AT),
    ("msc_adipose", AT),
    ("msc_marrow", BM),
    ("msc_cord", CB),
    ("mnc", BM),
    ("mnc", CB),
    ("hsc_cd34", BM),
    ("hsc_cd34", CB),
    ("maternal_sample", CB),
])
def test_check_kind_accepts_kinds_the_source_yields(kind, source):
    assert check_kind(kind, source) is None


@pytest.mark.parametrize("kind", ["ipsc", "qc_sample"])
@pytest.mark.parametrize("source", list(Source))
def test_ipsc_and_qc_samples_come_from_every_source(kind, source):
    assert check_kind(kind, source) is None


def test_check_kind_refuses_unknown_kind():
    with pytest.raises(Invalid) as info:
        check_kind("unicorn_cells", BM)
    assert "unicorn_cells" in info.value.detail
    assert "svf" in info.value.detail and "ipsc" in info.value.detail


# --- primary kind per source -----------------------------------------------------------------


def test_primary_kind_per_source():
    assert PRIMARY_KIND == {BM: "bone_marrow", AT: "lipoaspirate", CB: "cord_blood"}


@pytest.mark.parametrize("source", list(Source))
def test_primary_kind_is_a_valid_collected_kind(source):
    kind = PRIMARY_KIND[source]
    assert kind in KINDS
    check_kind(kind, source)
    assert kind in COLLECTED_KINDS[source]


@pytest.mark.parametrize("source", list(Source))
def test_collected_kinds_fit_their_source(source):
    for kind in COLLECTED_KINDS[source]:
        check_kind(kind, source)
