"""Engine and unit of work. Nothing connects until `make_engine` is called.

Session and Engine are named here so that the layers above can annotate with them
without importing SQLAlchemy themselves."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlmodel import Session

__all__ = ["Engine", "Session", "current_revision", "make_engine", "unit_of_work"]

log = logging.getLogger(__name__)


def make_engine(url: str, **kw: Any) -> Engine:
    """An engine for SQLite (embedded default) or PostgreSQL (production)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Driver-level transactions off so we can issue BEGIN IMMEDIATE ourselves:
        # SQLite then serialises writers at BEGIN instead of failing at the first write.
        engine = create_engine(
            url, connect_args={"isolation_level": None, "check_same_thread": False,
                               "timeout": 30}, **kw
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # Per server process (`lims serve --workers 2`: two pools). A request holds one
    # connection; 10 + 10 stays well inside PostgreSQL's default 100 for two workers.
    kw.setdefault("pool_size", 10)
    kw.setdefault("max_overflow", 10)
    # A database that does not answer (outage, network cut) must give a quick 503, not
    # a request that hangs: bounded connect and pool waits.
    kw.setdefault("pool_timeout", 10)
    if "connect_timeout" not in parsed.query:
        kw.setdefault("connect_args", {"connect_timeout": 5})
    engine = create_engine(url, **kw)
    _ping_when_idle(engine)
    return engine


# A connection idle longer than this is checked before use (the server may have restarted
# or a firewall dropped it); a busy one is not, which saves a round trip per request.
IDLE_PING_SECONDS = 10.0


def _ping_when_idle(engine: Engine) -> None:
    """Pre-ping only connections that sat idle: SQLAlchemy's pool_pre_ping pays a round
    trip on every checkout. A dead connection is replaced before the request sees it."""

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            cur = dbapi_conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
            dbapi_conn.rollback()
        except Exception as exc:  # noqa: BLE001 - any failure: a fresh connection
            raise DisconnectionError(f"idle connection is gone: {exc}") from exc


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """One transaction: commit if the block finishes, roll back if it raises.

    Services never commit; this is the only place that does.
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException as exc:
            session.rollback()
            keep = getattr(exc, "keep", None)
            if keep is not None:  # recorded on its own, after everything else was undone
                try:
                    keep()
                    session.commit()
                except Exception:  # noqa: BLE001 - never hide the refusal behind this
                    session.rollback()
                    log.exception("could not keep the record of a refused request")
            raise


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is migrated to (None: not migrated)."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
