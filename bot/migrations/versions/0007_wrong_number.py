"""wrong-number reports: a phone that is not a patient's gets no automated texts for them

Revision ID: 0007_wrong_number
Revises: 0006_on_call
"""
from alembic import op
import sqlalchemy as sa

import bot.models


revision = '0007_wrong_number'
down_revision = '0006_on_call'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'wrong_number_report',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('phone', sa.String(length=20), nullable=False),
        sa.Column('patient_id', sa.Integer(), sa.ForeignKey('patient.id'), nullable=False),
        sa.Column('reported_at', bot.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('detail', sa.String(length=200), nullable=True),
        sa.Column('ticket_id', sa.Integer(), sa.ForeignKey('handoff_ticket.id'), nullable=True),
        sa.Column('cleared_at', bot.models.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_wrong_number_report_phone', 'wrong_number_report', ['phone'])


def downgrade() -> None:
    op.drop_index('ix_wrong_number_report_phone', table_name='wrong_number_report')
    op.drop_table('wrong_number_report')
