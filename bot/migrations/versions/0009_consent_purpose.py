"""consent by purpose (care, billing, marketing, or all at once) and the carriers' one-time welcome per phone

Every consent record gets a purpose: an opt-out stored so far was STOP, which stops everything (``all``);
an opt-in was START, which now restores care texts (``care``). ``welcome_text`` holds one row per phone
(unique) that had its welcome; phones that already had an automated text are filled in, so the welcome goes
only to numbers that never had one.

Revision ID: 0009_consent_purpose
Revises: 0008_missed_calls
"""
from alembic import op
import sqlalchemy as sa

from bot.models import UTCDateTime


revision = '0009_consent_purpose'
down_revision = '0008_missed_calls'
branch_labels = None
depends_on = None

AUTOMATED_BEFORE = ('reminder', 'recall', 'waitlist')  # the automated kinds before this revision


def upgrade() -> None:
    with op.batch_alter_table('consent_record') as batch:
        batch.add_column(sa.Column('purpose', sa.String(20), nullable=False, server_default='care'))
    op.execute("UPDATE consent_record SET purpose = 'all' WHERE status = 'opted_out'")
    op.create_table(
        'welcome_text',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('phone', sa.String(20), nullable=False),
        sa.Column('sent_at', UTCDateTime(), nullable=False),
        sa.Column('outbound_id', sa.Integer(), sa.ForeignKey('outbound_message.id'), nullable=True),
        sa.UniqueConstraint('phone', name='uq_welcome_text_phone'),
    )
    kinds = ", ".join(f"'{k}'" for k in AUTOMATED_BEFORE)
    op.execute(
        "INSERT INTO welcome_text (phone, sent_at) SELECT phone, MIN(created_at) FROM outbound_message "
        f"WHERE phone IS NOT NULL AND kind IN ({kinds}) AND status <> 'blocked' GROUP BY phone")


def downgrade() -> None:
    op.drop_table('welcome_text')
    with op.batch_alter_table('consent_record') as batch:
        batch.drop_column('purpose')
