"""ui signed out: page sessions ended on the server

Revision ID: 7e4c2a9d5b10
Revises: 3b8d2f6a91c4
Create Date: 2026-12-01 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7e4c2a9d5b10"
down_revision: str | None = "3b8d2f6a91c4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ui_signed_out",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "ended_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_ui_signed_out")),
    )
    op.create_index(
        op.f("ix_ui_signed_out_expires_at"), "ui_signed_out", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ui_signed_out_expires_at"), table_name="ui_signed_out")
    op.drop_table("ui_signed_out")
