"""Indexes for the sample lists: each filter column together with the id, so the first
page of `state=...`, `source=...` or `kind=...` (ordered by id, the keyset) is read in
index order and stops after one page, instead of sorting every matching row of a
million. They replace the single-column indexes on state, source and kind (a prefix of
the new ones). EXPLAIN ANALYZE before and after: bench/RESULTS.md.

Revision ID: 0010
Revises: 0009
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("state", "source", "kind")


def upgrade() -> None:
    for c in COLUMNS:
        op.create_index(f"ix_sample_{c}_id", "sample", [c, "id"], unique=False)
        op.drop_index(f"ix_sample_{c}", table_name="sample")


def downgrade() -> None:
    for c in COLUMNS:
        op.create_index(f"ix_sample_{c}", "sample", [c], unique=False)
        op.drop_index(f"ix_sample_{c}_id", table_name="sample")
