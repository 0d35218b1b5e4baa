"""The CRM import's keys (customers' and cases' external references, one service record per
vehicle, day and kind, one policy per vehicle and expiry) and the caller-history index

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("customers", "cases"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("external_ref", sa.String(length=64), nullable=True))
            batch_op.create_index(batch_op.f(f"ix_{table}_external_ref"), ["external_ref"], unique=True)
    op.create_index("ix_service_history_visit", "service_history", ["vehicle_id", "on", "kind"], unique=True)
    op.create_index(
        "ix_insurance_policies_term", "insurance_policies", ["vehicle_id", "expires_on"], unique=True
    )
    op.create_index("ix_call_events_caller", "call_events", ["caller_number", "kind", "at_us"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_call_events_caller", table_name="call_events")
    op.drop_index("ix_insurance_policies_term", table_name="insurance_policies")
    op.drop_index("ix_service_history_visit", table_name="service_history")
    for table in ("cases", "customers"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_external_ref"))
            batch_op.drop_column("external_ref")
