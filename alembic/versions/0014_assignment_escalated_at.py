"""assignments.escalated_at: when the server escalated an unacknowledged assignment

Escalation was decided in the dispatcher's browser, so with no console open nobody was escalated. The server
now writes an `assignment.escalated` event and stamps the assignment in the same transaction; the stamp is the
marker that makes it happen once, however many passes or server processes look.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("escalated_at")
