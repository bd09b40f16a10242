"""Schemathesis hooks for tests/contract/test_schemathesis.py.

A real client sends a new Idempotency-Key with each new request; schemathesis draws keys
at random and may send one key with two different requests, which the service rightly
refuses (422). Each case gets a fresh key of the same validity as the one drawn.
"""

from __future__ import annotations

import uuid

import schemathesis

KEY = "Idempotency-Key"


@schemathesis.hook
def before_call(context, case, kwargs) -> None:  # noqa: ANN001
    headers = case.headers or {}
    key = headers.get(KEY)
    if isinstance(key, str) and 1 <= len(key) <= 200 and "\x00" not in key:
        headers[KEY] = uuid.uuid4().hex
        case.headers = headers


# Problem types that mean "the request has the right shape but breaks a rule of the lab
# that depends on the records or on several fields together" (a collection that ends
# before it starts, a reprint without a reason, a consent scope the donor never gave).
# The document cannot state those; the problem names the rule. A refusal of the *shape*
# (problem type "validation": pydantic refused it) is never excused: that is a document
# that does not say what the service enforces.
LAB_RULE = ("invalid", "conflict", "illegal-transition", "guard-failed")


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:  # noqa: ANN001
    if getattr(failure, "code", None) != "ST202":
        return True
    if response.status_code == 412 and (case.headers or {}).get("If-Match"):
        return False  # a guessed If-Match is stale: the precondition did its job
    if response.status_code != 422:
        return True
    try:
        kind = response.json().get("type", "")
    except ValueError:
        return True
    return kind.rsplit("/", 1)[-1] not in LAB_RULE
