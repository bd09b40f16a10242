"""No reader ever skips an event, even when two transactions commit in the opposite order
of the ids they took (PostgreSQL, real connections; forced interleavings).

The failure this guards against: transaction A inserts event id 100, B inserts id 101;
B commits, a reader reads 101 and remembers it; A commits 100 a moment later. A feed
ordered by id would never show 100 to that reader.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from lims.db import outbox
from lims.db.engine import make_engine, unit_of_work
from lims.db.tables import OutboxEvent
from lims.services import audit, donors, feed
from lims.services.context import Context
from tests.conftest import actor_for


@pytest.fixture
def world(settings):
    engine = make_engine(settings.database_url)
    yield engine, settings, actor_for(engine, "coord"), actor_for(engine, "hospital")
    engine.dispose()


def read(world, after: str | None) -> tuple[list[dict], str]:
    engine, settings, _, reader = world
    with unit_of_work(engine) as s:
        return feed.read(Context(session=s, actor=reader, settings=settings), after, (), 1000)


def open_change(world, code: str) -> tuple[Session, int]:
    """A donor registered in a transaction left open; returns it and its event's row id."""
    engine, settings, writer, _ = world
    session = Session(engine, expire_on_commit=False)
    donors.register_donor(Context(session=session, actor=writer, settings=settings),
                          code=code, donor_type="allogeneic")
    pk = session.execute(select(OutboxEvent.id).where(
        OutboxEvent.position.is_(None))).scalar_one()  # type: ignore[union-attr]
    return session, pk


def codes(events: list[dict]) -> list[str]:
    return [e["data"]["code"] for e in events]


def test_lower_id_committing_later_is_still_read(pg_url, world):
    _, start = read(world, None)
    a, a_id = open_change(world, "A-100")
    b, b_id = open_change(world, "B-101")
    assert a_id < b_id  # A took the lower id ...
    b.commit()  # ... but B commits first
    seen, cursor = read(world, start)
    assert codes(seen) == ["B-101"]
    a.commit()
    later, _ = read(world, cursor)
    assert codes(later) == ["A-100"]  # the reader that has B still gets A
    assert codes(read(world, start)[0]) == ["B-101", "A-100"]  # commit order
    a.close()
    b.close()


def _waiting_on_feed_lock(engine) -> bool:
    with engine.connect() as c:
        return bool(c.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND objid = :k"), {"k": outbox.FEED_LOCK}).scalar_one())


def test_a_commit_waits_while_another_is_numbering(pg_url, world):
    """B (higher id) has its feed position and is about to COMMIT; A (lower id) commits
    meanwhile. A must wait: if A went first with a later position, a reader could read A
    and move past B's position before B is visible."""
    engine = world[0]
    _, start = read(world, None)
    a, a_id = open_change(world, "A-200")
    b, b_id = open_change(world, "B-201")
    assert a_id < b_id
    b_numbered, go = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def commit_b() -> None:
        try:
            outbox.assign_positions(b)  # what COMMIT does first; B now holds the lock
            b_numbered.set()
            assert go.wait(30)
            b.commit()
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)
            b_numbered.set()

    def commit_a() -> None:
        try:
            a.commit()
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    tb = threading.Thread(target=commit_b)
    tb.start()
    assert b_numbered.wait(30) and not failures
    ta = threading.Thread(target=commit_a)
    ta.start()
    for _ in range(300):  # A is queued behind B's feed lock (checked, not timed)
        if _waiting_on_feed_lock(engine):
            break
        time.sleep(0.02)
    else:
        go.set()
        pytest.fail("A's commit did not wait for B's feed lock")
    assert ta.is_alive()
    assert read(world, start)[0] == []  # neither is visible yet: nothing to skip
    go.set()
    tb.join(30)
    ta.join(30)
    assert not failures, failures
    assert codes(read(world, start)[0]) == ["B-201", "A-200"]
    a.close()
    b.close()


def test_events_before_a_rolled_back_savepoint_keep_their_place(db_url, world):
    """A best-effort batch: the tube that fails is rolled back to its savepoint; the
    event written before it still gets its feed position (on SQLite and PostgreSQL)."""
    engine, settings, writer, _ = world
    _, start = read(world, None)
    with unit_of_work(engine) as s:
        ctx = Context(session=s, actor=writer, settings=settings)
        donors.register_donor(ctx, code="KEPT-1", donor_type="allogeneic")
        sp = s.begin_nested()
        audit.record(ctx, "donor_registered", "donor", "rolled-back", after={"code": "GONE"})
        sp.rollback()  # the last thing the transaction does
    assert codes(read(world, start)[0]) == ["KEPT-1"]
    with unit_of_work(engine) as s:
        assert s.execute(select(OutboxEvent).where(
            OutboxEvent.position.is_(None))).first() is None  # type: ignore[union-attr]
