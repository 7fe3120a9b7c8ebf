"""assignments.cancel_reason: why a dispatcher stood a unit down

The crew's phone showed a cancelled assignment only by its card vanishing. The dispatcher may now say why
(`POST /assignments/{id}/status` with `reason`); the phone shows it, also after a reload when it was offline as
the cancellation came.

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("cancel_reason", sa.String(300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("cancel_reason")
