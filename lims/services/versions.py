"""Versions of the records a write names in its path: If-Match and ETag, in one place."""

from __future__ import annotations

import re
from typing import Any

from lims.db import queries
from lims.db.tables import AppUser, Donor, Sample
from lims.domain.errors import NotFound, StaleVersion
from lims.services.context import Context

VERSIONED: dict[str, tuple[type[Any], str]] = {
    "sample_id": (Sample, "sample"), "donor_id": (Donor, "donor"),
    "user_id": (AppUser, "user account")}


def param_of(path: str) -> str | None:
    """The versioned record a route's path names (the innermost one), if any."""
    named = [p for p in re.findall(r"{(\w+)}", path) if p in VERSIONED]
    return named[-1] if named else None


def check(ctx: Context, param: str, record_id: str, expected: int | None) -> None:
    """Refuse (412) when the caller's If-Match is not the record's current version.
    The row stays locked until the change commits (PostgreSQL)."""
    if expected is None:
        return
    model, label = VERSIONED[param]
    record: Any = queries.get(ctx.session, model, record_id, lock=True)
    if record.version != expected:
        raise StaleVersion(
            f"This {label} changed since you loaded it (your version {expected}, now "
            f"{record.version}). Reload it and try again.", current_version=record.version)


def etag(ctx: Context, param: str, record_id: str) -> str | None:
    model, _ = VERSIONED[param]
    try:
        record: Any = queries.get(ctx.session, model, record_id)
    except NotFound:  # e.g. deleted: then there is no ETag to give
        return None
    return f'"{record.version}"'
