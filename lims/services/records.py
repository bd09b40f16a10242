"""What is recorded about one sample, as people and systems read it: its event history
with signatures, QC results with their approvals, processing steps, excursions, and its
family for the lineage. The API and the sample page both read from here."""

from __future__ import annotations

from dataclasses import dataclass

from lims.db import queries
from lims.db.tables import (
    Collection,
    Donor,
    Excursion,
    ProcessingStep,
    QcResult,
    Sample,
    SampleTransition,
    Signature,
)
from lims.services.context import Context


def sample(ctx: Context, sample_id: str) -> Sample:
    """The sample, or NotFound (404) in words."""
    return queries.get(ctx.session, Sample, sample_id)


def history(ctx: Context, sample_id: str) -> list[tuple[SampleTransition, Signature | None]]:
    """Every applied event, oldest first, each with its electronic signature if signed."""
    sample(ctx, sample_id)
    transitions = queries.transitions_of(ctx.session, sample_id)
    sigs = queries.signatures_by_id(
        ctx.session, [t.signature_id for t in transitions if t.signature_id])
    return [(t, sigs.get(t.signature_id) if t.signature_id else None) for t in transitions]


def qc_results(ctx: Context, sample_id: str) -> list[tuple[QcResult, list[Signature]]]:
    """QC results, each with its QA approvals."""
    sample(ctx, sample_id)
    results = queries.qc_of(ctx.session, sample_id)
    sigs = queries.signatures_of(ctx.session, [q.id for q in results])
    return [(q, sigs.get(q.id, [])) for q in results]


def approvals(ctx: Context, qc_id: str) -> list[Signature]:
    return queries.signatures_of(ctx.session, [qc_id]).get(qc_id, [])


def steps(ctx: Context, sample_id: str) -> list[ProcessingStep]:
    """Isolation and processing steps: method, parameters, operator, times, results."""
    sample(ctx, sample_id)
    return queries.steps_of(ctx.session, sample_id)


def excursions(ctx: Context, sample_id: str) -> list[Excursion]:
    sample(ctx, sample_id)
    return queries.excursions_of(ctx.session, sample_id)


@dataclass(frozen=True)
class Family:
    """A sample with where it came from and every sample of its collection."""

    sample: Sample
    donor: Donor
    collection: Collection
    members: list[Sample]


def family(ctx: Context, sample_id: str) -> Family:
    s = sample(ctx, sample_id)
    return Family(s, queries.get(ctx.session, Donor, s.donor_id),
                  queries.get(ctx.session, Collection, s.collection_id),
                  queries.samples_where(ctx.session, collection_id=s.collection_id))
