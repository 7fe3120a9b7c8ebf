"""major_incidents, triage_counts; incidents.major_id, calls.major_choice, units.staged_for: disaster mode

A supervisor declares a major incident (issue 25): reports are filed under it (incidents.major_id), casualties
are counted by triage colour per site, units are staged for it, and the caller's choice at its announcement is
kept on the call for the queue (dispatch/major/).

Revision ID: 0023
Revises: 0022
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "major_incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type_code", sa.String(length=48), nullable=False),
        sa.Column("kecamatan_codes", sa.JSON(), nullable=False),
        sa.Column("area", sa.JSON(), nullable=True),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("declared_by", sa.Integer(), nullable=True),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stood_down_by", sa.Integer(), nullable=True),
        sa.Column("stood_down_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["type_code"], ["incident_types.code"]),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"]),
        sa.ForeignKeyConstraint(["declared_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["stood_down_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_major_incidents_status", "major_incidents", ["status"])
    op.create_table(
        "triage_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("colour", sa.String(length=8), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "colour", name="uq_triage_counts_incident_colour"),
    )
    op.create_index("ix_triage_counts_incident_id", "triage_counts", ["incident_id"])
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("major_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_incidents_major_id", "major_incidents", ["major_id"], ["id"])
        batch.create_index("ix_incidents_major_id", ["major_id"])
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("major_choice", sa.Integer(), nullable=True))
    with op.batch_alter_table("units") as batch:
        batch.add_column(sa.Column("staged_for", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.drop_column("staged_for")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("major_choice")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index("ix_incidents_major_id")
        batch.drop_constraint("fk_incidents_major_id", type_="foreignkey")
        batch.drop_column("major_id")
    op.drop_index("ix_triage_counts_incident_id", table_name="triage_counts")
    op.drop_table("triage_counts")
    op.drop_index("ix_major_incidents_status", table_name="major_incidents")
    op.drop_table("major_incidents")
