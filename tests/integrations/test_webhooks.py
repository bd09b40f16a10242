"""Webhooks end to end with a real HTTP receiver on 127.0.0.1: delivery, signature,
retries after the receiver fails, disabling after repeated failures, re-enable and
replay, and two `lims worker` processes on PostgreSQL never delivering an event twice.

The receiver checks the signature the way the README tells integrators to: HMAC-SHA256
with the subscription's secret over `<X-Lims-Timestamp>.<raw body>`, hex, after `v1=`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from lims.config import Settings
from lims.db.engine import make_engine, unit_of_work
from lims.services import delivery, donors
from lims.services.context import Context
from tests.api.helpers import donor, primary, step
from tests.conftest import actor_for
from tests.integrations import receiver as rx
from tests.integrations.test_feed import read_all

ROOT = Path(__file__).resolve().parents[2]
FAST = {"webhook_backoff_base_seconds": 0.01, "webhook_backoff_max_seconds": 0.05,
        "webhook_timeout_seconds": 5.0, "webhook_disable_after": 3,
        "webhook_max_attempts": 10, "worker_poll_seconds": 0.05}


@pytest.fixture
def receiver() -> Iterator[rx.Receiver]:
    r = rx.Receiver()
    server = rx.start(r)
    yield r
    server.shutdown()
    server.server_close()


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return settings.model_copy(update=FAST)


@pytest.fixture
def work(fast: Settings) -> Iterator[Callable[..., None]]:
    """work(until): run worker rounds (in this process, real HTTP) until until() holds."""
    engine = make_engine(fast.database_url)
    client = httpx.Client(timeout=5)
    send = delivery.http_sender(client)

    def run(until: Callable[[], bool] | None, rounds: int = 2000, **settings: object) -> None:
        """until None: just `rounds` rounds (with the retry back-off passing between)."""
        tuned = fast.model_copy(update=settings)
        for _ in range(rounds):
            if until is not None and until():
                return
            if not delivery.step(engine, tuned, send, "test-worker"):
                time.sleep(0.005)
        if until is not None:
            pytest.fail("the worker did not get there")

    yield run
    client.close()
    engine.dispose()


def subscribe(api, url: str, types: list[str], user: str = "hospital") -> dict:
    r = api.as_(user).post("/webhooks", {"url": url, "event_types": types,
                                         "description": "test receiver"})
    assert r.status_code == 201, r.text
    return r.json()


def deliveries(api, hook_id: str, user: str = "hospital") -> list[dict]:
    r = api.as_(user).get(f"/webhooks/{hook_id}/deliveries", params={"limit": 200})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def signed_correctly(secret: str, req: rx.Received) -> bool:
    ts = req.headers["x-lims-timestamp"]
    expected = hmac.new(secret.encode(), ts.encode() + b"." + req.body,
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest("v1=" + expected, req.headers["x-lims-signature"])


def readme_verify() -> Callable[..., bool]:
    """The `verify` function of the README's snippet, run as an integrator would."""
    text = (ROOT / "README.md").read_text()
    code = next(block for block in re.findall(r"```python\n(.*?)```", text, re.DOTALL)
                if "def verify(" in block)
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - our own README
    return namespace["verify"]


def test_delivery_is_signed_and_carries_the_event(api, receiver, work):
    hook = subscribe(api, receiver.url, ["sample.*"])
    assert hook["secret"].startswith("whsec_") and hook["active"]
    shown = api.as_("hospital").get(f"/webhooks/{hook['id']}")
    assert shown.status_code == 200 and "secret" not in shown.json()
    assert all("secret" not in h for h in api.as_("hospital").get("/webhooks").json())

    s = primary(api)
    step(api, s["id"], "receive")
    work(lambda: len(receiver.delivered()) >= 3)
    got = receiver.delivered()
    # The bag created, collected, received: sample events only, each once, in order.
    assert [r.event["type"] for r in got] == ["sample.created", "sample.collect",
                                              "sample.receive"]
    for r in got:
        assert signed_correctly(hook["secret"], r)
        assert not signed_correctly("whsec_wrong", r)
        assert r.headers["x-lims-event-id"] == r.event["id"]
        assert r.headers["x-lims-event-type"] == r.event["type"]
        assert r.headers["content-type"] == "application/json"
        assert r.event["entity"]["id"] == s["id"]
    assert got[-1].event["data"]["state"] == "received"
    # The receiver-side check printed in the README accepts these deliveries.
    verify = readme_verify()
    for r in got:
        headers = {"X-Lims-Timestamp": r.headers["x-lims-timestamp"],
                   "X-Lims-Signature": r.headers["x-lims-signature"]}
        assert verify(hook["secret"], headers, r.body)
        assert not verify(hook["secret"], headers, r.body + b" ")
    # A body changed on the way no longer matches its signature.
    tampered = rx.Received(got[0].headers, got[0].body.replace(b"created", b"deleted"), 200)
    assert not signed_correctly(hook["secret"], tampered)
    log = deliveries(api, hook["id"])
    assert sorted((d["event_type"], d["status"], d["attempts"]) for d in log) == [
        ("sample.collect", "delivered", 1), ("sample.created", "delivered", 1),
        ("sample.receive", "delivered", 1)]


def test_a_failing_receiver_is_retried_until_it_answers(api, receiver, work):
    hook = subscribe(api, receiver.url, ["donor.registered"])
    receiver.fail_next = 2
    d = donor(api)
    work(lambda: len(receiver.delivered()) == 1)
    ids = [r.headers["x-lims-event-id"] for r in receiver.received]
    assert len(ids) == 3 and len(set(ids)) == 1  # the same event, tried three times
    assert [r.answered for r in receiver.received] == [500, 500, 204]
    assert receiver.delivered()[0].event["entity"]["id"] == d["id"]
    [entry] = deliveries(api, hook["id"])
    assert entry["status"] == "delivered" and entry["attempts"] == 3
    assert [a["status_code"] for a in entry["log"]] == [500, 500, 204]
    after = api.as_("hospital").get(f"/webhooks/{hook['id']}").json()
    assert after["active"] and after["consecutive_failures"] == 0


def test_a_delivery_gives_up_after_its_attempts_and_the_log_says_why(api, receiver, work):
    hook = subscribe(api, receiver.url, ["donor.registered"])
    receiver.status = 500
    donor(api)

    def given_up() -> bool:
        return [d["status"] for d in deliveries(api, hook["id"])] == ["failed"]

    work(given_up, webhook_max_attempts=2)
    assert [r.answered for r in receiver.received] == [500, 500]
    [entry] = deliveries(api, hook["id"])
    assert entry["attempts"] == 2 and entry["last_status_code"] == 500
    assert entry["next_attempt_at"] is None
    work(None, rounds=30, webhook_max_attempts=2)  # given up means no more attempts
    assert len(receiver.received) == 2


def test_disabled_after_repeated_failures_then_enabled_and_replayed(api, receiver, work):
    start = read_all(api, limit=1000)[1]
    hook = subscribe(api, receiver.url, ["donor.*"])
    receiver.status = 503  # down
    first, second = donor(api), donor(api)  # four events: registered + consent, twice

    def disabled() -> bool:
        return not api.as_("hospital").get(f"/webhooks/{hook['id']}").json()["active"]

    work(disabled)
    now = api.as_("hospital").get(f"/webhooks/{hook['id']}").json()
    assert "failed" in now["disabled_reason"] and now["consecutive_failures"] == 3
    tried = len(receiver.received)
    assert tried == 3  # FAST: disabled after three failed attempts in a row
    # An event says so, for whoever follows the feed.
    events, _ = read_all(api, start, types="webhook.*")
    assert [e["type"] for e in events] == ["webhook.created", "webhook.disabled"]
    assert events[-1]["entity"]["id"] == hook["id"]
    assert events[-1]["data"]["active"] is False
    # While disabled, nothing is sent.
    work(None, rounds=30)
    assert len(receiver.received) == tried

    receiver.status = 200  # fixed
    r = api.as_("hospital").post(f"/webhooks/{hook['id']}/enable")
    assert r.status_code == 200 and r.json()["active"], r.text
    work(lambda: len(receiver.counts()) == 4)
    delivered = {r.event["entity"]["id"] for r in receiver.delivered()}
    assert delivered == {first["id"], second["id"]}
    assert all(c == 1 for c in receiver.counts().values())

    # Replay from the cursor before the first donor: each event comes again, once more.
    r = api.as_("hospital").post(f"/webhooks/{hook['id']}/replay", params={"from": start})
    assert r.status_code == 200, r.text
    work(lambda: sum(receiver.counts().values()) == 8)
    assert set(receiver.counts().values()) == {2}
    bad = api.as_("hospital").post(f"/webhooks/{hook['id']}/replay", params={"from": "x1"})
    assert bad.status_code == 422 and "from" in bad.text


def test_who_may_manage_webhooks_and_what_is_refused(api, receiver):
    assert api.as_("tech").post("/webhooks", {"url": receiver.url}).status_code == 403
    for body in ({"url": "ftp://127.0.0.1/x"}, {"url": "not a url at all"},
                 {"url": receiver.url, "event_types": ["Sample Received"]}):
        r = api.as_("hospital").post("/webhooks", body)
        assert r.status_code == 422, body
        assert r.headers["content-type"].startswith("application/problem+json")
    hook = subscribe(api, receiver.url, ["*"])
    assert api.as_("admin").get(f"/webhooks/{hook['id']}").status_code == 200
    stale = api.as_("hospital").post(f"/webhooks/{hook['id']}/disable",
                                     {"reason": "moving"}, headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    ok = api.as_("hospital").post(f"/webhooks/{hook['id']}/disable", {"reason": "moving"},
                                  headers={"If-Match": '"1"'})
    assert ok.status_code == 200 and ok.json()["disabled_reason"] == "moving"
    assert api.as_("hospital").get("/webhooks/nope").status_code == 404


# -------------------------------------------------- two worker processes on PostgreSQL

EVENTS = 40


def _worker(url: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "LIMS_DATABASE_URL": url, "PYTHONPATH": str(ROOT),
           "LIMS_WORKER_BATCH": "2", "LIMS_WORKER_POLL_SECONDS": "0.05",
           **{f"LIMS_{k.upper()}": str(v) for k, v in FAST.items()
              if k != "worker_poll_seconds"}}
    # A file, not a pipe: a worker writing a line per delivery must never block on it.
    return subprocess.Popen([sys.executable, "-c", "from lims.cli import app; app(['worker'])"],
                            env=env, stderr=log.open("w"), cwd=ROOT)


def test_two_workers_never_deliver_an_event_twice(pg_url, api, receiver, fast, tmp_path):
    hook = subscribe(api, receiver.url, ["donor.registered"])
    receiver.delay = 0.02
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    workers = [_worker(pg_url, log) for log in logs]
    try:
        for _ in range(3000):  # both are polling before there is any work
            if all('"started"' in log.read_text() for log in logs):
                break
            assert all(w.poll() is None for w in workers), [x.read_text() for x in logs]
            time.sleep(0.01)
        engine = make_engine(pg_url)
        with unit_of_work(engine) as session:
            ctx = Context(session=session, actor=actor_for(engine, "coord"), settings=fast)
            for i in range(EVENTS):
                donors.register_donor(ctx, code=f"TW-{i:03d}", donor_type="allogeneic")
        engine.dispose()
        for _ in range(1500):
            log = deliveries(api, hook["id"])
            if len(log) == EVENTS and all(d["status"] == "delivered" for d in log):
                break
            time.sleep(0.02)
        else:
            pytest.fail(f"not all delivered: {len(receiver.delivered())} of {EVENTS}")
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(timeout=20)
    assert all(w.returncode == 0 for w in workers)
    counts = receiver.counts()
    assert len(counts) == EVENTS
    assert set(counts.values()) == {1}, [e for e, n in counts.items() if n > 1]
    assert len(receiver.received) == EVENTS  # not even a failed duplicate attempt
    by = {a["worker"] for d in log for a in d["log"]}
    assert len(by) == 2, f"only one worker delivered: {by}"


def test_lims_worker_once_delivers_what_is_due_and_exits(db_url, api, receiver):
    if not db_url.startswith("sqlite"):
        pytest.skip("the command is the same on PostgreSQL (see the two-worker test)")
    hook = subscribe(api, receiver.url, ["donor.registered"])
    donor(api)
    env = {**os.environ, "LIMS_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", "from lims.cli import app; app(['worker', '--once'])"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [r.event["type"] for r in receiver.delivered()] == ["donor.registered"]
    assert [d["status"] for d in deliveries(api, hook["id"])] == ["delivered"]
