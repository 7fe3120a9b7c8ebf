"""access_audit: who saw callers' full numbers, played a recording or exported a CSV, and when; append-only

UU PDP No. 27/2022 asks a controller to be able to show who accessed personal data. Rows are added by the API
(ui/audit.py, dispatch/audit/) and shown to admins (`GET /api/v1/admin/access-audit`, the supervisor page). The
database refuses UPDATE and DELETE on the table (and TRUNCATE on PostgreSQL) with triggers: kept here as they
were made, not imported from the models, because a migration is history.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSED = "access_audit is append-only"
_SQLITE = [
    f"CREATE TRIGGER access_audit_no_{verb.lower()} BEFORE {verb} ON access_audit "
    f"BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END"
    for verb in ("UPDATE", "DELETE")
]
_POSTGRES = [
    # OR REPLACE: a restored backup from before this migration drops the table but may leave the function.
    "CREATE OR REPLACE FUNCTION access_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"RAISE EXCEPTION '{_REFUSED}' USING ERRCODE = 'restrict_violation'; END $$",
    "CREATE TRIGGER access_audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON access_audit "
    "FOR EACH STATEMENT EXECUTE FUNCTION access_audit_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "access_audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("call_ids", sa.Text(), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_access_audit_at", "access_audit", ["at"])
    op.create_index("ix_access_audit_username", "access_audit", ["username"])
    for statement in _SQLITE if op.get_bind().dialect.name == "sqlite" else _POSTGRES:
        op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_access_audit_username", table_name="access_audit")
    op.drop_index("ix_access_audit_at", table_name="access_audit")
    op.drop_table("access_audit")  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS access_audit_append_only()")
