"""Bulk exchange with other systems: CSV export of sample lists (streamed), CSV import of
collections with a report per row, and one event applied to many samples."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from lims.config import Settings
from lims.db import lookup, queries, writes
from lims.db.engine import Engine, unit_of_work
from lims.db.lookup import SampleFilter
from lims.domain import permissions
from lims.domain.errors import Conflict, DomainError, Invalid
from lims.services import collections, samples, signatures, views
from lims.services.context import Actor, Context

# The columns of a sample export: the list view, in an order a spreadsheet reader expects.
EXPORT_COLUMNS = ("code", "din", "id", "external_ref", "state", "source", "kind",
                  "product_code", "division", "on_hold", "hold_reason", "volume_ml",
                  "initial_volume_ml", "cell_count", "viability_pct", "passage",
                  "collection_id", "donor_id", "parent_id", "location_id", "position",
                  "custodian", "processing_due_at", "expires_at", "overdue", "expired",
                  "consent_withdrawn", "version", "created_at", "updated_at")
# The columns of a collection import; external_ref makes each row idempotent.
IMPORT_COLUMNS = ("external_ref", "donor_code", "source", "site", "started_at", "ended_at",
                  "volume_ml", "anticoagulant", "collector", "local_timezone")
REQUIRED = frozenset(IMPORT_COLUMNS) - {"local_timezone"}
# The header as the document states it (the service also takes the columns in any order).
HEADER_PATTERN = ("^\ufeff?" + ",".join(IMPORT_COLUMNS[:-1])
                  + "(,local_timezone)?\r?\n[^\x00]*$")
MAX_ROWS = 1000


class BulkRefused(Conflict):
    title = "Nothing was applied"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    # A cell starting like a formula would run in a spreadsheet (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def export_samples(engine: Engine, actor: Actor, settings: Settings,
                   f: SampleFilter) -> Iterator[str]:
    """The filtered sample list as CSV lines, read page by page in a transaction of its
    own (the request's has ended when the body streams): memory holds one page."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")

    def flush() -> str:
        text = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return text

    out.writerow(EXPORT_COLUMNS)
    yield flush()
    with unit_of_work(engine) as session:
        ctx = Context(session=session, actor=actor, settings=settings)
        for page in lookup.samples_streamed(session, f, ctx.now):
            for row in views.rows(ctx, page):
                out.writerow([_cell(row.get(c)) for c in EXPORT_COLUMNS])
            yield flush()


@dataclass(frozen=True)
class RowReport:
    row: int  # line number in the file, header = 1
    external_ref: str | None
    outcome: str  # created | exists | failed | not_applied
    collection_id: str | None = None
    din: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _parse_row(raw: dict[str, str]) -> dict[str, Any]:
    missing = sorted(c for c in REQUIRED if not (raw.get(c) or "").strip())
    if missing:
        raise Invalid(f"Missing {', '.join(missing)}.")
    fields: dict[str, Any] = {c: raw[c].strip() for c in IMPORT_COLUMNS if raw.get(c)}
    for c in ("started_at", "ended_at"):
        try:
            when = datetime.fromisoformat(fields[c])
        except ValueError:
            raise Invalid(f"{c} '{fields[c]}' is not a date and time (ISO 8601, e.g. "
                          "2026-03-04T09:15:00+01:00).") from None
        if when.tzinfo is None:
            raise Invalid(f"{c} '{fields[c]}' has no time zone: add e.g. +01:00 or Z.")
        fields[c] = when
    try:
        fields["volume_ml"] = float(fields["volume_ml"])
    except ValueError:
        raise Invalid(f"volume_ml '{fields['volume_ml']}' is not a number.") from None
    if not 0 < fields["volume_ml"] <= 5000:
        raise Invalid("volume_ml must be above 0 and at most 5000 mL.")
    for c, longest in (("external_ref", 80), ("site", 120), ("collector", 120),
                       ("anticoagulant", 60), ("local_timezone", 60)):
        if len(fields.get(c, "")) > longest:
            raise Invalid(f"{c} is longer than {longest} characters.")
    return fields


def read_csv(text: str) -> list[dict[str, str]]:
    """The rows of an import file; the header must name the import columns."""
    if "\x00" in text:
        raise Invalid("The file contains a NUL character: export it again as CSV text.")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = reader.fieldnames or []
        rows = list(reader)
    except csv.Error as exc:
        raise Invalid(f"The file is not readable CSV ({exc}).") from None
    unknown = sorted(set(header) - set(IMPORT_COLUMNS))
    missing = sorted(REQUIRED - set(header))
    if unknown or missing:
        raise Invalid("The CSV header must name the columns " + ", ".join(IMPORT_COLUMNS)
                      + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                      + (f"; missing: {', '.join(missing)}" if missing else "") + ".")
    if len(rows) > MAX_ROWS:
        raise Invalid(f"At most {MAX_ROWS} rows per file: split it.")
    return rows


def import_collections(ctx: Context, text: str, mode: str) -> list[dict[str, Any]]:
    """Record one collection per row. A row whose external_ref you already imported is
    reported as `exists` and not recorded again, so a file can be sent twice.
    best_effort: every good row is recorded, bad rows reported; all_or_nothing: one bad
    row refuses the file (409 with the report) and nothing is recorded."""
    permissions.require(ctx.actor.roles, "record_collection")
    reports: list[RowReport] = []
    for number, raw in enumerate(read_csv(text), start=2):
        ref = (raw.get("external_ref") or "").strip() or None
        try:
            with writes.savepoint(ctx.session):
                reports.append(_import_row(ctx, number, raw))
        except DomainError as exc:
            reports.append(RowReport(number, ref, "failed", detail=exc.detail))
    return _settle(reports, mode, "rows", lambda r: r.outcome == "failed",
                   lambda r: replace(r, outcome="not_applied") if r.outcome == "created" else r)


def _import_row(ctx: Context, number: int, raw: dict[str, str]) -> RowReport:
    fields = _parse_row(raw)
    ref = fields["external_ref"]
    existing = lookup.collection_by_external_ref(ctx.session, ctx.actor.id, ref)
    if existing is not None:
        return RowReport(number, ref, "exists", existing.id, existing.din)
    donor = queries.donor_by_code(ctx.session, fields.pop("donor_code"))
    if donor is None:
        raise Invalid(f"No donor with code {raw['donor_code'].strip()}: register the donor "
                      "first.")
    collection, _ = collections.create_collection(
        ctx, donor, local_timezone=fields.pop("local_timezone", None), **fields)
    return RowReport(number, ref, "created", collection.id, collection.din)


def _settle(reports: list[Any], mode: str, what: str, failed: Callable[[Any], bool],
            undone: Callable[[Any], Any]) -> list[dict[str, Any]]:
    """All-or-nothing: any failure refuses everything, with the report of every item."""
    bad = [r for r in reports if failed(r)]
    if bad and mode == "all_or_nothing":
        report = [undone(r).as_dict() for r in reports]
        raise BulkRefused(
            f"{len(bad)} of {len(reports)} {what} cannot be applied, so none was: "
            + "; ".join(f"{what[:-1]} {r.row}: {r.detail}" for r in bad[:5]), results=report)
    return [r.as_dict() for r in reports]


@dataclass(frozen=True)
class Step:
    sample_id: str
    event: str
    reason: str | None = None
    data: dict[str, Any] | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class StepReport:
    row: int  # position in the request, from 1
    sample_id: str
    outcome: str  # applied | failed | not_applied
    state: str | None = None
    version: int | None = None
    status: int | None = None
    detail: str | None = None
    allowed_events: list[str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def bulk_transition(ctx: Context, steps: list[Step], mode: str,
                    signature: samples.SignatureInput | None,
                    status_of: Callable[[DomainError], int]) -> list[dict[str, Any]]:
    """Apply each step in its own savepoint, with a result per item (the status it would
    have had alone). One password check for the whole request."""
    if signature is not None:
        signatures.check_password(ctx, signature.password)
        signature = replace(signature, verified=True)
    seen: set[str] = set()
    reports: list[StepReport] = []
    for i, step in enumerate(steps, start=1):
        try:
            if step.sample_id in seen:
                raise Invalid("This sample is already in this request: list each sample once.")
            seen.add(step.sample_id)
            with writes.savepoint(ctx.session):
                s = samples.apply_event(ctx, step.sample_id, step.event, reason=step.reason,
                                        data=step.data or {},
                                        expected_version=step.expected_version,
                                        signature=signature)
            reports.append(StepReport(i, step.sample_id, "applied", s.state, s.version))
        except DomainError as exc:
            allowed = exc.extra.get("allowed_events")
            reports.append(StepReport(i, step.sample_id, "failed", status=status_of(exc),
                                      detail=exc.detail, allowed_events=[
                                          str(e) for e in allowed] if isinstance(
                                          allowed, list | tuple) else None))
    return _settle(reports, mode, "items", lambda r: r.outcome == "failed",
                   lambda r: replace(r, outcome="not_applied", state=None, version=None)
                   if r.outcome == "applied" else r)
