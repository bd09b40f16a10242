"""The event feed as a connected system sees it (GET /api/v1/events), on SQLite and
PostgreSQL: every change is an event, once, in the order the changes committed, and a
reader resuming from any cursor misses none.

What a hospital system expects, written down before looking at the code: registering a
donor, recording consent, recording a collection (its bag is created and collected) and
receiving the bag are each an event; a refused step is none; the events of one request
arrive together; nothing carries a password, token or key.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import collection, donor, primary, step
from tests.conftest import Api


def read_all(api: Api, after: str | None = None, user: str = "hospital", limit: int = 3,
             **params: object) -> tuple[list[dict], str]:
    """Every event after the cursor, page by page, and the cursor to resume from."""
    events: list[dict] = []
    cursor = after
    while True:
        q = {"limit": limit, **params, **({"after": cursor} if cursor is not None else {})}
        r = api.as_(user).get("/events", params=q)
        assert r.status_code == 200, r.text
        page = r.json()
        events += page["items"]
        if page["next_cursor"] == cursor or not page["items"]:
            return events, page["next_cursor"]
        cursor = page["next_cursor"]


def now_cursor(api: Api) -> str:
    return read_all(api, limit=1000)[1]


def test_each_change_is_one_event_in_the_order_made(api):
    start = now_cursor(api)
    d = donor(api)  # registered + consent recorded
    c = collection(api, d["id"])  # collection recorded, its bag created and collected
    bag = c["samples"][0]
    step(api, bag["id"], "receive")
    refused = api.as_("tech").post(f"/samples/{bag['id']}/transitions", {"event": "release"})
    assert refused.status_code in (403, 409), refused.text

    events, _ = read_all(api, start)
    assert [(e["type"], e["entity"]["id"]) for e in events] == [
        ("donor.registered", d["id"]),
        ("donor.consent_recorded", d["id"]),
        ("collection.recorded", c["id"]),
        ("sample.created", bag["id"]),
        ("sample.collect", bag["id"]),
        ("sample.receive", bag["id"]),
    ]
    received = events[-1]
    # The sample as the sample list shows it, after the change.
    assert received["data"]["state"] == "received"
    assert received["data"]["code"] == bag["code"]
    assert received["data"]["version"] == 3  # created 1, collected 2, received 3
    assert [e["entity"]["version"] for e in events[3:]] == [1, 2, 3]
    assert received["actor"]["name"] == "Jana Tech"
    assert len({e["id"] for e in events}) == len(events)
    positions = [int(e["cursor"]) for e in events]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)


def test_resuming_from_any_cursor_misses_none_and_repeats_none(api):
    start = now_cursor(api)
    s = primary(api)
    step(api, s["id"], "receive")
    step(api, s["id"], "place_hold", reason="sterility pending")
    events, end = read_all(api, start)
    assert len(events) == 7  # donor, consent, collection, bag created, collect, receive, hold
    for i, e in enumerate(events):
        rest, resumed_end = read_all(api, e["cursor"], limit=2)
        assert [x["id"] for x in rest] == [x["id"] for x in events[i + 1:]]
        assert resumed_end == end
    # Polling at the end: nothing new, and the cursor stays put.
    r = api.as_("hospital").get("/events", params={"after": end})
    assert r.json() == {"items": [], "next_cursor": end}


def test_type_filters(api):
    start = now_cursor(api)
    s = primary(api)
    step(api, s["id"], "receive")
    only_samples, _ = read_all(api, start, types="sample.*")
    assert [e["type"] for e in only_samples] == ["sample.created", "sample.collect",
                                                 "sample.receive"]
    chosen, _ = read_all(api, start, types=["donor.registered", "sample.receive"])
    assert [e["type"] for e in chosen] == ["donor.registered", "sample.receive"]
    commas, _ = read_all(api, start, types="donor.registered,sample.receive")
    assert commas == chosen
    # A filter that selects few events still moves the cursor to the end of the feed.
    _, end_all = read_all(api, start)
    _, end_filtered = read_all(api, start, types="sample.receive")
    assert end_filtered == end_all


@pytest.mark.parametrize("params, field", [
    ({"after": "abc"}, "after"), ({"after": "-1"}, "after"), ({"after": "1.5"}, "after"),
    ({"types": "sample..receive"}, "types"), ({"types": "Sample Receive"}, "types"),
    ({"limit": "0"}, "limit"),
])
def test_malformed_requests_are_422_problems_naming_the_parameter(api, params, field):
    r = api.as_("hospital").get("/events", params=params)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in r.text


def test_who_may_follow_the_feed(api):
    assert api.as_("hospital").get("/events").status_code == 200  # integration
    assert api.as_("qa").get("/events").status_code == 200
    assert api.as_("tech").get("/events").status_code == 403
    assert api.as_(None).get("/events").status_code == 401
    # A service account's read-only API key may follow it.
    me = api.as_("hospital").get("/auth/me").json()
    key = api.as_("admin").post(f"/users/{me['id']}/api-keys",
                                {"name": "feed reader", "scopes": ["read"]}).json()["key"]
    r = api.client.get("/api/v1/events", headers={"X-API-Key": key})
    assert r.status_code == 200, r.text


def test_events_carry_no_password_token_or_key(api):
    start = now_cursor(api)
    me = api.as_("hospital").get("/auth/me").json()
    created = api.as_("admin").post(f"/users/{me['id']}/api-keys",
                                    {"name": "hospital prod", "scopes": ["read", "write"]})
    assert created.status_code == 201, created.text
    secret = created.json()["key"]
    r = api.as_("admin").post("/users", {"username": "newtech", "full_name": "New Tech",
                                         "roles": ["technician"], "password": "a-long-secret-99"})
    assert r.status_code == 201, r.text
    hook = api.as_("hospital").post("/webhooks", {"url": "http://127.0.0.1:9/hook"})
    assert hook.status_code == 201, hook.text
    events, _ = read_all(api, start, user="admin")
    assert {e["type"] for e in events} >= {"user.api_key_created", "user.added",
                                           "webhook.created"}
    text = json.dumps(events)
    for needle in (secret, secret[:12], "a-long-secret-99", hook.json()["secret"],
                   "password", "hospital-token"):
        assert needle not in text
    # Sign-ins are in the audit trail, not in the feed.
    api.client.post("/api/v1/auth/token", data={"username": "tech", "password": "wrong"})
    assert [e for e in read_all(api, start, user="admin")[0] if e["type"].startswith("login")] \
        == []


# ------------------------------------------------------------ several clients at once

WRITERS = 4
ROUNDS = 3


def test_parallel_clients_every_change_once_in_commit_order(app, api):
    """Several clients write at once while one follows the feed. Afterwards: each
    request's events are in the feed exactly once and together; a request whose answer
    arrived before another was sent comes first; resuming from any cursor misses none."""
    start = now_cursor(api)
    done = threading.Event()
    timings: dict[str, tuple[float, float]] = {}  # request id -> (sent, answered)
    failures: list[str] = []

    def write(n: int) -> None:
        client = Api(TestClient(app), "coord")
        try:
            for i in range(ROUNDS):
                for kind in ("donor", "consent", "collection"):
                    rid = f"w{n}-{i}-{kind}-{uuid.uuid4().hex[:6]}"
                    headers = {"X-Request-ID": rid}
                    sent = time.monotonic()
                    if kind == "donor":
                        r = client.post("/donors", {"code": f"P-{n}-{i}-{rid[-6:]}",
                                                    "donor_type": "allogeneic",
                                                    "eligibility": "eligible"},
                                        headers=headers)
                        donor_id = r.json().get("id")
                    elif kind == "consent":
                        r = client.post(f"/donors/{donor_id}/consents", {
                            "form_version": "v3", "scopes": ["clinical"],
                            "obtained_at": "2026-01-05T10:00:00+00:00",
                            "obtained_by": "Dr. Who"}, headers=headers)
                    else:
                        from tests.api.helpers import collection_body
                        r = client.as_("tech").post("/collections", collection_body(donor_id),
                                                    headers=headers)
                    timings[rid] = (sent, time.monotonic())
                    if r.status_code != 201:
                        failures.append(f"{rid}: {r.status_code} {r.text[:200]}")
        except Exception as exc:  # noqa: BLE001
            failures.append(repr(exc))

    followed: list[dict] = []

    def follow() -> None:
        cursor = start
        while True:
            finished = done.is_set()
            r = api.as_("hospital").get("/events", params={"after": cursor, "limit": 7})
            page = r.json()
            followed.extend(page["items"])
            cursor = page["next_cursor"]
            if finished and not page["items"]:
                return

    follower = threading.Thread(target=follow)
    follower.start()
    writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for t in writers:
        t.start()
    for t in writers:
        t.join(timeout=120)
    done.set()
    follower.join(timeout=60)
    assert not failures, failures
    assert len(timings) == WRITERS * ROUNDS * 3

    ids = [e["id"] for e in followed]
    assert len(ids) == len(set(ids)), "an event was read twice"
    mine = [e for e in followed if e["request_id"] in timings]
    assert len(mine) == len(followed), "events of other changes appeared"
    per_request = Counter(e["request_id"] for e in mine)
    # donor: 1 event, consent: 1, collection: collection + its bag created + collected
    for rid in timings:
        assert per_request[rid] == (3 if "collection" in rid else 1), rid
    order = [e["request_id"] for e in mine]
    # One request's events are contiguous: a transaction commits as a whole.
    runs = [rid for i, rid in enumerate(order) if i == 0 or order[i - 1] != rid]
    assert len(runs) == len(timings)
    first = {rid: order.index(rid) for rid in timings}
    for a, (_, answered_a) in timings.items():
        for b, (sent_b, _) in timings.items():
            if answered_a < sent_b:
                assert first[a] < first[b], f"{a} committed before {b} was sent"
    # The follower read the same feed a reader reads in one go afterwards.
    everything, _ = read_all(api, start, limit=1000)
    assert [e["id"] for e in everything] == ids
    for i in range(0, len(everything), 5):
        rest, _ = read_all(api, everything[i]["cursor"], limit=50)
        assert [e["id"] for e in rest] == ids[i + 1:]
