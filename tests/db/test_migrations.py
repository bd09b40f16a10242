"""Alembic migrations on SQLite and PostgreSQL: empty -> head -> base -> head, and the
models (SQLModel.metadata) agree with what the migrations build.

The `db_url` fixture hands out databases that are already at head, so upgrade-from-empty
runs against a database of its own: a new SQLite file, or a fresh PostgreSQL database
created through the admin URL next to the test databases (and dropped afterwards).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

import lims.db.tables  # noqa: F401  (registers every table on SQLModel.metadata)
from lims.db.engine import make_engine, unit_of_work
from lims.db.migrate import alembic_config, downgrade, upgrade
from lims.services import audit
from lims.services.context import Actor, Context
from tests.api.helpers import primary, step
from tests.conftest import PASSWORD, PG_ADMIN_URL

AUDITOR = Actor(id="qa-check", name="QA check", roles=frozenset({"qa"}))

MODEL_TABLES = frozenset(SQLModel.metadata.tables)
PROTECTED = ("audit_entry", "audit_checkpoint", "signature")
# Before 0011 the tables had run-together names.
PROTECTED_0002 = ("auditentry", "auditcheckpoint", "signature")
SQLITE_TRIGGERS = frozenset(f"{t}_no_{v}" for t in PROTECTED for v in ("update", "delete"))
PG_TRIGGERS = frozenset(
    f"{t}_{suffix}" for t in PROTECTED for suffix in ("append_only", "no_truncate")
)
HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path, worker_id: str) -> Iterator[str]:
    """A database with nothing in it at all (not even alembic_version)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    # Same skip/fail rule as the conftest: no server -> skip (or fail under .ci/run).
    request.getfixturevalue("pg_template")
    name = f"lims_mig_{worker_id}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


# --- helpers -------------------------------------------------------------------------------


def _tables(url: str) -> set[str]:
    eng = make_engine(url)
    try:
        with eng.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        eng.dispose()


def _triggers(url: str) -> set[str]:
    eng = make_engine(url)
    try:
        with eng.connect() as conn:
            if eng.dialect.name == "sqlite":
                q = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            else:
                q = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
            return {row[0] for row in conn.exec_driver_sql(q)}
    finally:
        eng.dispose()


def _pg_functions(url: str) -> set[str]:
    eng = make_engine(url)
    try:
        with eng.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = 'public'")
            return {row[0] for row in rows}
    finally:
        eng.dispose()


def _revision(url: str) -> str | None:
    eng = make_engine(url)
    try:
        with eng.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        eng.dispose()


def _schema_diff(url: str) -> list:
    eng = make_engine(url)
    try:
        with eng.connect() as conn:
            mc = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(mc, SQLModel.metadata)
    finally:
        eng.dispose()


def _expected_triggers(url: str, tables: tuple[str, ...] = PROTECTED) -> frozenset[str]:
    if url.startswith("sqlite"):
        return frozenset(f"{t}_no_{v}" for t in tables for v in ("update", "delete"))
    return frozenset(f"{t}_{suffix}" for t in tables for suffix in ("append_only", "no_truncate"))


def _insert_audit_row(eng: Engine, chain: str, table: str = "audit_entry") -> None:
    with eng.begin() as conn:
        conn.execute(text(
            f"INSERT INTO {table} (chain, chain_seq, prev_hash, hash, at, actor_name, action, "
            "entity_type, entity_id) VALUES (:c, 1, :z, :z, :at, 'test', 'probe', 't', 'x')"),
            {"c": chain, "z": "0" * 64, "at": "2026-01-01 00:00:00"})


def _try_update_audit(eng: Engine, chain: str, table: str = "audit_entry") -> None:
    with eng.begin() as conn:
        conn.execute(text(f"UPDATE {table} SET action = 'forged' WHERE chain = :c"),
                     {"c": chain})


# --- tests ---------------------------------------------------------------------------------


def test_history_is_one_straight_line_from_0001() -> None:
    # Guards the tests below against a silently forked history (two heads after a merge).
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert script.get_heads() == [HEAD]
    revs = list(script.walk_revisions())  # head first
    assert revs[-1].revision == "0001" and revs[-1].down_revision is None
    for newer, older in zip(revs, revs[1:], strict=False):
        assert newer.down_revision == older.revision, (newer.revision, newer.down_revision)
    assert "0002" in {r.revision for r in revs}


def test_upgrade_empty_database_to_head_creates_every_table(empty_url: str) -> None:
    assert _tables(empty_url) == set()
    assert _revision(empty_url) is None

    upgrade(empty_url)

    assert _tables(empty_url) == MODEL_TABLES | {"alembic_version"}
    assert _revision(empty_url) == HEAD
    assert _triggers(empty_url) == _expected_triggers(empty_url)
    diff = _schema_diff(empty_url)
    assert diff == [], "models and migrated schema differ:\n" + "\n".join(map(str, diff))


def test_downgrade_to_base_leaves_only_alembic_version_and_upgrade_again_works(
    empty_url: str,
) -> None:
    upgrade(empty_url)
    downgrade(empty_url, "base")

    assert _tables(empty_url) == {"alembic_version"}
    assert _revision(empty_url) is None
    assert _triggers(empty_url) == set()
    if empty_url.startswith("postgresql"):
        assert "lims_append_only" not in _pg_functions(empty_url)

    upgrade(empty_url)

    assert _tables(empty_url) == MODEL_TABLES | {"alembic_version"}
    assert _revision(empty_url) == HEAD
    assert _triggers(empty_url) == _expected_triggers(empty_url)
    diff = _schema_diff(empty_url)
    assert diff == [], "schema differs after down/up:\n" + "\n".join(map(str, diff))
    # The re-created triggers really protect the trail again.
    eng = make_engine(empty_url)
    try:
        _insert_audit_row(eng, "probe:again")
        with pytest.raises(DBAPIError, match="append-only"):
            _try_update_audit(eng, "probe:again")
    finally:
        eng.dispose()


def test_step_by_step_0002_adds_and_removes_the_append_only_triggers(empty_url: str) -> None:
    upgrade(empty_url, "0001")
    assert _revision(empty_url) == "0001"
    assert {*PROTECTED_0002, "sample"} <= _tables(empty_url)
    assert _triggers(empty_url) == set()

    eng = make_engine(empty_url)
    try:
        _insert_audit_row(eng, "probe:0001", "auditentry")
        _try_update_audit(eng, "probe:0001", "auditentry")  # no triggers yet: allowed

        upgrade(empty_url, "0002")
        assert _triggers(empty_url) == _expected_triggers(empty_url, PROTECTED_0002)
        with pytest.raises(DBAPIError, match="append-only"):
            _try_update_audit(eng, "probe:0001", "auditentry")

        downgrade(empty_url, "0001")
        assert _revision(empty_url) == "0001"
        assert _triggers(empty_url) == set()
        _try_update_audit(eng, "probe:0001", "auditentry")  # allowed again
        with eng.connect() as conn:
            action = conn.execute(text("SELECT action FROM auditentry WHERE chain = 'probe:0001'"))
            assert action.scalar_one() == "forged"
    finally:
        eng.dispose()


def test_fixture_database_is_at_head_and_matches_the_models(db_url: str) -> None:
    assert _revision(db_url) == HEAD
    assert _tables(db_url) == MODEL_TABLES | {"alembic_version"}
    diff = _schema_diff(db_url)
    assert diff == [], "models and migrated schema differ:\n" + "\n".join(map(str, diff))


def test_upgrade_at_head_is_a_no_op(db_url: str) -> None:
    eng = make_engine(db_url)
    try:
        with eng.connect() as conn:
            users_before = conn.execute(text("SELECT count(*) FROM app_user")).scalar_one()
        assert users_before > 0
        upgrade(db_url)
        with eng.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM app_user")).scalar_one() == users_before
    finally:
        eng.dispose()
    assert _revision(db_url) == HEAD


def test_populated_database_downgrades_to_base_and_back(db_url: str, api, app) -> None:
    s = primary(api)
    step(api, s["id"], "receive")
    step(api, s["id"], "start_processing", data={"method": "density_gradient"})
    app.state.engine.dispose()  # no pooled connection of the app lingers on the tables

    downgrade(db_url, "base")
    assert _tables(db_url) == {"alembic_version"}
    assert _triggers(db_url) == set()

    upgrade(db_url)
    assert _tables(db_url) == MODEL_TABLES | {"alembic_version"}
    eng = make_engine(db_url)
    try:
        with eng.connect() as conn:
            for table in ("sample", "audit_entry", "app_user"):
                assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
    finally:
        eng.dispose()


def _counts(url: str) -> dict[str, int]:
    eng = make_engine(url)
    try:
        with eng.connect() as conn:
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                    for t in inspect(conn).get_table_names() if t != "alembic_version"}
    finally:
        eng.dispose()


def _samples(url: str) -> list[tuple]:
    eng = make_engine(url)
    try:
        with eng.connect() as conn:
            return list(conn.execute(text(
                "SELECT id, code, state, version, volume_ml, parent_id FROM sample ORDER BY id")))
    finally:
        eng.dispose()


def test_populated_database_keeps_its_data_through_the_newest_migration_down_and_up(
    db_url: str, api, app, settings,
) -> None:
    """The newest migration is the one that will run against production data next: step
    a populated database down one revision and back up (on SQLite through batch-mode
    table copies) and nothing may be lost, the audit trail still verifies and the
    triggers are back."""
    for _ in range(2):
        s = primary(api)
        step(api, s["id"], "receive")
        step(api, s["id"], "start_processing", data={"method": "density_gradient"})
        step(api, s["id"], "complete_processing")
        r = api.post(f"/samples/{s['id']}/derivatives", {"volume_ml": 5, "count": 2})
        assert r.status_code == 201, r.text
    rej = primary(api)
    step(api, rej["id"], "reject", reason="clotted",
         signature={"password": PASSWORD, "meaning": "performed"})
    app.state.engine.dispose()

    counts, sample_rows = _counts(db_url), _samples(db_url)
    assert counts["sample"] == 7 and counts["signature"] == 1 and counts["audit_entry"] > 20
    previous = ScriptDirectory.from_config(alembic_config(db_url)).get_revision(HEAD).down_revision
    assert isinstance(previous, str)

    downgrade(db_url, previous)
    assert _revision(db_url) == previous
    # A table keeps its rows whatever its name spelling (0011: auditentry -> audit_entry).
    def same(c: dict[str, int]) -> dict[str, int]:
        return {t.replace("_", ""): n for t, n in c.items()}

    kept = same(_counts(db_url))
    assert kept == {t: same(counts)[t] for t in kept}, "rows lost on the way down"

    upgrade(db_url)
    assert _revision(db_url) == HEAD
    assert {t: n for t, n in same(_counts(db_url)).items() if t in kept} == kept, \
        "rows lost going up"
    assert _samples(db_url) == sample_rows
    assert _triggers(db_url) == _expected_triggers(db_url)
    diff = _schema_diff(db_url)
    assert diff == [], "schema differs after down/up:\n" + "\n".join(map(str, diff))
    eng = make_engine(db_url)
    try:
        if db_url.startswith("sqlite"):
            with eng.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        with unit_of_work(eng) as sess:
            result = audit.verify(Context(session=sess, actor=AUDITOR, settings=settings))
        assert result["ok"] is True, result
        assert result["entries_checked"] == counts["audit_entry"]
    finally:
        eng.dispose()
