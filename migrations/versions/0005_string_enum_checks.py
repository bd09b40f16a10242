"""String enums checked by the database: CHECK constraints on the closed word lists.

The lists are written out here on purpose: a migration records the schema of its day;
a new state or kind later comes with its own migration that replaces the constraint.

Revision ID: 0005
Revises: 0004
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCES = "'adipose_tissue', 'bone_marrow', 'cord_blood'"
CHECKS = (
    ("donor", "ck_donor_eligibility", "eligibility IN ('eligible', 'ineligible', 'pending')"),
    ("donor", "ck_donor_donor_type", "donor_type IN ('allogeneic', 'autologous')"),
    ("location", "ck_location_kind", "kind IN ('box', 'rack', 'site', 'storage_unit')"),
    ("collection", "ck_collection_source", f"source IN ({SOURCES})"),
    ("sample", "ck_sample_state",
     "state IN ('administered', 'collected', 'consumed', 'cryopreserved', 'discarded', "
     "'distributed', 'in_culture', 'in_processing', 'in_transit', 'processed', 'received', "
     "'registered', 'rejected', 'released', 'thawed')"),
    ("sample", "ck_sample_source", f"source IN ({SOURCES})"),
    ("sample", "ck_sample_kind",
     "kind IN ('bone_marrow', 'cord_blood', 'hsc_cd34', 'ipsc', 'lipoaspirate', "
     "'maternal_sample', 'mnc', 'msc_adipose', 'msc_cord', 'msc_marrow', 'plasma', "
     "'qc_sample', 'red_cells', 'svf')"),
    ("qcresult", "ck_qcresult_result", "result IN ('fail', 'pass', 'pending')"),
)
TABLES = ("donor", "location", "collection", "sample", "qcresult")


def upgrade() -> None:
    # One batch per table: on SQLite each batch copies the table once (none of these
    # tables carries the append-only triggers, which a copy would lose).
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            for t, name, condition in CHECKS:
                if t == table:
                    batch.create_check_constraint(op.f(name), condition)


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            for t, name, _ in CHECKS:
                if t == table:
                    batch.drop_constraint(op.f(name), type_="check")
