"""plan_seen keeps the snapshot of the look

Revision ID: 5d3e9b71c0a2
Revises: c7a1b0e5d4f3
Create Date: 2026-11-23 20:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d3e9b71c0a2"
down_revision: str | None = "c7a1b0e5d4f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Looks recorded before this keep NULL: their changes are counted by time, as before.
    op.add_column("plan_seen", sa.Column("seen_snapshot", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("plan_seen", "seen_snapshot")
