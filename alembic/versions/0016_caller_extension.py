"""calls.caller_ext: the extension written after a caller's number, kept apart from it

Security finding 8: "+62 812-3456-7890 ext 5" was stored as +62812345678905, another caller's number, which
history and abuse flags then matched on. The number is now stored without it and the extension here
(dispatch/phone.py `split_extension`). Calls stored before keep what they had.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("caller_ext", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("caller_ext")
