"""`schemathesis run --checks all` over the whole OpenAPI document, as a new integrator
would run it against a running service: authenticated with a service account's API key,
a few examples per operation.

The coverage phase (every boundary of every schema, about 4,400 requests) takes minutes on
these machines: it runs with LIMS_SCHEMATHESIS_FULL=1; the default run has the examples,
fuzzing and stateful phases."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from lims.config import Settings
from lims.db.engine import make_engine, unit_of_work
from lims.services import users
from lims.services.context import Context
from tests.conftest import SEED

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PHASES = ("examples,coverage,fuzzing,stateful" if os.environ.get("LIMS_SCHEMATHESIS_FULL")
          else "examples,fuzzing,stateful")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _integrator_key(url: str) -> str:
    """A service account that may do everything an integration could ask for."""
    engine = make_engine(url)
    with unit_of_work(engine) as session:
        ctx = Context(session=session, actor=SEED, settings=Settings(database_url=url))
        account = users.add_user(ctx, username="st-integrator", full_name="Schemathesis",
                                 roles=["technician", "coordinator", "qa", "admin"],
                                 password=None)
        _, secret = users.create_api_key(ctx, account, "schemathesis", ["read", "write"])
    engine.dispose()
    return secret


@pytest.fixture
def service(sqlite_template: Path, tmp_path: Path):
    db = tmp_path / "st.db"
    shutil.copy(sqlite_template, db)
    url = f"sqlite:///{db}"
    key = _integrator_key(url)
    port = _free_port()
    env = {**os.environ, "LIMS_DATABASE_URL": url, "LIMS_FAST_PASSWORD_HASHING": "1"}
    server = subprocess.Popen(
        [str(BIN / "python"), "-m", "uvicorn", "lims.main:create_app", "--factory",
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/api/v1/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the service did not start: " + server.stderr.read().decode()[-2000:])
        yield base, key
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_schemathesis_finds_no_failure_in_the_whole_document(service, tmp_path):
    base, key = service
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.contract.schemathesis_hooks",
           "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [str(BIN / "schemathesis"), "run", f"{base}/openapi.json", "--checks", "all",
         "-H", f"X-API-Key: {key}", "--max-examples", "2", "--seed", "20261202",
         "--phases", PHASES,
         "--workers", "1", "--continue-on-failure", "--no-color",
         "--report", "junit", "--report-dir", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)  # its cache too
    summary = run.stdout[run.stdout.find("FAILURES"):] if "FAILURES" in run.stdout else \
        run.stdout[-3000:]
    assert run.returncode == 0, summary[:20000]
    assert "Tested: " in run.stdout
