"""`lims worker`: turn feed events into webhook deliveries and deliver them.

One step: (1) fan out: each active subscription takes the events after its fan-out
position that it subscribed to, as pending deliveries; (2) claim due deliveries (a lease:
next_attempt_at moves past the request timeout, under SKIP LOCKED so two workers never
claim one delivery), commit; (3) POST each, signed, outside any transaction; (4) record
the outcome if the claim still stands. A worker that dies mid-way leaves its claims to
run out; the receiver de-duplicates by event id the rare repeat that can cause.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from lims import __version__
from lims.config import Settings
from lims.db import outbox, queries
from lims.db import webhooks as store
from lims.db.engine import Engine, unit_of_work
from lims.db.tables import WebhookSubscription
from lims.db.types import new_id, utcnow
from lims.domain import feed
from lims.domain.audit import canonical
from lims.services import webhooks
from lims.services.context import Actor, Context
from lims.services.feed import event_out

log = logging.getLogger("lims.worker")

WORKER = Actor(id="webhook-worker", name="webhook worker", roles=frozenset(),
               username="worker")
FAN_OUT_WINDOW = 1000  # feed positions looked at per subscription and step
LOG_KEPT = 10  # attempts kept in each delivery's log


@dataclass(frozen=True)
class Job:
    delivery_id: str
    lease: str
    subscription_id: str
    url: str
    secret: str
    event_id: str
    event_type: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    status_code: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


Sender = Callable[[str, bytes, dict[str, str]], Outcome]


def http_sender(client: httpx.Client) -> Sender:
    def send(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        try:
            response = client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Outcome(error=f"{type(exc).__name__}: {exc}"[:500])
        return Outcome(status_code=response.status_code,
                       error=None if response.is_success else response.text[:200])
    return send


def _context(session: Any, settings: Settings) -> Context:
    return Context(session=session, actor=WORKER, settings=settings)


def fan_out(engine: Engine, settings: Settings) -> int:
    """New pending deliveries for events after each subscription's position."""
    made = 0
    with unit_of_work(engine) as session:
        ctx = _context(session, settings)
        newest = outbox.last_position(session)
        for sub in store.to_fan_out(session, newest, settings.worker_batch):
            upto = min(newest, sub.fanout_position + FAN_OUT_WINDOW)
            events = outbox.after(session, sub.fanout_position, types=sub.event_types,
                                  limit=FAN_OUT_WINDOW, upto=upto)
            store.add_deliveries(session, sub.id, [e.id for e in events if e.id is not None],
                                 ctx.now, new_id)
            sub.fanout_position = upto
            session.add(sub)
            made += len(events)
    return made


def claim(engine: Engine, settings: Settings) -> list[Job]:
    """Due deliveries, leased to this worker until its requests have surely timed out."""
    with unit_of_work(engine) as session:
        now = utcnow()
        due = store.claim_due(session, now, settings.worker_batch)
        if not due:
            return []
        lease_until = now + timedelta(seconds=2 * settings.webhook_timeout_seconds + 30)
        events = outbox.by_pks(session, [d.event_pk for d in due])
        subs = {d.subscription_id: queries.get(session, WebhookSubscription, d.subscription_id)
                for d in due}
        jobs = []
        for d in due:
            d.lease_token = new_id()
            d.next_attempt_at = lease_until
            session.add(d)
            e, sub = events[d.event_pk], subs[d.subscription_id]
            jobs.append(Job(d.id, d.lease_token, sub.id, sub.url, sub.secret, e.event_id,
                            e.type, canonical(event_out(e))))
    return jobs


def headers(job: Job, timestamp: int) -> dict[str, str]:
    """What each POST carries besides the event itself."""
    return {
        "Content-Type": "application/json",
        "User-Agent": f"lims-webhooks/{__version__}",
        "X-Lims-Event-Id": job.event_id,
        "X-Lims-Event-Type": job.event_type,
        "X-Lims-Delivery-Id": job.delivery_id,
        "X-Lims-Timestamp": str(timestamp),
        "X-Lims-Signature": feed.signature(job.secret, timestamp, job.body),
    }


def record(engine: Engine, settings: Settings, job: Job, outcome: Outcome,
           worker: str) -> bool:
    """The outcome of one attempt: delivered, due again later, given up; and the
    subscription disabled when its receiver kept failing. Returns whether it is active."""
    with unit_of_work(engine) as session:
        ctx = _context(session, settings)
        # Subscription before delivery, as everywhere: no two workers wait on each other.
        sub = queries.get(session, WebhookSubscription, job.subscription_id, lock=True)
        d = store.leased(session, job.delivery_id, job.lease)
        if d is None:  # the lease ran out and someone else has it now (or a replay)
            return sub.active
        d.attempts += 1
        d.last_attempt_at, d.last_status_code, d.last_error = ctx.now, outcome.status_code, \
            outcome.error
        d.log = [*d.log, {"at": ctx.now.isoformat(), "status_code": outcome.status_code,
                          "error": outcome.error, "worker": worker}][-LOG_KEPT:]
        d.lease_token = None
        if outcome.ok:
            d.status, d.delivered_at = "delivered", ctx.now
            sub.consecutive_failures = 0
        else:
            sub.consecutive_failures += 1
            if d.attempts >= settings.webhook_max_attempts:
                d.status = "failed"
            else:
                wait = feed.retry_delay(d.attempts, settings.webhook_backoff_base_seconds,
                                        settings.webhook_backoff_max_seconds,
                                        random.uniform(0.5, 1.0))
                d.next_attempt_at = ctx.now + timedelta(seconds=wait)
        session.add(d)
        session.add(sub)
        if sub.active and sub.consecutive_failures >= settings.webhook_disable_after:
            webhooks.disable(ctx, sub, f"The last {sub.consecutive_failures} deliveries to "
                             f"{sub.url} failed (last: {outcome.error or outcome.status_code}"
                             "). Fix the receiver, then enable the webhook and replay.")
        return sub.active


def step(engine: Engine, settings: Settings, send: Sender, worker: str = "worker") -> int:
    """One round of fan-out and delivery; returns how much work it found."""
    found = fan_out(engine, settings)
    jobs = claim(engine, settings)
    disabled: set[str] = set()
    for job in jobs:
        if job.subscription_id in disabled:  # not sent: due again once enabled
            with unit_of_work(engine) as session:
                store.release(session, job.delivery_id, job.lease, utcnow())
            continue
        outcome = send(job.url, job.body, headers(job, int(time.time())))
        active = record(engine, settings, job, outcome, worker)
        log.info(json.dumps({"worker": worker, "webhook": job.subscription_id,
                             "event": job.event_id, "status": outcome.status_code,
                             "error": outcome.error, "webhook_active": active}))
        if not active:
            disabled.add(job.subscription_id)
    return found + len(jobs)


def run(engine: Engine, settings: Settings, stop: threading.Event, *, once: bool = False,
        send: Sender | None = None) -> None:
    """Deliver until `stop` is set (or, with `once`, until nothing is due now)."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    timeout = httpx.Timeout(settings.webhook_timeout_seconds)
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        send = send or http_sender(client)
        log.info(json.dumps({"worker": worker, "started": True}))
        while not stop.is_set():
            try:
                busy = step(engine, settings, send, worker)
            except Exception:  # noqa: BLE001 - a database hiccup must not end the worker
                log.exception("worker step failed; trying again")
                busy = 0
            if once and not busy:
                return
            if not busy:
                stop.wait(settings.worker_poll_seconds)
