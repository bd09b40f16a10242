"""Test databases: every test gets a fresh copy of a migrated database, on SQLite and on
PostgreSQL. PostgreSQL is skipped (and said so) when no server answers, unless
LIMS_REQUIRE_POSTGRES=1 (set by .ci/run), which turns a missing server into a failure."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("LIMS_FAST_PASSWORD_HASHING", "1")

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from lims.config import Settings  # noqa: E402
from lims.db.engine import make_engine, unit_of_work  # noqa: E402
from lims.db.migrate import upgrade  # noqa: E402
from lims.db.tables import AuthToken  # noqa: E402
from lims.db.types import utcnow  # noqa: E402
from lims.services import passwords, users  # noqa: E402
from lims.services.context import Actor, Context  # noqa: E402

# The reliability suite (real server processes, kills, a private PostgreSQL) takes minutes:
# `make test-reliability` runs it on its own (LIMS_RELIABILITY=1); `make test` skips it.
collect_ignore = [] if os.environ.get("LIMS_RELIABILITY") == "1" else ["reliability"]

PG_ADMIN_URL = os.environ.get("LIMS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("LIMS_REQUIRE_POSTGRES") == "1"
PASSWORD = "correct-horse-42"
SEED = Actor(id="seed", name="test seed", roles=frozenset({"admin"}), username="seed")
# One person per role, plus a second QA person for two-person rules and a service account.
PEOPLE = {
    "tech": ("Jana Tech", ["technician"]),
    "tech2": ("Tom Second", ["technician"]),
    "coord": ("Carla Coordinator", ["coordinator"]),
    "qa": ("Quentin QA", ["qa"]),
    "admin": ("Ada Admin", ["admin"]),
    "hospital": ("Hospital LIMS", ["integration"]),
}


def _pg_reachable() -> str | None:
    try:
        eng = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


def _seed(url: str) -> None:
    """Users and ready-made bearer tokens (token = '<username>-token') in the template."""
    settings = Settings(database_url=url)
    engine = make_engine(url)
    with unit_of_work(engine) as session:
        ctx = Context(session=session, actor=SEED, settings=settings)
        for username, (name, roles) in PEOPLE.items():
            service = "integration" in roles
            u = users.add_user(ctx, username=username, full_name=name, roles=roles,
                               password=None if service else PASSWORD)
            session.add(AuthToken(user_id=u.id, token_hash=passwords.digest(f"{username}-token"),
                                  expires_at=utcnow() + timedelta(days=2)))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    _seed(url)
    return path


@pytest.fixture(scope="session")
def pg_template(worker_id: str) -> Iterator[str]:
    problem = _pg_reachable()
    if problem:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required (LIMS_REQUIRE_POSTGRES=1) but: {problem}")
        pytest.skip(f"PostgreSQL not reachable ({problem})")
    # The pid keeps concurrent test runs on one server out of each other's way.
    name = f"lims_tpl_{worker_id}_{os.getpid()}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    upgrade(_pg_url(name))
    _seed(_pg_url(name))
    yield name
    _drop_pg(name)


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


_counter = iter(range(10**9))


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _create_pg(template: str, name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        # FILE_COPY copies the template's files at once: about twice as fast here as the
        # WAL_LOG default of PostgreSQL 15+ (older servers know only this way).
        modern = c.execute(text("SHOW server_version_num")).scalar_one() >= "150000"
        strategy = " STRATEGY FILE_COPY" if modern else ""
        c.execute(text(f"CREATE DATABASE {name} TEMPLATE {template}{strategy}"))
    admin.dispose()


def _drop_pg(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_scratch(pg_template: str, worker_id: str) -> Iterator[str]:
    """One PostgreSQL database per worker, emptied and re-seeded before each API test:
    creating a database per test costs 1-2 s here, emptying one about 0.1 s."""
    name = f"lims_s_{worker_id}_{os.getpid()}"
    _create_pg(pg_template, name)
    yield _pg_url(name)
    _drop_pg(name)


def _reset_pg(url: str) -> None:
    from sqlmodel import SQLModel

    engine = create_engine(url)
    with engine.begin() as c:
        # Replica mode skips the append-only and foreign-key triggers, for this connection
        # only; DELETE of a few rows is much cheaper than TRUNCATE's new files per table.
        c.execute(text("SET session_replication_role = replica"))
        for table in reversed(SQLModel.metadata.sorted_tables):
            c.execute(table.delete())
    engine.dispose()
    _seed(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, worker_id: str) -> Iterator[str]:
    """A fresh, migrated, seeded database for this test. Tests under tests/db (which
    change schemas, triggers and rows behind the service's back) get a database of their
    own on PostgreSQL; the others share one per worker, emptied before each test."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        shutil.copy(template, tmp_path / "test.db")
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if "tests/db/" not in request.node.nodeid:
        url = request.getfixturevalue("pg_scratch")
        _reset_pg(url)
        yield url
        return
    template = request.getfixturevalue("pg_template")
    name = f"lims_t_{worker_id}_{os.getpid()}_{next(_counter)}"
    _create_pg(template, name)
    yield _pg_url(name)
    _drop_pg(name)


@pytest.fixture
def pg_url(db_url: str) -> str:
    """Only the PostgreSQL half (row locks and real concurrency)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL")
    return db_url


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, facility_id="W1234", timezone="Europe/Berlin")


@pytest.fixture(scope="session")
def _app_once() -> Any:
    """Building the app costs about 0.2 s: build it once per worker, and give each test
    its own settings and engine (exactly what create_app puts on app.state)."""
    from lims.main import create_app

    application = create_app(Settings(database_url="sqlite:///:memory:"))
    application.state.engine.dispose()
    return application


@pytest.fixture
def app(_app_once: Any, settings: Settings) -> Iterator:
    _app_once.state.settings = settings
    _app_once.state.engine = make_engine(settings.database_url)
    yield _app_once
    _app_once.state.engine.dispose()


@dataclass
class Api:
    """A test client that acts as one of the seeded people: api.as_("qa").post(...)."""

    client: TestClient
    user: str = "tech"

    def as_(self, user: str) -> Api:
        return Api(self.client, user)

    def _headers(self, extra: dict | None) -> dict:
        auth = {"Authorization": f"Bearer {self.user}-token"} if self.user else {}
        return {**auth, **(extra or {})}

    def get(self, url: str, **kw) -> object:
        headers = self._headers(kw.pop("headers", None))
        return self.client.get("/api/v1" + url, headers=headers, **kw)

    def post(self, url: str, json: object = None, **kw) -> object:
        return self.client.post("/api/v1" + url, json=json,
                                headers=self._headers(kw.pop("headers", None)), **kw)

    def put(self, url: str, json: object = None, **kw) -> object:
        return self.client.put("/api/v1" + url, json=json,
                               headers=self._headers(kw.pop("headers", None)), **kw)

    def delete(self, url: str, **kw) -> object:
        return self.client.delete("/api/v1" + url, headers=self._headers(kw.pop("headers", None)),
                                  **kw)


@pytest.fixture
def api(app) -> Iterator[Api]:
    with TestClient(app) as client:
        yield Api(client)


@pytest.fixture
def engine(settings: Settings) -> Iterator:
    eng = make_engine(settings.database_url)
    yield eng
    eng.dispose()


def actor_for(engine, username: str) -> Actor:
    from sqlalchemy import select

    from lims.db.tables import AppUser

    with unit_of_work(engine) as s:
        u = s.execute(select(AppUser).where(AppUser.username == username)).scalar_one()
        return users.actor_of(u)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001
    """Say plainly which databases were tested (works with pytest-xdist workers too)."""
    stats = terminalreporter.stats
    pg_skips = [r for r in stats.get("skipped", []) if "PostgreSQL not reachable" in str(
        r.longrepr)]
    pg_ran = [r for key in ("passed", "failed") for r in stats.get(key, [])
              if "[postgresql" in getattr(r, "nodeid", "")]
    if pg_skips and not pg_ran:
        reason = str(pg_skips[0].longrepr[-1]) if isinstance(pg_skips[0].longrepr, tuple) else ""
        terminalreporter.write_sep(
            "!", "PostgreSQL half SKIPPED: no server answered. Only SQLite was tested. "
            "Start PostgreSQL or run .ci/run (which requires it).", yellow=True, bold=True)
        if reason:
            terminalreporter.write_line(reason)
    elif pg_ran:
        terminalreporter.write_sep("=", f"database backends tested: SQLite and PostgreSQL "
                                   f"({len(pg_ran)} PostgreSQL test runs)", green=True)
    no_browser = [r for r in stats.get("skipped", [])
                  if "browser tests SKIPPED" in str(getattr(r, "longrepr", ""))]
    if no_browser:  # said here: with pytest-xdist only this conftest reports at the end
        terminalreporter.write_sep("!", f"{len(no_browser)} browser tests SKIPPED: no Chromium "
                                   "here. Install it (apt-get install chromium) or run .ci/run, "
                                   "which requires it.", yellow=True, bold=True)
