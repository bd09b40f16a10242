"""The bench: resolve what a scanner typed to a sample card, act on scans, whole boxes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from lims.db import cards, queries
from lims.db import dashboard as stations_db
from lims.db.tables import Donor, Sample, Scan
from lims.domain import isbt, permissions, workflow
from lims.domain.checks import PageSize, checked
from lims.domain.errors import Conflict, DomainError, Invalid, NotFound
from lims.services import samples, signatures, views
from lims.services.context import Context


def record_scan(ctx: Context, payload: str, station: str) -> Scan:
    """'Seen at station': what was scanned, where, by whom, when."""
    scan = Scan(station=station[:60], payload=payload[:200], user_id=ctx.actor.id, at=ctx.now)
    ctx.session.add(scan)
    return scan


def _seen(ctx: Context, payload: str, station: str, sample_id: str | None) -> Scan:
    scan = record_scan(ctx, payload, station)
    scan.sample_id = sample_id
    return scan


def resolve(ctx: Context, payload: str, station: str) -> Sample:
    """Find the sample a scan names, and record the scan (an unknown code too)."""
    return _resolve(ctx, payload, station).sample


def resolve_card(ctx: Context, payload: str, station: str) -> dict[str, Any]:
    """The card of the sample a scan names (the scan recorded as in `resolve`)."""
    found = _resolve(ctx, payload, station)
    return views.card(ctx, found.sample, found)


def _resolve(ctx: Context, payload: str, station: str) -> cards.Origin:
    permissions.require(ctx.actor.roles, "scan")
    try:
        found = _lookup(ctx, payload)
    except DomainError as exc:
        raise exc.keeping(lambda: record_scan(ctx, payload, station)) from None
    record_scan(ctx, payload, station).sample_id = found.sample.id
    return found


def _lookup(ctx: Context, payload: str) -> cards.Origin:
    try:
        code = isbt.parse_scan(payload)
    except isbt.InvalidCode as exc:
        raise Invalid(str(exc)) from None
    found = cards.origins_by_identity(ctx.session, code.din, code.product_code,
                                      code.division)
    if not found:
        human = f"{isbt.human_din(code.din)} [{code.check}]"
        raise NotFound(
            f"No sample with the label {human}"
            + (f" product {code.product_code} division {code.division}"
               if code.product_code else "")
            + " is registered here. Check that the tube belongs to this lab, or register "
              "the collection first.")
    if len(found) > 1:
        raise Conflict(
            f"The donation {isbt.human_din(code.din)} has {len(found)} containers: scan the "
            "full container label (with product code), not the DIN alone.",
            candidates=[o.sample.code for o in found])
    return found[0]


class BatchRefused(Conflict):
    title = "Batch refused: nothing was applied"


def batch(ctx: Context, payloads: list[str], station: str, event: str, *, mode: str,
          reason: str | None, data: dict[str, Any], expected_donor_id: str | None,
          signature: samples.SignatureInput | None) -> list[dict[str, Any]]:
    """Apply one event to every scanned tube. Best-effort: each tube in its own savepoint,
    failures reported per tube. All-or-nothing: any failure refuses the whole batch.
    For `cryopreserve` into a box without explicit positions, the n-th tube scanned goes
    to position n."""
    permissions.require(ctx.actor.roles, "scan")
    workflow.transition(event)  # unknown event: refuse before touching anything
    positions = data.get("positions")
    if positions is not None and (
            not isinstance(positions, list) or len(positions) != len(payloads)
            or not all(isinstance(p, int) and not isinstance(p, bool) for p in positions)):
        raise Invalid("'positions' must list one position number per scanned tube.")
    if signature is not None:  # one password check for the whole box, not one per tube
        signatures.check_password(ctx, signature.password)
        signature = replace(signature, verified=True)
    seen: set[str] = set()  # sample ids: the same tube typed two ways is still one tube
    sightings: list[tuple[str, str | None]] = []  # (payload, sample id) to keep if refused
    results: list[dict[str, Any]] = []
    for i, payload in enumerate(payloads):
        tube_data = {k: v for k, v in data.items() if k != "positions"}
        if event == "cryopreserve" and "box_id" in data and "position" not in data:
            tube_data["position"] = positions[i] if positions else i + 1
        scan = record_scan(ctx, payload, station)  # seen, whatever happens to the tube
        found: str | None = None
        savepoint = ctx.session.begin_nested()
        try:
            s = _lookup(ctx, payload).sample
            found = scan.sample_id = s.id
            if s.id in seen:
                raise Invalid("This tube was already scanned in this batch: scan each tube once.")
            seen.add(s.id)
            if expected_donor_id and s.donor_id != expected_donor_id:
                donor = queries.get(ctx.session, Donor, s.donor_id)
                raise Conflict(f"This tube belongs to donor {donor.code}, not to the donor of "
                               "this batch: put it aside and check the label.")
            s = samples.apply_event(ctx, s.id, event, reason=reason, data=tube_data,
                                    signature=signature)
            savepoint.commit()
            results.append({"index": i, "payload": payload, "ok": True, "code": s.code,
                            "state": s.state})
        except DomainError as exc:
            savepoint.rollback()
            scan.sample_id = found  # the rollback undid it: a refused tube was still seen
            results.append({"index": i, "payload": payload, "ok": False,
                            "error": exc.title, "detail": exc.detail})
        sightings.append((payload, found))
    failed = [r for r in results if not r["ok"]]
    if failed and mode == "all_or_nothing":
        raise BatchRefused(
            f"{len(failed)} of {len(results)} tubes cannot be processed, so none was: "
            + "; ".join(f"tube {r['index'] + 1}: {r['detail']}" for r in failed[:5]),
            results=results,
        ).keeping(lambda: [_seen(ctx, p, station, sid) for p, sid in sightings])
    return results


def recent(ctx: Context, station: str) -> list[tuple[Scan, str | None]]:
    """The last scans at a station, newest first, with the sample code each resolved to."""
    return stations_db.recent_scans(ctx.session, station)


def stations(ctx: Context) -> list[tuple[str, datetime, int]]:
    """Every station that scanned something: name, last scan, number of scans."""
    return stations_db.stations(ctx.session)



@checked
def scans(ctx: Context, cursor: str | None, limit: PageSize, *, station: str | None,
          sample_id: str | None) -> tuple[list[Scan], str | None]:
    """What was seen where: every scan, oldest first, resolved or not."""
    return queries.scans_page(ctx.session, cursor, limit, station=station, sample_id=sample_id)
