"""Backup and restore of the whole database: pg_dump/pg_restore for PostgreSQL, the
SQLite online backup API for the embedded default. A backup is taken while the service
runs (both are consistent snapshots); a restore replaces everything in the target."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url


class BackupFailed(RuntimeError):
    """pg_dump/pg_restore or SQLite refused; the message says why."""


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupFailed("An in-memory SQLite database cannot be backed up or restored.")
    return Path(url.database)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password (which goes in PGPASSWORD, so
    it never shows in the process list) and the environment for the tools."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupFailed(f"{name} was not found: install the PostgreSQL client tools "
                           "(Debian: postgresql-client) of the server's major version.")
    return found


def _run(cmd: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupFailed(f"{Path(cmd[0]).name} failed: {done.stderr.strip()[-2000:]}")


def backup(database_url: str, target: Path) -> None:
    """Write a consistent copy of the database to `target` (overwritten)."""
    url = make_url(database_url)
    target.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(_sqlite_path(url))
        dest = sqlite3.connect(target)
        try:
            with dest:
                source.backup(dest)  # online: a consistent snapshot while others write
        finally:
            dest.close()
            source.close()
        return
    dsn, env = _libpq(url)
    # Custom format: compressed, and pg_restore can restore it into an empty database.
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={target}", dsn], env)


def restore(database_url: str, source: Path) -> None:
    """Replace the database's contents with the backup in `source`, all or nothing."""
    if not source.is_file():
        raise BackupFailed(f"No backup file at {source}.")
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dest = sqlite3.connect(path)
        try:
            if backup_db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupFailed(f"{source} is not an intact SQLite database.")
            with dest:
                backup_db.backup(dest)
        except sqlite3.DatabaseError as exc:
            raise BackupFailed(f"{source} is not a lims SQLite backup: {exc}") from None
        finally:
            dest.close()
            backup_db.close()
        return
    dsn, env = _libpq(url)
    _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
          "--exit-on-error", f"--dbname={dsn}", str(source)], env)
