"""missed-call text-backs: one row per caller and local day, unique, so a caller gets at most one a day

Revision ID: 0008_missed_calls
Revises: 0007_wrong_number
"""
from alembic import op
import sqlalchemy as sa

from bot.models import UTCDateTime


revision = '0008_missed_calls'
down_revision = '0007_wrong_number'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'missed_call_text',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('phone', sa.String(20), nullable=False),
        sa.Column('local_day', sa.Date(), nullable=False),
        sa.Column('call_sid', sa.String(64), nullable=False),
        sa.Column('dial_status', sa.String(20), nullable=False),
        sa.Column('missed_at', UTCDateTime(), nullable=False),
        sa.Column('outbound_id', sa.Integer(), sa.ForeignKey('outbound_message.id'), nullable=True),
        sa.UniqueConstraint('phone', 'local_day', name='uq_missed_call_text_phone_day'),
    )


def downgrade() -> None:
    op.drop_table('missed_call_text')
