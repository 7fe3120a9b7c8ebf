"""indexes for the queries of the day: events by (call_id, type), calls by (classification, offered_at)

The ACD reads the `call.connecting` and `call.requeued` events of the waiting calls. With an index on the call
alone, SQLite took the index on the type for that query and read every such event ever written; that index
served no other query and is dropped (every event written kept it up to date). The callback list is the
newest abandoned calls; with the class alone indexed, every abandoned call was read and sorted. Each
composite index serves its query, and every lookup by its first column alone.

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
    op.drop_index("ix_events_type", table_name="events")
    op.create_index("ix_calls_classification_offered_at", "calls", ["classification", "offered_at"])
    op.drop_index("ix_calls_classification", table_name="calls")


def downgrade() -> None:
    op.create_index("ix_events_call_id", "events", ["call_id"])
    op.create_index("ix_events_type", "events", ["type"])
    op.drop_index("ix_events_call_id_type", table_name="events")
    op.create_index("ix_calls_classification", "calls", ["classification"])
    op.drop_index("ix_calls_classification_offered_at", table_name="calls")
