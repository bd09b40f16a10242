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
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    _seed(url)
    yield name
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


_counter = iter(range(10**9))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, worker_id: str) -> Iterator[str]:
    """A fresh, migrated, seeded database for this test."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        shutil.copy(template, tmp_path / "test.db")
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"lims_t_{worker_id}_{os.getpid()}_{next(_counter)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name} TEMPLATE {template}"))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def pg_url(db_url: str) -> str:
    """Only the PostgreSQL half (row locks and real concurrency)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL")
    return db_url


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, facility_id="W1234", timezone="Europe/Berlin")


@pytest.fixture
def app(settings: Settings) -> Iterator:
    from lims.main import create_app

    application = create_app(settings)
    yield application
    application.state.engine.dispose()


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
