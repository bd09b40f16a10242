"""The dashboard is live across server processes: two uvicorn processes on one PostgreSQL
database; a change made through one reaches a dashboard connected to the other."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api import helpers as h
from tests.conftest import _create_pg, _drop_pg, _pg_url
from tests.web.conftest import LiveApi, Server, need_browser, screenshot


@pytest.fixture(scope="module")
def two_servers(pg_template: str, worker_id: str,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    need_browser()
    name = f"lims_live_{worker_id}_{os.getpid()}"
    _create_pg(pg_template, name)
    tmp: Path = tmp_path_factory.mktemp("two")
    servers = [Server(_pg_url(name), tmp / f"server-{i}.log") for i in (1, 2)]
    yield servers[0], servers[1]
    for s in servers:
        s.stop()
    _drop_pg(name)


def test_dashboard_on_one_process_sees_a_change_made_through_the_other(
        two_servers, browser, offline):
    from tests.web.conftest import new_page

    shown_by, changed_through = two_servers
    with httpx.Client(base_url=changed_through.url, timeout=30) as client:
        api = LiveApi(client)
        sample = h.primary(api)
        h.step(api, sample["id"], "receive")
        page = new_page(browser, shown_by, "coord", offline)
        try:
            page.goto("/dashboard")
            received = page.locator('[data-count="state:received"]')
            assert received.inner_text() == "1"
            page.locator("#live").get_by_text("updates by itself").wait_for()
            h.step(api, sample["id"], "start_processing", data={"method": "volume_reduction"})
            # No reload: the numbers change by themselves (the issue asks for 2 s or less;
            # the wait allows more so a busy test machine does not fail it).
            page.wait_for_function(
                "() => document.querySelector('[data-count=\"state:received\"]')"
                ".textContent === '0' && document.querySelector("
                "'[data-count=\"state:in_processing\"]').textContent === '1'", timeout=6000)
            assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
            screenshot(page, "dashboard-live-postgres")
        finally:
            page.context.close()
    assert offline.blocked == []
