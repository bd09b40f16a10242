"""The `lims` command: migrate, users, audit verify / export, offline verification."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from lims.cli import app
from lims.config import get_settings


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("LIMS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("LIMS_FAST_PASSWORD_HASHING", "1")
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(app, list(args))
        assert (result.exit_code == 0) is ok, result.output
        return result

    yield run, tmp_path
    get_settings.cache_clear()


def test_demo_verify_tamper_and_export(cli):
    run, tmp = cli
    run("db", "upgrade")
    assert '"cryopreserved"' in run("demo").output
    run("users", "add", "lab2", "Lab Two", "--role", "integration", "--service-account")
    refused = run("users", "add", "lab3", "Lab Three", "--role", "wizard",
                  "--service-account", ok=False)
    assert refused.exit_code == 2 and "Unknown roles 'wizard'" in refused.output
    assert refused.exception is None or isinstance(refused.exception, SystemExit)
    assert '"ok": true' in run("audit", "verify").output
    run("audit", "checkpoint")
    out = tmp / "trail.jsonl"
    run("audit", "export", str(out))
    offline = subprocess.run([sys.executable, "-m", "lims.domain.audit", str(out)],
                             capture_output=True, text=True)
    assert offline.returncode == 0 and offline.stdout.startswith("OK")

    # Someone edits a row behind the service's back (the trigger removed first).
    engine = create_engine(f"sqlite:///{tmp / 'cli.db'}")
    with engine.begin() as c:
        c.execute(text("DROP TRIGGER audit_entry_no_update"))
        c.execute(text("UPDATE audit_entry SET actor_name = 'Someone Else' WHERE id = 7"))
    engine.dispose()
    result = run("audit", "verify", ok=False)
    assert '"ok": false' in result.output and '"entry_id": 7' in result.output
    run("audit", "export", str(out))
    offline = subprocess.run([sys.executable, "-m", "lims.domain.audit", str(out)],
                             capture_output=True, text=True)
    assert offline.returncode == 1 and "BROKEN" in offline.stdout


def test_demo_refuses_to_load_twice(cli):
    run, _ = cli
    run("db", "upgrade")
    run("demo")
    again = run("demo", ok=False)
    assert "already loaded" in f"{again.output}{again.exception}"
