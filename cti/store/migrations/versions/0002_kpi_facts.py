"""KPI facts per call and lead, derived from call_events when events are stored

The tables start empty: ``cti db upgrade`` (``cti.store.schema.upgrade``) fills them from the
events already stored, because ``kpi_projection`` does not yet name the facts' version. That
backfill runs the application's own derivation, which a migration must not import: a later
change to it would silently change what this revision does.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kpi_stays",
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("entered_us", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("wait_s", sa.Double(), nullable=True),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("caller_number", sa.String(length=32), nullable=True),
        sa.Column("talk_s", sa.Double(), nullable=True),
        sa.Column("hold_s", sa.Double(), nullable=False),
        sa.Column("wrapup_s", sa.Double(), nullable=True),
        sa.Column("resolved", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("call_id", "seq"),
    )
    op.create_index(op.f("ix_kpi_stays_entered_us"), "kpi_stays", ["entered_us"], unique=False)
    op.create_table(
        "kpi_offers",
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("rang_us", sa.BigInteger(), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("ring_s", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("call_id", "seq"),
    )
    op.create_index(op.f("ix_kpi_offers_rang_us"), "kpi_offers", ["rang_us"], unique=False)
    op.create_table(
        "kpi_calls",
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("caller_number", sa.String(length=32), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("call_id", "seq"),
    )
    op.create_index(op.f("ix_kpi_calls_at_us"), "kpi_calls", ["at_us"], unique=False)
    op.create_table(
        "kpi_contacts",
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("booked_appointment", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("call_id"),
    )
    op.create_index(op.f("ix_kpi_contacts_at_us"), "kpi_contacts", ["at_us"], unique=False)
    op.create_table(
        "kpi_leads",
        sa.Column("lead_id", sa.String(length=64), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("first_dial_us", sa.BigInteger(), nullable=True),
        sa.Column("answered_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("lead_id"),
    )
    op.create_index(op.f("ix_kpi_leads_created_us"), "kpi_leads", ["created_us"], unique=False)
    op.create_table(
        "kpi_funnel",
        sa.Column("lead_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("lead_id", "seq"),
    )
    op.create_table(
        "kpi_projection",
        sa.Column("facts_version", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("facts_version"),
    )


def downgrade() -> None:
    op.drop_table("kpi_projection")
    op.drop_table("kpi_funnel")
    op.drop_index(op.f("ix_kpi_leads_created_us"), table_name="kpi_leads")
    op.drop_table("kpi_leads")
    op.drop_index(op.f("ix_kpi_contacts_at_us"), table_name="kpi_contacts")
    op.drop_table("kpi_contacts")
    op.drop_index(op.f("ix_kpi_calls_at_us"), table_name="kpi_calls")
    op.drop_table("kpi_calls")
    op.drop_index(op.f("ix_kpi_offers_rang_us"), table_name="kpi_offers")
    op.drop_table("kpi_offers")
    op.drop_index(op.f("ix_kpi_stays_entered_us"), table_name="kpi_stays")
    op.drop_table("kpi_stays")
