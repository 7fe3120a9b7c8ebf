"""login_locks: failed logins per account and per client address, and the lock they brought

There was no limit on login attempts: 50 wrong passwords and then the right one logged in, and a flood of them
slowed call intake (issue 22). The counts are kept in the database so that every server behind the proxy sees
the same ones (dispatch/users/throttle.py).

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_locks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "subject", name="uq_login_locks_kind_subject"),
    )
    op.create_index("ix_login_locks_last_failure_at", "login_locks", ["last_failure_at"])


def downgrade() -> None:
    op.drop_index("ix_login_locks_last_failure_at", table_name="login_locks")
    op.drop_table("login_locks")
