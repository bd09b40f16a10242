"""Ids are UUIDv7: unique, and in creation order within a process (keyset pagination)."""

from __future__ import annotations

import uuid

from lims.db.types import new_id


def test_ids_are_uuid7_unique_and_ordered_even_within_one_millisecond():
    ids = [new_id() for _ in range(20_000)]  # far more than one per millisecond
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
