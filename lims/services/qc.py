"""QC results and their approval by QA."""

from __future__ import annotations

from lims.db import queries
from lims.db.tables import QcResult, Sample
from lims.domain import permissions, states, vocabulary
from lims.domain.checks import QcOutcome, checked
from lims.domain.errors import Conflict, Invalid
from lims.domain.states import Meaning
from lims.services import audit, signatures
from lims.services.context import Context
from lims.services.samples import SignatureInput

RESULTS = vocabulary.QC_RESULTS


@checked
def record_qc(ctx: Context, sample_id: str, *, test: str, result: QcOutcome, value: float | None,
              unit: str | None, specification: str | None) -> QcResult:
    permissions.require(ctx.actor.roles, "record_qc")
    sample = queries.get(ctx.session, Sample, sample_id)
    if result not in RESULTS:
        raise Invalid(f"QC result must be one of {', '.join(RESULTS)}.")
    qc = QcResult(sample_id=sample.id, test=test, value=value, unit=unit,
                  specification=specification, result=result, recorded_by=ctx.actor.id,
                  recorded_at=ctx.now)
    ctx.session.add(qc)
    ctx.session.flush()
    audit.record(ctx, "qc_recorded", "sample", sample.id, after={
        "qc_id": qc.id, "test": test, "value": value, "unit": unit,
        "specification": specification, "result": result})
    return qc


def approve_qc(ctx: Context, sample_id: str, qc_id: str, signature: SignatureInput) -> QcResult:
    """QA approves a QC result with an electronic signature (meaning 'approved')."""
    permissions.require(ctx.actor.roles, "approve_qc")
    qc = queries.get(ctx.session, QcResult, qc_id)
    if qc.sample_id != sample_id:
        raise Invalid("This QC result belongs to another sample.")
    if qc.result == "pending":
        raise Conflict("A pending QC result cannot be approved: record the outcome first.")
    states.check_meaning("a QC approval", signature.meaning, frozenset({Meaning.approved}))
    signatures.check_password(ctx, signature.password)
    entry = audit.record(ctx, "qc_approved", "qc_result", qc.id, after={
        "sample_id": sample_id, "test": qc.test, "value": qc.value, "unit": qc.unit,
        "specification": qc.specification, "result": qc.result})
    signatures.sign(ctx, entry, signature.meaning)
    return qc
