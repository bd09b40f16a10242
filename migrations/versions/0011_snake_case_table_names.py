"""Table names in snake_case, as app_user always was: audit_entry, custody_transfer,
sample_transition and the rest. Indexes, constraints, sequences and triggers named after
a table follow it, so the schema reads the same on both databases.

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RENAMES = {
    "apikey": "api_key", "auditcheckpoint": "audit_checkpoint", "auditentry": "audit_entry",
    "authtoken": "auth_token", "bedsidecheck": "bedside_check",
    "custodytransfer": "custody_transfer", "dinsequence": "din_sequence",
    "idempotencyrecord": "idempotency_record", "labelprint": "label_print",
    "processingstep": "processing_step", "qcresult": "qc_result",
    "sampletransition": "sample_transition",
}
# Unique constraints live inside SQLite's CREATE TABLE text: renamed by copying the table.
UNIQUE = {  # new table: [(old name, new name, columns)]
    "api_key": [("uq_apikey_prefix", "uq_api_key_prefix", ["prefix"])],
    "auth_token": [("uq_authtoken_token_hash", "uq_auth_token_token_hash", ["token_hash"])],
    "custody_transfer": [("uq_custodytransfer_sample_seq", "uq_custody_transfer_sample_seq",
                          ["sample_id", "seq"])],
    "idempotency_record": [("uq_idempotencyrecord_actor_key", "uq_idempotency_record_actor_key",
                            ["actor_id", "key"])],
}


# Named in snake_case from the start (0001): they keep their names both ways.
KEEP = frozenset({"ix_audit_entry_entity", "uq_audit_entry_chain_seq"})


def _renamed(name: str, mapping: dict[str, str]) -> str:
    """The name with each table name in it replaced; a column such as custody_transfer_id
    inside a foreign key's name is a column, not the table, and stays."""
    if name in KEEP:
        return name
    for old, new in mapping.items():
        name = re.sub(rf"(?<![a-z]){old}(?![a-z]|_id)", new, name)
    return name


def _rename(mapping: dict[str, str], unique_back: bool) -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        for old, new in mapping.items():
            op.execute(f"ALTER TABLE {old} RENAME TO {new}")
        constraints = conn.execute(text(
            "SELECT conname, conrelid::regclass::text FROM pg_constraint "
            "WHERE connamespace = 'public'::regnamespace")).all()
        for name, table in constraints:
            if _renamed(name, mapping) != name:
                op.execute(f'ALTER TABLE {table} RENAME CONSTRAINT "{name}" TO '
                           f'"{_renamed(name, mapping)}"')
        for (name,) in conn.execute(text(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")).all():
            if _renamed(name, mapping) != name:
                op.execute(f'ALTER INDEX "{name}" RENAME TO "{_renamed(name, mapping)}"')
        for (name,) in conn.execute(text(
                "SELECT relname FROM pg_class WHERE relkind = 'S'")).all():
            if _renamed(name, mapping) != name:
                op.execute(f'ALTER SEQUENCE "{name}" RENAME TO "{_renamed(name, mapping)}"')
        for name, table in conn.execute(text(
                "SELECT tgname, tgrelid::regclass::text FROM pg_trigger "
                "WHERE NOT tgisinternal")).all():
            if _renamed(name, mapping) != name:
                op.execute(f'ALTER TRIGGER "{name}" ON {table} RENAME TO '
                           f'"{_renamed(name, mapping)}"')
        return
    for old, new in mapping.items():
        op.execute(f"ALTER TABLE {old} RENAME TO {new}")  # FKs and triggers follow (3.26+)
    rows = conn.execute(text(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
        "AND sql IS NOT NULL")).all()
    for kind, name, sql in rows:
        new_name = _renamed(name, mapping)
        if new_name != name:
            op.execute(f'DROP {kind.upper()} "{name}"')
            op.execute(sql.replace(name, new_name, 1))
    for table, constraints in UNIQUE.items():
        table = table if not unique_back else next(o for o, n in RENAMES.items() if n == table)
        with op.batch_alter_table(table, recreate="always") as batch:
            for old_name, new_name, columns in constraints:
                drop, create = (new_name, old_name) if unique_back else (old_name, new_name)
                batch.drop_constraint(drop, type_="unique")
                batch.create_unique_constraint(create, columns)


def upgrade() -> None:
    _rename(RENAMES, unique_back=False)


def downgrade() -> None:
    _rename({new: old for old, new in RENAMES.items()}, unique_back=True)
