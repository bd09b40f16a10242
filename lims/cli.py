"""The `lims` command: serve, migrate, demo data, users, audit, the webhook worker."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from lims.config import get_settings
from lims.services.context import Context

app = typer.Typer(help="lims: sample tracking for stem-cell laboratories.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic migrations).")
users_app = typer.Typer(help="People and service accounts.")
audit_app = typer.Typer(help="The tamper-evident audit trail.")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")


@contextmanager
def _context(actor_name: str = "lims cli") -> Iterator[Context]:
    """One unit of work as the command-line administrator."""
    from lims.db.engine import make_engine, unit_of_work
    from lims.domain.errors import DomainError
    from lims.services.context import Actor

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with unit_of_work(engine) as session:
            yield Context(session=session, settings=settings,
                          actor=Actor(id="cli", name=actor_name, roles=frozenset({"admin"})))
    except DomainError as exc:  # a refusal is a message for the operator, not a traceback
        typer.echo(f"refused: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          reload: bool = False) -> None:
    """Start the HTTP service (API docs at /docs)."""
    import copy

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    # Our one-line-per-request log replaces uvicorn's access log (it adds user and
    # request id).
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["lims"] = {"handlers": ["default"], "level": "INFO",
                                 "propagate": False}
    uvicorn.run("lims.main:create_app", factory=True, host=host, port=port, workers=workers,
                reload=reload, log_level="info", log_config=config, access_log=False)


@app.command()
def worker(once: bool = typer.Option(False, help="Deliver what is due now, then exit")) -> None:
    """Deliver webhooks: fan feed events out to subscriptions, POST them signed, retry
    with back-off. Run as many as you like on PostgreSQL; stop with SIGTERM or Ctrl-C
    (the current round finishes first). Timings: LIMS_WEBHOOK_* and LIMS_WORKER_*."""
    import logging
    import signal
    import threading

    from lims.db.engine import make_engine
    from lims.services import delivery

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = get_settings()
    engine = make_engine(settings.database_url)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        delivery.run(engine, settings, stop, once=once)
    finally:
        engine.dispose()


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database to the newest schema (creates the SQLite file if needed)."""
    from lims.db.migrate import upgrade

    upgrade(get_settings().database_url, revision)
    typer.echo(f"database at {revision}")


@app.command()
def backup(out: Path = typer.Argument(..., help="Backup file to write")) -> None:
    """Copy the whole database to a file while the service runs (PostgreSQL: pg_dump
    custom format; SQLite: the online backup API)."""
    from lims.db import backup as backups

    try:
        backups.backup(get_settings().database_url, out)
    except backups.BackupFailed as exc:
        typer.echo(f"backup failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"backup written to {out}")


@app.command()
def restore(source: Path = typer.Argument(..., help="Backup file written by `lims backup`"),
            yes: bool = typer.Option(False, "--yes", help="Do not ask before replacing")) -> None:
    """Replace the database with a backup (all or nothing), then verify the audit trail.
    Stop the servers first: they would otherwise keep writing into the old data."""
    from lims.db import backup as backups
    from lims.services import audit

    if not yes:
        typer.confirm("This replaces everything in the database with the backup. Go on?",
                      abort=True)
    try:
        backups.restore(get_settings().database_url, source)
    except backups.BackupFailed as exc:
        typer.echo(f"restore failed: {exc}", err=True)
        raise typer.Exit(1) from None
    with _context("restore check") as ctx:
        result = audit.verify(ctx)
    typer.echo(json.dumps({"restored_from": str(source), "audit": result}, indent=2,
                          default=str))
    raise typer.Exit(0 if result["ok"] else 1)


@app.command()
def demo() -> None:
    """Load the demo data set (scenarios from the brief) and the demo users."""
    from lims.demo import load

    with _context("demo loader") as ctx:
        summary = load(ctx)
    typer.echo(json.dumps(summary, indent=2))


@users_app.command("add")
def users_add(username: str, full_name: str,
              role: list[str] = typer.Option(..., "--role", help="Repeat for more roles"),
              service_account: bool = typer.Option(False, help="No password; use API keys"),
              password: str = typer.Option("", help="Asked for when not given")) -> None:
    """Create a person (with password) or a service account."""
    from lims.services import users

    if not service_account and not password:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _context() as ctx:
        user = users.add_user(ctx, username=username, full_name=full_name, roles=role,
                              password=None if service_account else password)
        if service_account:
            _, secret = users.create_api_key(ctx, user, "cli", ["read", "write"])
            typer.echo(f"API key (shown once): {secret}")
    typer.echo(f"user {username} created")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check every hash chain, checkpoint and signature; name the first broken entry."""
    from rich.progress import Progress

    from lims.db.audit import count_entries
    from lims.services import audit

    with _context() as ctx, Progress() as bar:
        total = count_entries(ctx.session)
        task = bar.add_task("verifying audit trail", total=total or 1)
        result = audit.verify(ctx, progress=lambda n: bar.advance(task, n))
    typer.echo(json.dumps(result, indent=2))
    raise typer.Exit(0 if result["ok"] else 1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    every: int = typer.Option(0, help="Seal again every N seconds (0: once and exit)"),
) -> None:
    """Seal the heads of all chains. A chain's newest entries are only protected against
    being cut off once a checkpoint seals them: run this often (`--every 60`)."""
    import time

    from lims.services import audit

    while True:
        with _context("audit sealer") as ctx:
            cp = audit.checkpoint(ctx)
            typer.echo(f"checkpoint {cp.id} sealed {len(cp.heads)} chains: {cp.hash}")
        if every <= 0:
            return
        time.sleep(every)


@audit_app.command("export")
def audit_export(out: Path = typer.Argument(..., help="File to write (JSON Lines)")) -> None:
    """Write the whole trail as JSON Lines for offline verification (see README)."""
    from lims.services import audit

    with _context() as ctx, out.open("w") as fh:
        n = audit.export(ctx, fh)
    typer.echo(f"{n} lines written to {out}", err=True)


def main() -> None:  # pragma: no cover
    app(sys.argv[1:])
