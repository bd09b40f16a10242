"""External references per service account; a version (ETag) on user accounts.

A caller's own reference (`external_ref`, e.g. a hospital's order number) is unique per
account that stored it, not across every system that talks to us: two hospitals may both
have an order 1234. Samples can carry one too. User accounts get a version column so a
change to them can be made with If-Match like any other update.

Revision ID: 0009
Revises: 0007
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("collection") as batch:
        batch.drop_constraint(op.f("uq_collection_external_ref"), type_="unique")
        batch.create_unique_constraint(op.f("uq_collection_created_by_external_ref"),
                                       ["created_by", "external_ref"])
    with op.batch_alter_table("sample") as batch:
        batch.add_column(sa.Column("external_ref", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("created_by", sa.String(length=36), nullable=True))
        batch.create_unique_constraint(op.f("uq_sample_created_by_external_ref"),
                                       ["created_by", "external_ref"])
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False,
                                   server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("version")
    with op.batch_alter_table("sample") as batch:
        batch.drop_constraint(op.f("uq_sample_created_by_external_ref"), type_="unique")
        batch.drop_column("created_by")
        batch.drop_column("external_ref")
    with op.batch_alter_table("collection") as batch:
        batch.drop_constraint(op.f("uq_collection_created_by_external_ref"), type_="unique")
        batch.create_unique_constraint(op.f("uq_collection_external_ref"), ["external_ref"])
