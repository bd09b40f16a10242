"""The donor's ABO/Rh, where typed: printed in the upper right quadrant of bag labels.

Revision ID: 0006
Revises: 0005
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out: the list of this migration's day (see 0005).
ABO_RH = "'A Neg', 'A Pos', 'AB Neg', 'AB Pos', 'B Neg', 'B Pos', 'O Neg', 'O Pos'"


def upgrade() -> None:
    with op.batch_alter_table("donor") as batch:
        batch.add_column(sa.Column("abo_rh", sa.String(length=8), nullable=True))
        batch.create_check_constraint(op.f("ck_donor_abo_rh"), f"abo_rh IN ({ABO_RH})")


def downgrade() -> None:
    with op.batch_alter_table("donor") as batch:
        batch.drop_constraint(op.f("ck_donor_abo_rh"), type_="check")
        batch.drop_column("abo_rh")
