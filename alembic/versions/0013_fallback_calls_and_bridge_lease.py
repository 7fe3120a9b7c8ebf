"""calls.source and bridge_leases: calls the dialplan took while the bridge was away; one active bridge

A call that arrived while the ARI bridge was down (or replaced) was rung to the desk phones by the dialplan
and never became a call: `calls.source = 'fallback'` marks those read back from the PBX's journal. Two
`tanggap ari` processes may run, one active and one waiting: `bridge_leases` holds who is active, until when.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("source", sa.String(length=16), nullable=True))
    op.create_table(
        "bridge_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("bridge_leases")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("source")
