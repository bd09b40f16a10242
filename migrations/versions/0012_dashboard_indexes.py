"""Indexes for the dashboard's lists: overdue (by the end of the processing window),
expiring (by expiry), on hold and waiting for release (by hold flag, then last change).
Each list reads its first rows in index order instead of sorting every matching row of
a million (the dashboard took 5 s at 1,000,000 samples without them).

Revision ID: 0012
Revises: 0011
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_sample_processing_due_at": ["processing_due_at"],
    "ix_sample_expires_at": ["expires_at"],
    "ix_sample_on_hold_updated_at": ["on_hold", "updated_at"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "sample", columns, unique=False)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="sample")
