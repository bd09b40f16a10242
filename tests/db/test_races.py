"""Races found in review, pinned on PostgreSQL: a scan that looked the sample up before
locking it, and failed sign-ins counted in parallel."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from lims.db.engine import unit_of_work
from lims.db.tables import AppUser, SampleTransition
from lims.domain.errors import IllegalTransition
from lims.services import samples, scanning, users
from lims.services.context import SYSTEM, Context
from tests.api.helpers import primary, scan_code
from tests.conftest import actor_for
from tests.db.test_concurrency import THREADS, connected, count, errors, ok, race


def test_scan_then_act_applies_once_when_scans_collide(pg_url, api, engine, settings):
    s = primary(api)
    payload = scan_code(s)
    tech = actor_for(engine, "tech")

    def work(i: int, barrier: threading.Barrier) -> str:
        with unit_of_work(engine) as sess:
            ctx = Context(session=sess, actor=tech, settings=settings)
            found = scanning.resolve(ctx, payload, f"bench-{i}")  # read before the lock
            barrier.wait()
            return samples.apply_event(ctx, found.id, "receive").state

    results = race(THREADS, work)
    assert ok(results) == ["received"]
    assert all(isinstance(e, IllegalTransition) for e in errors(results)), errors(results)
    assert count(engine, select(func.count()).select_from(SampleTransition).where(
        SampleTransition.sample_id == s["id"], SampleTransition.event == "receive")) == 1


def test_parallel_wrong_passwords_all_count(pg_url, api, engine, settings):
    n = 4  # below the lockout limit of 5, so every attempt is counted, none refused

    def work(i: int, barrier: threading.Barrier) -> str | None:
        with unit_of_work(engine) as sess:
            connected(sess)
            barrier.wait()
            user, why = users.sign_in(Context(session=sess, actor=SYSTEM, settings=settings),
                                      "tech", "wrong guess")
            return why

    assert ok(race(n, work)) == ["bad_credentials"] * n
    assert count(engine, select(AppUser.failed_logins).where(AppUser.username == "tech")) == n
