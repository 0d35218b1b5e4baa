"""Each lead fact keeps its source (queue callbacks are reported apart from leads)

``kpi_leads.source`` starts empty: ``cti db upgrade`` refills every fact from the event log,
because the facts' version changed with it (``cti.kpi.facts.FACTS_VERSION``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kpi_leads") as batch:
        batch.add_column(sa.Column("source", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kpi_leads") as batch:
        batch.drop_column("source")
