"""Column types shared by every table."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike.

    SQLite keeps no zone, so values are normalised to UTC before storage and marked UTC
    when read back; naive values are refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


_last = [0, 0]  # last millisecond, last 12-bit counter (per process)
_lock = threading.Lock()


def new_id() -> str:
    """A UUIDv7 string: unique without coordination and ordered by creation time, so
    keyset pagination by id lists oldest first. Within one millisecond the 12 bits after
    the timestamp count up (RFC 9562, method 1), so ids made by this process stay in order."""
    rand = int.from_bytes(os.urandom(8), "big")
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last[0]:
            ms, seq = _last[0], _last[1] + 1
            if seq > 0xFFF:  # 4096 ids in one millisecond: borrow the next one
                ms, seq = ms + 1, 0
        else:
            seq = rand >> 52 & 0x7FF  # random start, leaving room to count up
        _last[0], _last[1] = ms, seq
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | seq << 64
    value |= 0b10 << 62 | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))
