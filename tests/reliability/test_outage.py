"""Database outage: the database stops for a few seconds under load and comes back.

On a PRIVATE PostgreSQL cluster (conftest.PrivateCluster): the shared server is never
stopped. While the database is away every answer that needs it is a 503 problem with
Retry-After (never a 500 or a traceback), readyz says not ready; afterwards the servers
recover by themselves (no restart) and everything they acknowledged is stored.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api import helpers
from tests.conftest import _seed
from tests.reliability.client import HttpApi, client, is_problem
from tests.reliability.conftest import PrivateCluster, Server, create_database, lims, serving
from tests.reliability.figures import add, ensure

OUTAGE_SECONDS = 4.0


@pytest.fixture(scope="module")
def outage_servers(private_cluster: PrivateCluster, tmp_path_factory) -> Iterator[list[Server]]:
    name = create_database(private_cluster.admin_url)
    url = private_cluster.admin_url.rsplit("/", 1)[0] + f"/{name}"
    lims(url, "db", "upgrade")
    _seed(url)
    with serving(url, Path(tmp_path_factory.mktemp("outage-logs"))) as pair:
        yield pair


def test_outage_answers_503_then_recovers_without_losing_acknowledged_writes(
        private_cluster: PrivateCluster, outage_servers: list[Server]) -> None:
    ensure("lost acknowledged writes", "5xx other than 503 during the outage")
    apis = [client(s.url, timeout=30) for s in outage_servers]
    sample = helpers.primary(apis[0])
    helpers.step(apis[0], sample["id"], "receive")
    helpers.step(apis[0], sample["id"], "start_culture", data={})

    acked: list[tuple[str, dict]] = []
    during: Counter[str] = Counter()
    bad: list[str] = []
    down = threading.Event()
    stop = threading.Event()

    def check_outage_answer(r: httpx.Response, what: str) -> None:
        if r.status_code >= 500:
            if not (is_problem(r, 503) and r.headers.get("Retry-After", "").isdigit()):
                bad.append(f"{what}: {r.status_code} {r.headers.get('Retry-After')} "
                           f"{r.text[:300]}")
                add("5xx other than 503 during the outage")
            elif down.is_set():
                during["503 with Retry-After"] += 1

    def writer(api: HttpApi) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            key = uuid.uuid4().hex
            body = {"payload": helpers.scan_code(sample), "station": "hood-2",
                    "event": "passage", "data": {"flasks": 1 + n % 5}}
            while not stop.is_set():  # same key until a definite answer
                try:
                    r = api.post("/scans/act", body, headers={"Idempotency-Key": key})
                except httpx.TransportError as exc:
                    bad.append(f"connection broken by the server: {exc!r}")
                    break
                check_outage_answer(r, "scan/act")
                if r.status_code == 200:
                    acked.append((key, r.json()))
                    break
                if r.status_code != 503:
                    bad.append(f"scan/act: {r.status_code} {r.text[:300]}")
                    break
                time.sleep(0.2)

    def reader(api: HttpApi) -> None:
        while not stop.is_set():
            for method, url, kw in [
                ("GET", f"/samples/{sample['id']}", {}),
                ("GET", "/samples", {"params": {"state": "in_culture"}}),
                ("GET", "/auth/me", {}),
                ("POST", "/auth/token", {"data": {"username": "nobody", "password": "wrong-one-1"},
                                         "headers": {"Authorization": ""}}),
            ]:
                try:
                    r = api.request(method, url, **kw)
                except httpx.TransportError as exc:
                    bad.append(f"connection broken by the server: {exc!r}")
                    continue
                check_outage_answer(r, f"{method} {url}")
            time.sleep(0.05)

    threads = [threading.Thread(target=writer, args=(a,)) for a in apis]
    threads += [threading.Thread(target=reader, args=(a,)) for a in apis]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        private_cluster.stop("fast")
        down.set()
        started = time.monotonic()
        while time.monotonic() - started < OUTAGE_SECONDS:
            for s in outage_servers:
                r = httpx.get(s.url + "/api/v1/readyz", timeout=10)
                assert r.status_code == 503, r.text
                assert httpx.get(s.url + "/api/v1/healthz", timeout=10).status_code == 200
            time.sleep(0.3)
        add("outage seconds", round(time.monotonic() - started, 1))
        down.clear()
        private_cluster.start()
        # Recovery by itself: no server restart, the pool reconnects.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if all(httpx.get(s.url + "/api/v1/readyz", timeout=10).status_code == 200
                   for s in outage_servers):
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the servers did not become ready after the outage")
        n_before = len(acked)
        time.sleep(1.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)
    assert not bad, sorted(Counter(b[:160] for b in bad).items())[:8]
    assert during["503 with Retry-After"] > 0, "no request hit the outage"
    assert len(acked) > n_before, "no write succeeded after the outage"
    add("503 answers during the outage", during["503 with Retry-After"])

    told = sorted(a["passage"] for _, a in acked)
    stored = apis[1].get(f"/samples/{sample['id']}").json()["passage"]
    lost = len(set(told) - set(range(1, stored + 1)))
    add("lost acknowledged writes", lost)
    assert told == list(range(1, len(told) + 1)) and stored == len(told), (told, stored)
    result = apis[0].as_("qa").get("/audit/verify").json()
    assert result["ok"] is True, result
