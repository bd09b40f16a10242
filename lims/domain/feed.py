"""The event feed and webhooks, as rules: event type names, type filters, cursors, what an
event may not carry, webhook signatures and the retry schedule. Pure: no clock, no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lims.domain.errors import Invalid

# Audit entries that are not changes to a record: sign-ins (and failed sign-ins) stay in
# the audit trail and out of the feed.
NOT_PUBLISHED = frozenset({"login"})

# Keys whose values never leave the server in an event, at any depth. The services already
# keep passwords and secrets out of what they audit; this is the second lock on the door.
SECRET_KEYS = re.compile(r"password|secret|token|key_hash|api_key|prefix|signature_binding",
                         re.IGNORECASE)

_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.([a-z][a-z0-9_]*|\*))?$")
MAX_TYPES = 50


def event_type(entity_type: str, action: str) -> str:
    """`sample` + `event:release` -> `sample.release`; `donor` + `donor_registered` ->
    `donor.registered`; `sample` + `custody_handed_over` -> `sample.custody_handed_over`."""
    verb = action.removeprefix("event:").removeprefix(f"{entity_type}_")
    return f"{entity_type}.{verb}"


def check_types(raw: Iterable[str]) -> tuple[str, ...]:
    """Event type filters as given (repeated or comma separated): `sample.release`,
    `sample.*` (every sample event) or `*`. Refuses what can never match, naming it."""
    types: list[str] = []
    for part in (p.strip() for value in raw for p in value.split(",")):
        if not part:
            continue
        if part != "*" and not _TYPE.match(part):
            raise Invalid(f"'{part}' is not an event type. Use names like sample.release, "
                          "sample.* for every sample event, or * for all.", field="types")
        if part not in types:
            types.append(part)
    if len(types) > MAX_TYPES:
        raise Invalid(f"At most {MAX_TYPES} event types at once.", field="types")
    return tuple(types)


def matches(type_: str, patterns: Sequence[str]) -> bool:
    """Whether an event type is selected by the filters (no filter selects everything)."""
    if not patterns or "*" in patterns:
        return True
    return any(type_ == p or (p.endswith(".*") and type_.startswith(p[:-1]))
               for p in patterns)


def parse_cursor(raw: str | None, name: str = "after") -> int:
    """A feed cursor is the position of the last event read ("0" or none: from the start)."""
    if raw is None or raw == "":
        return 0
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise Invalid(f"'{name}' must be a cursor from this feed (the `cursor` of an event or "
                      f"the `next_cursor` of a page), e.g. {name}=1042; got {raw[:40]!r}.",
                      field=name)
    return int(raw)


def without_secrets(value: Any) -> Any:
    """A copy of `value` without any key that names a password, token or key."""
    if isinstance(value, Mapping):
        return {k: without_secrets(v) for k, v in value.items()
                if not SECRET_KEYS.search(str(k))}
    if isinstance(value, list | tuple):
        return [without_secrets(v) for v in value]
    return value


# ---------------------------------------------------------------- webhook signatures


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=` + hex HMAC-SHA256 over `<timestamp>.<body>` with the subscription's secret."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def retry_delay(attempts: int, base: float, cap: float, jitter: float) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: base, 2 x base, 4 x base ...
    up to `cap`, then scaled by `jitter` (0.5-1.0, drawn by the caller) so that
    receivers coming back up are not hit by every retry at the same instant."""
    if attempts < 1:
        return 0.0
    return min(cap, base * 2 ** min(attempts - 1, 40)) * jitter
