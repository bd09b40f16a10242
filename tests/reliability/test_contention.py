"""Contention over two server processes: hundreds of concurrent requests race for one
sample's next step, for DINs, and for one box position.

The lab's rule: a step is applied once; a tube position holds one tube; a DIN names one
donation. Every loser gets a clean 409 (or 412 for a stale If-Match) problem.
"""

from __future__ import annotations

import itertools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.api import helpers
from tests.reliability.client import HttpApi, client, is_problem
from tests.reliability.figures import add, ensure

CLIENTS = 24  # concurrent connections, spread over both servers


@pytest.fixture(scope="module")
def apis(servers) -> list[HttpApi]:
    return [client(s.url) for s in servers]


def storm(apis: list[HttpApi], n: int, send: Any) -> list[httpx.Response]:
    """n requests at once (CLIENTS in flight), alternating between the servers."""
    spread = itertools.cycle(apis)
    targets = [next(spread) for _ in range(n)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(lambda i: send(i, targets[i]), range(n)))


def refused_cleanly(responses: list[httpx.Response]) -> None:
    """Losers: a 409 (the step was taken) or a 412 (the version moved on); never a 5xx."""
    losers = [r for r in responses if r.status_code != 200 and r.status_code != 201]
    bad = [(r.status_code, r.text[:300]) for r in losers if not is_problem(r, 409, 412)]
    assert not bad, bad
    add("conflicts refused", len(losers))


def test_one_step_on_one_sample_is_applied_exactly_once(apis) -> None:
    ensure("duplicates")
    api = apis[0]
    sample = helpers.primary(api)
    version = sample["version"]
    for event, data, state in [("receive", {}, "received"),
                               ("start_processing", {"method": "volume_reduction"},
                                "in_processing"),
                               ("complete_processing", {"results": {"tnc": 1.2e9}}, "processed")]:
        def send(i: int, a: HttpApi, event: str = event, data: dict = data,
                 v: int = version) -> httpx.Response:
            # Half send the version they read (If-Match), half do not.
            headers = {"If-Match": f'"{v}"'} if i % 2 else {}
            return a.post(f"/samples/{sample['id']}/transitions",
                          {"event": event, "data": data}, headers=headers)

        responses = storm(apis, 120, send)
        won = [r for r in responses if r.status_code == 200]
        assert len(won) == 1, Counter(r.status_code for r in responses)
        assert won[0].json()["state"] == state
        refused_cleanly(responses)
        version = won[0].json()["version"]

    history = api.get(f"/samples/{sample['id']}/history").json()
    events = [h["event"] for h in history]
    duplicates = len(events) - len(set(events))
    add("duplicates", duplicates)
    assert events[-3:] == ["receive", "start_processing", "complete_processing"]
    assert duplicates == 0, events


def test_concurrent_collections_get_distinct_dins(apis) -> None:
    ensure("duplicates")
    donor = helpers.donor(apis[0])

    def send(i: int, a: HttpApi) -> httpx.Response:
        return a.as_("tech").post("/collections", helpers.collection_body(donor["id"]))

    responses = storm(apis, 100, send)
    assert Counter(r.status_code for r in responses) == {201: 100}, \
        [r.text[:300] for r in responses if r.status_code != 201][:3]
    dins = [r.json()["din"] for r in responses]
    codes = [s["code"] for r in responses for s in r.json()["samples"]]
    add("duplicates", len(dins) - len(set(dins)) + len(codes) - len(set(codes)))
    assert len(set(dins)) == len(dins), Counter(dins).most_common(3)
    assert len(set(codes)) == len(codes)
    # And what is stored says the same: one collection per DIN.
    stored = apis[1].get("/collections", params={"donor_id": donor["id"], "limit": 200}).json()
    stored_dins = [c["din"] for c in stored["items"]]
    assert sorted(stored_dins) == sorted(dins)


def test_one_box_position_takes_exactly_one_tube(apis) -> None:
    api = apis[0]
    box = helpers.box(api, rows=2, cols=2)
    ids = []
    for _ in range(30):
        s = helpers.primary(api)
        helpers.step(api, s["id"], "receive")
        ids.append(s["id"])

    def send(i: int, a: HttpApi) -> httpx.Response:
        return a.post(f"/samples/{ids[i % len(ids)]}/transitions",
                      {"event": "cryopreserve", "data": {"box_id": box["id"], "position": 3}})

    responses = storm(apis, 120, send)
    won = [r for r in responses if r.status_code == 200]
    assert len(won) == 1, Counter(r.status_code for r in responses)
    refused_cleanly(responses)
    held = apis[1].get(f"/locations/{box['id']}").json()["positions"]
    assert held == [{"position": 3, "sample_id": won[0].json()["id"],
                     "code": won[0].json()["code"]}]
    states = Counter(apis[1].get(f"/samples/{i}").json()["state"] for i in ids)
    assert states == {"cryopreserved": 1, "received": len(ids) - 1}


def test_audit_trail_verifies_after_the_storms(apis) -> None:
    result = apis[1].as_("qa").get("/audit/verify")
    assert result.status_code == 200, result.text
    assert result.json()["ok"] is True, result.json()
