"""events: one index on (call_id, type) instead of call_id alone

The ACD reads the `call.connecting` and `call.requeued` events of the waiting calls. With an index on the call
alone, SQLite took the index on the type for that query and read every such event ever written; the composite
index serves it, and every lookup by call alone through its first column.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_events_call_id_type", "events", ["call_id", "type"])
    op.drop_index("ix_events_call_id", table_name="events")


def downgrade() -> None:
    op.create_index("ix_events_call_id", "events", ["call_id"])
    op.drop_index("ix_events_call_id_type", table_name="events")
