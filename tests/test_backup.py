"""`lims backup` / `lims restore` on the embedded SQLite database (the PostgreSQL
pg_dump/pg_restore path is proven in tests/reliability/test_backup.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from lims.cli import app
from lims.config import get_settings


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("LIMS_DATABASE_URL", f"sqlite:///{tmp_path / 'lab.db'}")
    monkeypatch.setenv("LIMS_FAST_PASSWORD_HASHING", "1")
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(app, list(args))
        assert (result.exit_code == 0) is ok, result.output
        return result

    yield run, tmp_path
    get_settings.cache_clear()


def samples(path) -> list[tuple]:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as c:
        rows = c.execute(text("SELECT id, code, state, version FROM sample ORDER BY id")).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_backup_then_restore_brings_back_the_same_samples_and_a_valid_trail(cli) -> None:
    run, tmp = cli
    run("db", "upgrade")
    run("demo")
    before = samples(tmp / "lab.db")
    assert len(before) > 5
    run("backup", str(tmp / "lab.backup"))

    # Work goes on after the backup (a new user), then the restore takes it back.
    run("users", "add", "late", "Late Comer", "--role", "integration", "--service-account")
    result = run("restore", str(tmp / "lab.backup"), "--yes")
    assert '"ok": true' in result.output
    assert samples(tmp / "lab.db") == before
    engine = create_engine(f"sqlite:///{tmp / 'lab.db'}")
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM app_user WHERE username = 'late'")
                         ).scalar_one() == 0
    engine.dispose()
    assert '"ok": true' in run("audit", "verify").output


def test_restore_refuses_a_file_that_is_not_a_backup_and_changes_nothing(cli) -> None:
    run, tmp = cli
    run("db", "upgrade")
    run("demo")
    before = samples(tmp / "lab.db")
    junk = tmp / "junk.backup"
    junk.write_bytes(b"this is not a database" * 100)
    result = run("restore", str(junk), "--yes", ok=False)
    assert "restore failed" in result.output
    assert samples(tmp / "lab.db") == before
    assert "restore failed" in run("restore", str(tmp / "missing.backup"), "--yes",
                                   ok=False).output
