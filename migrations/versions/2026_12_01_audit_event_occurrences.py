"""audit_event counts repeated refusals in one event

Revision ID: 3b8d2f6a91c4
Revises: 3123c81a1637
Create Date: 2026-12-01 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b8d2f6a91c4"
down_revision: str | None = "3123c81a1637"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every event written before this stands for one request: NULL, and its hash is unchanged
    # (the hash covers the column only when it is set; audit/chain.py).
    op.add_column("audit_event", sa.Column("occurrences", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("audit_event", "occurrences")
