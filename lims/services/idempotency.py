"""Idempotency-Key: the same request sent twice applies once and answers the same."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from lims.db import idempotency as stored_answers
from lims.db.tables import IdempotencyRecord
from lims.domain import audit as hashing
from lims.domain.errors import Invalid
from lims.services.context import Context


def run(ctx: Context, key: str | None, request: Any,
        action: Callable[[], Any]) -> tuple[Any, bool]:
    """Run `action` once per (actor, key). Returns (answer, replayed).

    The key row is inserted before the action, in the same transaction: a concurrent
    duplicate waits on the unique index (PostgreSQL) or on the write lock (SQLite) and then
    finds the stored answer instead of acting a second time.
    """
    if not key:
        return action(), False
    if len(key) > 200:
        raise Invalid("Idempotency-Key is too long (200 characters at most).")
    digest = hashlib.sha256(hashing.canonical(request)).hexdigest()
    stored = _find(ctx, key)
    if stored is None:
        record = IdempotencyRecord(actor_id=ctx.actor.id, key=key, request_hash=digest,
                                   status_code=0, created_at=ctx.now)
        if not stored_answers.claim(ctx.session, record):
            stored = _find(ctx, key)
        else:
            # The first answer reads exactly as every replay of it will.
            answer = hashing.jsonable(action())
            record.status_code, record.response = 200, {"body": answer}
            ctx.session.add(record)
            return answer, False
    assert stored is not None
    if stored.request_hash != digest:
        raise Invalid("This Idempotency-Key was already used for a different request: "
                      "use a new key for a new action.")
    return stored.response["body"], True


def _find(ctx: Context, key: str) -> IdempotencyRecord | None:
    return stored_answers.find(ctx.session, ctx.actor.id, key)
