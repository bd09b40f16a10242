"""Browser tests: a real uvicorn server process on a copy of the seeded test database, and
one headless Debian Chromium for the whole session, with every request that does not go
to the lims server blocked (the pages must work on an isolated lab network).

Without /usr/bin/chromium (or the playwright package) the browser tests are skipped and
the run says so; with LIMS_REQUIRE_BROWSER=1 (set by .ci/run) they fail instead."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = os.environ.get("LIMS_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("LIMS_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SKIP_NOTE = "browser tests SKIPPED"
ROOT = Path(__file__).resolve().parents[2]


def _browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found (install Debian's chromium: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


def need_browser() -> None:
    problem = _browser_missing()
    if problem:
        if REQUIRE_BROWSER:
            pytest.fail(f"LIMS_REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(f"{SKIP_NOTE}: {problem}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`lims` served by uvicorn in its own process, as in production."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "LIMS_DATABASE_URL": database_url, "LIMS_FACILITY_ID": "W1234",
               "LIMS_TIMEZONE": "Europe/Berlin", "LIMS_FAST_PASSWORD_HASHING": "1",
               "PYTHONPATH": str(ROOT)}
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "lims.main:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
             "--timeout-graceful-shutdown", "1"],
            env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: see {log}")
            try:
                if httpx.get(self.url + "/api/v1/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"the server did not start within 30 s: see {log}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


class _Response:
    """What tests.api.helpers expect of a response (status_code, json(), text)."""

    def __init__(self, r: httpx.Response) -> None:
        self._r = r
        self.status_code, self.text, self.content = r.status_code, r.text, r.content

    def json(self) -> Any:
        return self._r.json()


@dataclass
class LiveApi:
    """The seeded people calling the API of a live server: api.as_("qa").post(...)."""

    client: httpx.Client
    user: str = "tech"

    def as_(self, user: str) -> LiveApi:
        return LiveApi(self.client, user)

    def _h(self, extra: dict | None) -> dict:
        return {"Authorization": f"Bearer {self.user}-token", **(extra or {})}

    def get(self, url: str, **kw: Any) -> _Response:
        return _Response(self.client.get("/api/v1" + url, headers=self._h(kw.pop("headers",
                                                                                 None)), **kw))

    def post(self, url: str, json: object = None, **kw: Any) -> _Response:
        return _Response(self.client.post("/api/v1" + url, json=json,
                                          headers=self._h(kw.pop("headers", None)), **kw))


@pytest.fixture(scope="session")
def live_server(sqlite_template: Path,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    need_browser()
    tmp = tmp_path_factory.mktemp("live")
    shutil.copy(sqlite_template, tmp / "live.db")
    server = Server(f"sqlite:///{tmp / 'live.db'}", tmp / "server.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_api(live_server: Server) -> Iterator[LiveApi]:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield LiveApi(client)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@dataclass
class Offline:
    """Requests the browser tried to make to anywhere but the lims server (all aborted)."""

    blocked: list[str] = field(default_factory=list)


def new_page(browser: Any, server: Server, user: str | None, offline: Offline) -> Any:
    context = browser.new_context(viewport={"width": 1024, "height": 768},
                                  base_url=server.url)
    context.set_default_timeout(10_000)

    def gate(route: Any) -> None:
        if route.request.url.startswith(server.url + "/"):
            route.continue_()
        else:
            offline.blocked.append(route.request.url)
            route.abort()

    context.route("**/*", gate)
    if user:  # the seeded bearer token is a valid session: no need to type a password
        context.add_cookies([{"name": "lims_session", "value": f"{user}-token",
                              "url": server.url}])
    return context.new_page()


@pytest.fixture
def offline() -> Offline:
    return Offline()


@pytest.fixture
def open_page(browser: Any, live_server: Server, offline: Offline) -> Iterator[Any]:
    """open_page("tech") -> a fresh page signed in as that person (1024x768)."""
    pages: list[Any] = []

    def make(user: str | None = "tech") -> Any:
        page = new_page(browser, live_server, user, offline)
        pages.append(page)
        return page

    yield make
    for p in pages:
        p.context.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
