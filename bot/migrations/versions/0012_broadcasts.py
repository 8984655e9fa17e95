"""broadcasts: a text to the patients with appointments on one day, one row per phone

``broadcast`` holds what staff sent (day, optional provider, the catalog template or their own text, whether
the day's appointments were cancelled with it, who, when, and a cancellation). ``broadcast_recipient`` one row
per phone (unique per broadcast): its outbox row, or why it was skipped.

Revision ID: 0012_broadcasts
Revises: 0011_template_language
"""
from alembic import op
import sqlalchemy as sa

from bot.models import UTCDateTime


revision = '0012_broadcasts'
down_revision = '0011_template_language'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'broadcast',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('provider_id', sa.Integer(), sa.ForeignKey('provider.id'), nullable=True),
        sa.Column('template', sa.String(60), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('cancel_appointments', sa.Boolean(), nullable=False),
        sa.Column('staff_user_id', sa.Integer(), sa.ForeignKey('staff_user.id'), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('cancelled_at', UTCDateTime(), nullable=True),
        sa.Column('cancelled_by', sa.Integer(), sa.ForeignKey('staff_user.id'), nullable=True),
    )
    op.create_table(
        'broadcast_recipient',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('broadcast_id', sa.Integer(), sa.ForeignKey('broadcast.id', ondelete='CASCADE'), nullable=False),
        sa.Column('phone', sa.String(20), nullable=False),
        sa.Column('outbound_id', sa.Integer(), sa.ForeignKey('outbound_message.id'), nullable=True),
        sa.Column('skipped', sa.String(40), nullable=True),
        sa.UniqueConstraint('broadcast_id', 'phone', name='uq_broadcast_recipient_phone'),
    )
    op.create_index('ix_broadcast_recipient_broadcast_id', 'broadcast_recipient', ['broadcast_id'])


def downgrade() -> None:
    op.drop_index('ix_broadcast_recipient_broadcast_id', 'broadcast_recipient')
    op.drop_table('broadcast_recipient')
    op.drop_table('broadcast')
