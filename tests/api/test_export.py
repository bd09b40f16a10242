"""`lims audit export` JSON Lines verify offline; a tampered line is named."""

from __future__ import annotations

import io
import json

from lims.db.engine import unit_of_work
from lims.domain.audit import verify_export
from lims.services import audit
from lims.services.context import SYSTEM, Context
from tests.api.helpers import primary, step


def _export(engine, settings) -> list[str]:
    buf = io.StringIO()
    with unit_of_work(engine) as s:
        ctx = Context(session=s, actor=SYSTEM, settings=settings)
        audit.checkpoint(ctx)
        audit.export(ctx, buf)
    return buf.getvalue().splitlines()


def test_export_verifies_offline_including_signatures(api, engine, settings):
    s = primary(api)
    step(api, s["id"], "reject", reason="warm on arrival",
         signature={"password": "correct-horse-42", "meaning": "performed"})
    lines = _export(engine, settings)
    kinds = [json.loads(x)["kind"] for x in lines]
    assert {"entry", "checkpoint", "signature"} <= set(kinds)
    assert verify_export(lines) is None

    # A signature moved onto another record is caught offline too.
    moved = [json.loads(x) for x in lines]
    sig = next(r for r in moved if r["kind"] == "signature")
    sig["entity_id"] = "someone-else"
    broken = verify_export(json.dumps(r) for r in moved)
    assert broken is not None and broken.chain == f"signature:{sig['id']}"

    # An edited entry is named by id.
    edited = [json.loads(x) for x in lines]
    entry = next(r for r in edited if r["kind"] == "entry" and r["reason"] == "warm on arrival")
    entry["reason"] = "all fine"
    broken = verify_export(json.dumps(r) for r in edited)
    assert broken is not None and broken.entry_id == entry["id"]
