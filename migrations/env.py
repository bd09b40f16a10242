"""Alembic environment: metadata from lims.db.tables, URL from settings or the caller."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlmodel import SQLModel

import lims.db.tables  # noqa: F401  (registers the tables on the metadata)
from lims.config import get_settings
from lims.db.engine import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # tests and `lims db upgrade` pass their own connection
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: Any) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch migrations copy a table and drop the old one; with foreign keys enforced,
        # dropping a referenced table of a populated database fails. SQLite's own advice:
        # switch enforcement off (outside a transaction) while the schema changes.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    try:
        _migrate(connection)
    finally:
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def _migrate(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=True,  # SQLite needs batch mode to alter tables
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; run against a database.")
run_migrations_online()
