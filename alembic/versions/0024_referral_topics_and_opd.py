"""Referrals reach the agency: a topic, a point on the map and a deadline; OPD users; the agency's SMS number

Issue 23, finding 8: a referral now carries its topic (the region pack's `topics.toml`), the place the
call-taker chose (`lat`/`lon`) and when it is due (`due_at`, from the topic's hours). A user of role `opd` is
bound to an agency (`users.agency_id`) and follows its referrals on /opd; an agency with `referral_sms` is also
sent a new referral by SMS.

Revision ID: 0024
Revises: 0023
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0024"
down_revision: str | Sequence[str] | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("topic", sa.String(32), nullable=True))
        batch.add_column(sa.Column("lat", sa.Float(), nullable=True))
        batch.add_column(sa.Column("lon", sa.Float(), nullable=True))
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_referrals_due_at", ["due_at"])
    with op.batch_alter_table("agencies") as batch:
        batch.add_column(sa.Column("referral_sms", sa.String(32), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("agency_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_users_agency_id_agencies", "agencies", ["agency_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("fk_users_agency_id_agencies", type_="foreignkey")
        batch.drop_column("agency_id")
    with op.batch_alter_table("agencies") as batch:
        batch.drop_column("referral_sms")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_index("ix_referrals_due_at")
        batch.drop_column("due_at")
        batch.drop_column("lon")
        batch.drop_column("lat")
        batch.drop_column("topic")
