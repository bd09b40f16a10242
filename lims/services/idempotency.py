"""Idempotency-Key: the same request sent twice applies once and answers the same."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lims.db import lookup, writes
from lims.db.tables import IdempotencyRecord
from lims.domain import audit as hashing
from lims.domain.errors import Invalid
from lims.services.context import Context


@dataclass
class Claim:
    record: IdempotencyRecord
    answer: dict[str, Any] | None  # set when this is a replay


def claim(ctx: Context, key: str, request: Any) -> Claim:
    """Claim `key` for this request, or find the answer stored for it.

    The key row is inserted before the action, in the same transaction: a concurrent
    duplicate waits on the unique index (PostgreSQL) or on the write lock (SQLite) and then
    finds the stored answer instead of acting a second time. If the action fails, the
    transaction (and the claim with it) is rolled back.
    """
    if not key or len(key) > 200:
        raise Invalid("Idempotency-Key must have 1 to 200 characters.",
                      errors=[{"field": "header.Idempotency-Key", "message": "1-200 characters"}])
    digest = hashlib.sha256(hashing.canonical(request)).hexdigest()
    stored = lookup.idempotency_record(ctx.session, ctx.actor.id, key)
    if stored is None:
        record = IdempotencyRecord(actor_id=ctx.actor.id, key=key, request_hash=digest,
                                   status_code=0, created_at=ctx.now)
        if writes.insert_unless_duplicate(ctx.session, record):
            return Claim(record, None)
        stored = lookup.idempotency_record(ctx.session, ctx.actor.id, key)
    assert stored is not None
    if stored.request_hash != digest:
        raise Invalid("This Idempotency-Key was already used for a different request: "
                      "use a new key for a new action.",
                      errors=[{"field": "header.Idempotency-Key", "message": "already used"}])
    return Claim(stored, stored.response)


def store(ctx: Context, claim: Claim, answer: dict[str, Any]) -> None:
    """Keep the answer with the key, in the transaction of the write it answers."""
    claim.record.status_code = answer["status"]
    claim.record.response = answer
    ctx.session.add(claim.record)


def run(ctx: Context, key: str | None, request: Any,
        action: Callable[[], Any]) -> tuple[Any, bool]:
    """For callers outside the HTTP contract (the pages): run `action` once per key and
    return (answer, replayed). The API routes get the same through lims/api/contract.py."""
    if not key:
        return action(), False
    held = claim(ctx, key, request)
    if held.answer is not None:
        return held.answer["body"], True
    answer = hashing.jsonable(action())  # the first answer reads as every replay will
    store(ctx, held, {"status": 200, "body": answer})
    return answer, False
