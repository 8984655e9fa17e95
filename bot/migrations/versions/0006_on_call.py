"""on-call pages for urgent tickets: one row per ticket and escalation step, unique, so each step goes out once

Revision ID: 0006_on_call
Revises: 0005_conversations
"""
from alembic import op
import sqlalchemy as sa

from bot.models import UTCDateTime


revision = '0006_on_call'
down_revision = '0005_conversations'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'on_call_page',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('ticket_id', sa.Integer(), sa.ForeignKey('handoff_ticket.id', ondelete='CASCADE'), nullable=False),
        sa.Column('step', sa.Integer(), nullable=False),
        sa.Column('phone', sa.String(20), nullable=False),
        sa.Column('paged_at', UTCDateTime(), nullable=False),
        sa.Column('outbound_id', sa.Integer(), sa.ForeignKey('outbound_message.id'), nullable=True),
        sa.UniqueConstraint('ticket_id', 'step', name='uq_on_call_page_step'),
    )
    op.create_index('ix_on_call_page_ticket_id', 'on_call_page', ['ticket_id'])


def downgrade() -> None:
    op.drop_index('ix_on_call_page_ticket_id', table_name='on_call_page')
    op.drop_table('on_call_page')
