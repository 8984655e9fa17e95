"""bill-ready texts: imported statements, one row per statement and text step, and the patients' external id

``patient.external_id`` is the practice-management system's patient id a statement import may name (unique
when given). ``bill_statement`` holds the imported statements (``statement_id`` unique); ``bill_text`` one row
per statement and step (``ready``, ``follow_up``), unique, so each text goes once whatever the workers.

Revision ID: 0010_bills
Revises: 0009_consent_purpose
"""
from alembic import op
import sqlalchemy as sa

from bot.models import UTCDateTime


revision = '0010_bills'
down_revision = '0009_consent_purpose'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('patient') as batch:
        batch.add_column(sa.Column('external_id', sa.String(40), nullable=True))
        batch.create_unique_constraint('uq_patient_external_id', ['external_id'])
    op.create_table(
        'bill_statement',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('statement_id', sa.String(64), nullable=False),
        sa.Column('patient_id', sa.Integer(), sa.ForeignKey('patient.id'), nullable=False),
        sa.Column('phone', sa.String(20), nullable=False),
        sa.Column('statement_date', sa.Date(), nullable=False),
        sa.Column('imported_at', UTCDateTime(), nullable=False),
        sa.Column('paid_at', UTCDateTime(), nullable=True),
        sa.UniqueConstraint('statement_id', name='uq_bill_statement_statement_id'),
    )
    op.create_index('ix_bill_statement_patient_id', 'bill_statement', ['patient_id'])
    op.create_index('ix_bill_statement_phone', 'bill_statement', ['phone'])
    op.create_table(
        'bill_text',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('statement_id', sa.Integer(), sa.ForeignKey('bill_statement.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('step', sa.String(20), nullable=False),
        sa.Column('status', sa.String(20), nullable=False),
        sa.Column('reason', sa.String(200), nullable=True),
        sa.Column('outbound_id', sa.Integer(), sa.ForeignKey('outbound_message.id'), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.UniqueConstraint('statement_id', 'step', name='uq_bill_text_step'),
    )


def downgrade() -> None:
    op.drop_table('bill_text')
    op.drop_index('ix_bill_statement_phone', 'bill_statement')
    op.drop_index('ix_bill_statement_patient_id', 'bill_statement')
    op.drop_table('bill_statement')
    with op.batch_alter_table('patient') as batch:
        batch.drop_constraint('uq_patient_external_id', type_='unique')
        batch.drop_column('external_id')
