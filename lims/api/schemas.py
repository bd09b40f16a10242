"""Request and response bodies of the public API (what other systems integrate with)."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    WithJsonSchema,
    create_model,
    model_validator,
)

from lims.domain import clock, sources, vocabulary, workflow
from lims.domain.errors import DomainError
from lims.domain.eventdata import DataField, leaves
from lims.domain.states import Meaning, Use


def _plausible(when: datetime) -> datetime:
    try:
        return clock.plausible(when, "time")
    except DomainError as exc:  # pydantic turns ValueError into a 422 naming the field
        raise ValueError(exc.detail) from None


def _finite(value: Any) -> Any:
    """Free-form data (parameters, results) must not smuggle in NaN or Infinity."""
    if any(isinstance(v, float) and not math.isfinite(v) for v in leaves(value)):
        raise ValueError("NaN and Infinity are not quantities a lab records")
    return value


def _not_bool(value: Any) -> Any:
    """true is not a measured value."""
    if isinstance(value, bool):
        raise ValueError("a number, not true or false")
    return value


def _text(value: Any) -> Any:
    """A time is written as ISO 8601 text, never as a number of seconds."""
    if isinstance(value, datetime) or (isinstance(value, str) and re.match(
            r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]", value)):
        return value
    raise ValueError("write the time as ISO 8601 text, e.g. 2026-03-04T09:15:00+01:00")


# An aware time in the years a lab record can hold (see lims/domain/clock.py).
Instant = Annotated[AwareDatetime, BeforeValidator(_text), AfterValidator(_plausible),
                    WithJsonSchema({"type": "string", "format": "date-time",
                                    "pattern": clock.YEAR_PATTERN,
                                    "description": "ISO 8601 with its zone, "
                                    f"years {clock.EARLIEST_YEAR}-{clock.LATEST_YEAR}"})]
FreeData = Annotated[dict[str, Any], AfterValidator(_finite)]

# The vocabularies come from the domain, never restated here.
Source = sources.Source
Scope = Use
AboRh = Literal[vocabulary.ABO_RH]  # type: ignore[valid-type]


class FieldError(BaseModel):
    field: str = Field(description="A body field (e.g. containers.0.volume_ml), or "
                                   "query.<name> or header.<name>", examples=["volume_ml"])
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, with what a program needs to react."""

    type: str
    title: str
    status: int
    detail: str = Field(description="What went wrong, in words a technician can act on")
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = Field(
        default=None, description="422: each refused field or parameter")
    allowed_events: list[str] | None = Field(
        default=None, description="409 for an illegal step: the events allowed now")
    blocked_by: list[str] | None = Field(
        default=None, description="409 for a step blocked by a rule: the rules that block it")
    current_version: int | None = Field(
        default=None, description="412: the record's version now (its ETag)")
    results: list[dict[str, Any]] | None = Field(
        default=None, description="409 for a refused batch or file: the result of each item")


class In(BaseModel):
    """Request bodies: NaN and Infinity are not quantities a lab measures, and a NUL
    character is never text (PostgreSQL cannot even store it)."""

    model_config = ConfigDict(allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        # Only what the body declares: an undeclared key is ignored, whatever it holds.
        declared = ({k: v for k, v in data.items() if k in cls.model_fields}
                    if isinstance(data, dict) else data)
        if any(isinstance(v, str) and "\x00" in v for v in leaves(declared)):
            raise ValueError("text must not contain a NUL character (a scanner or copy glitch)")
        return data


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class DonorIn(In):
    code: str = Field(min_length=2, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                      examples=["CB-2026-0412"], description="Pseudonymous donor code")
    donor_type: Literal["autologous", "allogeneic"]
    related: bool = False
    eligibility: Literal["pending", "eligible", "ineligible"] = "pending"
    abo_rh: AboRh | None = Field(default=None, description="ABO/Rh where typed")


class BloodGroupIn(In):
    abo_rh: AboRh = Field(examples=["A Neg"])
    reason: str | None = Field(default=None, max_length=500,
                               description="Needed when it corrects an earlier typing")


class EligibilityIn(In):
    eligibility: Literal["pending", "eligible", "ineligible"]
    note: str | None = Field(default=None, max_length=500)


class ConsentIn(In):
    form_version: str = Field(min_length=1, max_length=40)
    scopes: list[Scope] = Field(min_length=1)
    obtained_at: Instant
    obtained_by: str = Field(min_length=1, max_length=120)


class WithdrawIn(In):
    scopes: list[Scope] | None = Field(default=None, description="Omit to withdraw all")
    reason: str = Field(min_length=1, max_length=500)


class ConsentOut(Out):
    id: str
    form_version: str
    scopes: list[str]
    withdrawn_scopes: list[str]
    obtained_at: datetime
    obtained_by: str
    withdrawn_at: datetime | None
    withdrawal_reason: str | None


class DonorOut(Out):
    id: str
    code: str
    donor_type: str
    related: bool
    eligibility: str
    eligibility_note: str | None
    abo_rh: str | None = None
    version: int
    created_at: datetime
    updated_at: datetime
    active_consent_scopes: list[str] = []
    consents: list[ConsentOut] = []


class ContainerIn(In):
    kind: str = Field(examples=["cord_blood", "maternal_sample"])
    volume_ml: float = Field(gt=0, le=5000)


class CollectionIn(In):
    donor_id: str
    source: Source
    site: str = Field(min_length=1, max_length=120)
    started_at: Instant
    ended_at: Instant
    local_timezone: str | None = Field(default=None, examples=["Europe/Berlin"])
    volume_ml: float = Field(gt=0, le=5000)
    anticoagulant: str = Field(min_length=1, max_length=60, examples=["CPD", "heparin"])
    collector: str = Field(min_length=1, max_length=120)
    containers: list[ContainerIn] | None = Field(default=None, max_length=20)
    external_ref: str | None = Field(default=None, max_length=80,
                                     description="The requesting system's order number")


class SampleOut(Out):
    id: str
    code: str
    din: str | None = None
    collection_id: str
    donor_id: str
    parent_id: str | None
    source: str
    kind: str
    product_code: str
    division: str
    state: str
    on_hold: bool
    hold_reason: str | None
    volume_ml: float
    initial_volume_ml: float
    cell_count: float | None
    viability_pct: float | None
    passage: int | None
    location_id: str | None
    position: int | None
    processing_due_at: datetime | None
    expires_at: datetime | None
    overdue: bool = False
    expired: bool = False
    consent_withdrawn: list[str] = Field(default_factory=list,
                                         description="Consent scopes the donor withdrew")
    recipient_id: str | None = None
    intended_use: str | None = None
    distributed_to: str | None = None
    custodian: str | None = None
    external_ref: str | None = Field(default=None, description="The creator's own reference")
    version: int
    created_at: datetime
    updated_at: datetime
    allowed_events: list[str] = []
    # The card (GET /samples/{id}) adds what a person reads off the label and the bench.
    identifier: str | None = Field(default=None, description="DIN as printed, without flags")
    check: str | None = Field(default=None, description="ISBT 128 check character")
    product: str | None = Field(default=None, description="Product name")
    donor_code: str | None = None
    location: str | None = Field(default=None, description="Storage path and position")
    warnings: list[str] | None = Field(default=None, description="Warnings in words")


class CollectionOut(Out):
    id: str
    din: str
    donor_id: str
    source: str
    site: str
    started_at: datetime
    ended_at: datetime
    local_timezone: str
    volume_ml: float
    anticoagulant: str
    collector: str
    external_ref: str | None
    created_at: datetime
    samples: list[SampleOut] = []


class SignatureIn(In):
    password: str = Field(min_length=1, description="Re-enter your password to sign")
    meaning: Meaning = Field(description="What the signature means; each event allows "
                                         "its own meanings (GET /workflow)")


def _iso_text(value: str) -> str:
    """An event's time field: ISO 8601 with its zone, kept as the text sent."""
    try:
        when = datetime.fromisoformat(_text(value))
    except (ValueError, TypeError):
        raise ValueError("a date and time, ISO 8601 with its zone") from None
    _plausible(when)
    return value


def _field_type(f: DataField) -> Any:
    """The JSON type of a declared event field. Strict: true is not a number."""
    if f.type == "number":
        return Annotated[float, Strict()]
    if f.type in ("integer", "position"):
        return Annotated[int, Strict()]
    if f.type == "choice":
        return Literal[tuple(f.choices)]
    if f.type == "object":
        return dict[str, Any]
    if f.type == "datetime":
        return Annotated[str, Strict(), AfterValidator(_iso_text)]
    return Annotated[str, Strict()]


def _describe(f: DataField) -> str:
    text = f.label + (f" ({f.unit})" if f.unit else "")
    if f.choices_by_source:
        text += ". Allowed per source: " + "; ".join(
            f"{src}: {', '.join(c)}" for src, c in f.choices_by_source.items())
    if f.refers_to:
        text += f". The id of a {f.refers_to.replace('_', ' ')}"
    return text + ("" if f.required else ". Optional")


def _data_model(t: workflow.Transition) -> type[BaseModel]:
    """The data of one event, generated from its declaration in the workflow table. Keys it
    does not declare are refused by the service with the list of the keys it takes."""
    fields: dict[str, Any] = {
        f.name: (_field_type(f) | None, Field(
            default=None, description=_describe(f), ge=f.minimum, le=f.maximum,
            json_schema_extra={"format": "date-time"} if f.type == "datetime" else None))
        for f in t.fields}
    camel = "".join(w.title() for w in t.event.split("_"))
    return create_model(f"{camel}Data", __config__=ConfigDict(
        extra="allow", allow_inf_nan=False, json_schema_extra={"additionalProperties": False}),
        **fields)


class StepIn(In):
    """What every step body has; each event's own model narrows `event` and `data`."""

    event: str
    reason: str | None = None
    data: Any = None
    signature: SignatureIn | None = None


def _step_model(t: workflow.Transition) -> type[StepIn]:
    camel = "".join(w.title() for w in t.event.split("_"))
    data = _data_model(t)
    event: Any = Literal[t.event]
    return create_model(
        f"{camel}Step", __base__=StepIn, __doc__=t.description,
        event=(event, ...),
        reason=(str | None, Field(default=None, max_length=1000,
                                  description="Required" if t.needs_reason else "Optional")),
        data=(data, Field(default_factory=data)),
        signature=(SignatureIn | None, Field(
            default=None, description="Required: " + " or ".join(sorted(t.meanings))
            if t.needs_signature else "Optional")),
    )


# One request body per event, told apart by `event` (an internal one is refused with why).
STEP_MODELS = {t.event: _step_model(t) for t in workflow.TRANSITIONS}
if TYPE_CHECKING:
    TransitionIn = StepIn
else:
    TransitionIn = Annotated[Union[tuple(STEP_MODELS.values())],  # noqa: UP007
                             Field(discriminator="event")]


def step_data(body: Any) -> dict[str, Any]:
    """The data a step body carries, as the service takes it (undeclared keys included,
    so the service can name them)."""
    data = body.data
    return {**data.model_dump(exclude_unset=True), **(data.model_extra or {})}


class DerivativesIn(In):
    # Stated in the document too: an external_ref names one sample (count 1).
    model_config = ConfigDict(json_schema_extra={
        "if": {"required": ["external_ref"], "properties": {"external_ref": {"type": "string"}}},
        "then": {"properties": {"count": {"const": 1}}}})

    kind: str | None = Field(default=None, description="Omit for aliquots of the same kind")
    volume_ml: float = Field(ge=0.001, le=5000, description="Per child; 1 uL at the least")
    count: int = Field(default=1, ge=1, le=96)
    cell_count: float | None = Field(default=None, ge=0)
    viability_pct: float | None = Field(default=None, ge=0, le=100)
    external_ref: str | None = Field(
        default=None, min_length=1, max_length=80,
        description="Your own reference for the new sample (unique per account; count 1)")

    @model_validator(mode="after")
    def _one_ref_one_sample(self) -> DerivativesIn:
        if self.external_ref is not None and self.count != 1:
            raise ValueError("an external_ref names one sample: derive them one at a time")
        return self


class QcIn(In):
    test: str = Field(min_length=1, max_length=40, examples=["viability"])
    result: Literal["pass", "fail", "pending"]
    value: Annotated[float, BeforeValidator(_not_bool)] | None = None
    unit: str | None = Field(default=None, max_length=20)
    specification: str | None = Field(default=None, max_length=80, examples=[">= 70 %"])


class SignatureOut(Out):
    id: str
    signer_name: str
    meaning: str
    signed_at: datetime


class QcOut(Out):
    id: str
    test: str
    result: str
    value: float | None
    unit: str | None
    specification: str | None
    recorded_by: str
    recorded_at: datetime
    approvals: list[SignatureOut] = []


class ProcessingStepOut(Out):
    id: str
    method: str
    parameters: dict[str, Any]
    operator_id: str
    started_at: datetime
    ended_at: datetime | None
    results: dict[str, Any]
    deviation_reason: str | None


class TransitionOut(Out):
    id: str
    event: str
    from_state: str
    to_state: str
    actor_name: str
    reason: str | None
    deviation: bool
    data: dict[str, Any]
    at: datetime
    signature: SignatureOut | None = None


class Page(BaseModel):
    items: list[Any]
    next_cursor: str | None


class LocationIn(In):
    """A site is top level; a storage unit goes in a site, a rack in a storage unit, a box
    in a rack; only boxes have a grid (rows and cols)."""

    model_config = ConfigDict(json_schema_extra={"allOf": [
        {"if": {"properties": {"kind": {"const": "site"}}},
         "then": {"properties": {"parent_id": {"type": "null"}}},
         "else": {"required": ["parent_id"],
                  "properties": {"parent_id": {"type": "string", "minLength": 1}}}},
        {"if": {"properties": {"kind": {"const": "box"}}},
         "then": {"required": ["rows", "cols"], "properties": {
             "rows": {"type": "integer"}, "cols": {"type": "integer"}}},
         "else": {"properties": {"rows": {"type": "null"}, "cols": {"type": "null"}}}}]})

    parent_id: str | None = Field(default=None, min_length=1)
    kind: Literal["site", "storage_unit", "rack", "box"]
    name: str = Field(min_length=1, max_length=80)
    rows: int | None = Field(default=None, ge=1, le=26)
    cols: int | None = Field(default=None, ge=1, le=26)
    min_temp_c: float | None = None
    max_temp_c: float | None = None


class LocationOut(Out):
    id: str
    parent_id: str | None
    kind: str
    name: str
    path: str
    rows: int | None
    cols: int | None
    min_temp_c: float | None
    max_temp_c: float | None
