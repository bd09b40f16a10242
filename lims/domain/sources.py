"""Collection sources and the rules that depend on them.

Which isolation methods fit which source, which derived products a source can yield,
and the primary sample kind a collection starts with. Pure data plus small lookups.
"""

from __future__ import annotations

from enum import StrEnum

from lims.domain.errors import Invalid


class Source(StrEnum):
    bone_marrow = "bone_marrow"
    adipose_tissue = "adipose_tissue"
    cord_blood = "cord_blood"


ALL = frozenset(Source)
MARROW_AND_CORD = frozenset({Source.bone_marrow, Source.cord_blood})

# The container a collection fills: what is in the primary bag or syringe.
PRIMARY_KIND: dict[Source, str] = {
    Source.bone_marrow: "bone_marrow",
    Source.adipose_tissue: "lipoaspirate",
    Source.cord_blood: "cord_blood",
}

# Processing methods and the sources they are validated for. Density gradients separate
# blood-like material; lipoaspirate needs washing and collagenase digestion instead.
METHODS: dict[str, frozenset[Source]] = {
    "density_gradient": MARROW_AND_CORD,
    "red_cell_depletion": MARROW_AND_CORD,
    "volume_reduction": MARROW_AND_CORD,
    "cd34_selection": MARROW_AND_CORD,
    "washing": ALL,
    "enzymatic_digestion": frozenset({Source.adipose_tissue}),
    "plastic_adherence": ALL,
    "culture_expansion": ALL,
    "reprogramming": ALL,
    "formulation": ALL,
    "cryopreservation_preparation": ALL,
    "post_thaw_wash": ALL,
}

# Kinds of sample and the sources they can come from. Aliquots keep their parent's kind.
KINDS: dict[str, frozenset[Source]] = {
    "bone_marrow": frozenset({Source.bone_marrow}),
    "cord_blood": frozenset({Source.cord_blood}),
    "lipoaspirate": frozenset({Source.adipose_tissue}),
    "maternal_sample": frozenset({Source.cord_blood}),
    "mnc": MARROW_AND_CORD,
    "svf": frozenset({Source.adipose_tissue}),
    "hsc_cd34": MARROW_AND_CORD,
    "msc_marrow": frozenset({Source.bone_marrow}),
    "msc_adipose": frozenset({Source.adipose_tissue}),
    "msc_cord": frozenset({Source.cord_blood}),
    "ipsc": ALL,
    "plasma": MARROW_AND_CORD,
    "red_cells": MARROW_AND_CORD,
    "qc_sample": ALL,
}

# Kinds that a collection may fill directly (bedside containers), per source.
COLLECTED_KINDS: dict[Source, frozenset[str]] = {
    Source.bone_marrow: frozenset({"bone_marrow", "qc_sample"}),
    Source.adipose_tissue: frozenset({"lipoaspirate", "qc_sample"}),
    Source.cord_blood: frozenset({"cord_blood", "maternal_sample", "qc_sample"}),
}


def check_method(method: str, source: Source) -> None:
    """Refuse a processing method that is not validated for the material's source."""
    sources = METHODS.get(method)
    if sources is None:
        raise Invalid(f"Unknown processing method '{method}'. Known: {', '.join(sorted(METHODS))}.")
    if source not in sources:
        fits = sorted(m for m, s in METHODS.items() if source in s)
        raise Invalid(
            f"'{method}' is not a validated method for {source.value.replace('_', ' ')}. "
            f"Use one of: {', '.join(fits)}."
        )


def check_kind(kind: str, source: Source) -> None:
    """Refuse a derived kind that this source cannot yield (e.g. SVF from marrow)."""
    sources = KINDS.get(kind)
    if sources is None:
        raise Invalid(f"Unknown sample kind '{kind}'. Known: {', '.join(sorted(KINDS))}.")
    if source not in sources:
        raise Invalid(
            f"A {kind} sample cannot come from {source.value.replace('_', ' ')}."
        )


def methods_by_source() -> dict[str, tuple[str, ...]]:
    """Source -> the processing methods validated for it (what a form offers)."""
    return {s.value: tuple(sorted(m for m, fits in METHODS.items() if s in fits))
            for s in Source}
