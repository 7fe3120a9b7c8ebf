"""learned_places: the place words of closed incidents, with their confirmed point

Callers name the same few places again and again ("depan Pasar Raya", "simpang Haru"), and the register knows
few of them. When an incident closes with a confirmed point, the words the call-taker typed for it are kept here
with that point (dispatch/places); once used twice they are offered by the gazetteer search (issue 24). A
supervisor corrects or hides them.

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "learned_places",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("kecamatan", sa.String(length=100), nullable=True),
        sa.Column("kelurahan", sa.String(length=100), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("corrected", sa.Boolean(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("last_incident_id", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_learned_places_key", "learned_places", ["key"])
    op.create_index("ix_learned_places_updated_at", "learned_places", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_learned_places_updated_at", table_name="learned_places")
    op.drop_index("ix_learned_places_key", table_name="learned_places")
    op.drop_table("learned_places")
