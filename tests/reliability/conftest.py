"""The reliability suite: real `lims serve` processes on one PostgreSQL database.

Run with `make test-reliability` (LIMS_RELIABILITY=1; `make test` does not collect this
directory). Every run creates a fresh database `lims_rel_<random>` on the shared server,
migrates it with `lims db upgrade`, starts two servers on free ports, and drops the
database at the end. The outage test starts a PRIVATE PostgreSQL cluster of its own: the
shared server is never stopped.

TODO(pages, event feed, webhooks, worker): when those exist, start `lims worker` next to
the servers here, add the page routes to the access matrix (test_access.py enumerates
app.routes, so they are tried automatically with bad credentials), and check in
test_crash.py that webhook deliveries resume without loss or duplicates after a kill.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL, REQUIRE_PG, _pg_reachable, _pg_url, _seed
from tests.reliability.figures import CAPTURED, FIGURES

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lims_command() -> list[str]:
    """The installed `lims` entry point next to this Python, else the same CLI via -c."""
    script = Path(sys.executable).with_name("lims")
    if script.exists():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "import sys; from lims.cli import app; app(sys.argv[1:])"]


def server_env(database_url: str) -> dict[str, str]:
    env = {**os.environ, "LIMS_DATABASE_URL": database_url, "LIMS_FACILITY_ID": "W1234",
           "LIMS_FAST_PASSWORD_HASHING": "1", "PYTHONPATH": str(ROOT)}
    env.pop("LIMS_RELIABILITY", None)
    return env


def lims(database_url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a `lims` command against the database (output captured for the secrets grep)."""
    done = subprocess.run([*lims_command(), *args], env=server_env(database_url), cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    CAPTURED.append(done.stdout + done.stderr)
    if check:
        assert done.returncode == 0, f"lims {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done


@dataclass
class Server:
    """One `lims serve` process on its own port; its log goes to a file we grep later."""

    database_url: str
    log_dir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_ready: bool = True) -> None:
        self.starts += 1
        log = (self.log_dir / f"server-{self.port}-{self.starts}.log").open("w")
        self.proc = subprocess.Popen(
            [*lims_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=server_env(self.database_url), cwd=ROOT, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_up(ready=wait_ready)

    def wait_up(self, ready: bool = True, timeout: float = 60) -> None:
        path = "/api/v1/readyz" if ready else "/api/v1/healthz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, \
                f"server on {self.port} exited: {self.logs()[-3000:]}"
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server on {self.port} not up after {timeout} s")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing; what a power cut does to a process."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")
                         for p in sorted(self.log_dir.glob(f"server-{self.port}-*.log")))


def create_database(admin_url: str) -> str:
    name = f"lims_rel_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return name


def drop_database(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(scope="session")
def rel_db() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, migrated by `lims db upgrade`, seeded
    with one person per role (bearer token '<username>-token')."""
    problem = _pg_reachable()
    if problem:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required (LIMS_REQUIRE_POSTGRES=1) but: {problem}")
        pytest.skip(f"PostgreSQL not reachable ({problem})")
    name = create_database(PG_ADMIN_URL)
    url = _pg_url(name)
    try:
        lims(url, "db", "upgrade")
        _seed(url)
        yield url
    finally:
        drop_database(PG_ADMIN_URL, name)


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-logs")


@contextmanager
def serving(url: str, log_dir: Path) -> Iterator[list[Server]]:
    """Two `lims serve` processes on different ports, one database; their logs are kept
    for the secrets check when they stop."""
    pair = [Server(url, log_dir), Server(url, log_dir)]
    try:
        for s in pair:
            s.start()
        yield pair
    finally:
        for s in pair:
            s.stop()
        for s in pair:
            CAPTURED.append(s.logs())


@pytest.fixture(scope="session")
def servers(rel_db: str, log_dir: Path) -> Iterator[list[Server]]:
    with serving(rel_db, log_dir) as pair:
        yield pair


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {user}-token"}


# --- a private PostgreSQL cluster (for the outage test only) -------------------------------


def pg_bin(tool: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{tool}"),
                   key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if found:
        return str(found[-1])
    on_path = shutil.which(tool)
    if not on_path:
        pytest.skip(f"{tool} not found (needs the PostgreSQL server package)")
    return on_path


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres OS user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@dataclass
class PrivateCluster:
    """A throw-away PostgreSQL cluster in a temp dir on a free port, which this suite may
    stop and start at will (never the shared server)."""

    root: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        subprocess.run(_as_postgres(["mkdir", "-p", str(self.root)]), check=True)
        subprocess.run(_as_postgres([pg_bin("initdb"), "-D", str(self.data), "-A", "trust",
                                     "-U", "postgres", "--no-sync"]),
                       check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        subprocess.run(_as_postgres([
            pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "pg.log"), "-w",
            "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off -c max_connections=60", "start"]),
            check=True, capture_output=True, timeout=120)

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(_as_postgres([pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode,
                                     "-w", "stop"]), capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def private_cluster() -> Iterator[PrivateCluster]:
    # Not under pytest's temp root: that directory is private to root (0700), and the
    # cluster runs as the postgres user.
    root = Path(tempfile.mkdtemp(prefix="lims-rel-pg-"))
    cluster = PrivateCluster(root / "cluster")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


# The figures issue 13 asks for, in its order; the rest follow alphabetically.
HEADLINE = ("requests tried", "conflicts refused", "kills survived", "outage seconds",
            "fuzz cases tried", "lost acknowledged writes", "duplicates",
            "5xx on hostile input")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001
    """The figures the issue asks for, printed at the end of the run."""
    if not FIGURES:
        return
    terminalreporter.write_sep("=", "reliability figures")
    first = [n for n in HEADLINE if n in FIGURES]
    for name in [*first, *sorted(set(FIGURES) - set(first))]:
        terminalreporter.write_line(f"{name:>40}: {FIGURES[name]}")
