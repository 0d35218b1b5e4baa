"""Outbound: leads as the one hopper (idempotency key, deadline, retries, list lines),
campaigns, the do-not-call list, dial attempts with their number, campaign and agent

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("deadline_at_us", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("data", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("list_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("line_no", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("next_attempt_at_us", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("last_result", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("updated_at_us", sa.BigInteger(), nullable=True))
        batch_op.create_unique_constraint("uq_leads_idempotency_key", ["idempotency_key"])
        batch_op.create_index("ix_leads_hopper", ["campaign", "status", "next_attempt_at_us"], unique=False)
    with op.batch_alter_table("dial_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("campaign", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("agent", sa.String(length=64), nullable=True))
    op.create_table(
        "campaigns",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("dial_mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "dnc_numbers",
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("added_at_us", sa.BigInteger(), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("number"),
    )


def downgrade() -> None:
    op.drop_table("dnc_numbers")
    op.drop_table("campaigns")
    with op.batch_alter_table("dial_attempts", schema=None) as batch_op:
        for column in ("agent", "campaign", "number"):
            batch_op.drop_column(column)
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_hopper")
        batch_op.drop_constraint("uq_leads_idempotency_key", type_="unique")
        for column in (
            "updated_at_us",
            "last_result",
            "next_attempt_at_us",
            "attempts",
            "line_no",
            "list_name",
            "data",
            "deadline_at_us",
            "idempotency_key",
            "name",
        ):
            batch_op.drop_column(column)
