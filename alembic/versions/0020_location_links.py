"""location_links: one-call links whose page reports the caller's phone position

A caller whose operator sends no AML is sent a link (by SMS, or read out); the page asks the phone's browser
for its position and posts it (dispatch/calls/links.py, ui/routes/location_link.py; issue 24). Only the
token's SHA-256 is kept, with the call, who made it, when it expires and how often it was used.

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "location_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("sent_by", sa.String(length=8), nullable=False),
        sa.Column("positions", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Integer(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_location_links_call_id", "location_links", ["call_id"])


def downgrade() -> None:
    op.drop_index("ix_location_links_call_id", table_name="location_links")
    op.drop_table("location_links")
