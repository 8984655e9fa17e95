"""the message pipeline: every inbound text's outcome and tries; outbound give-up and alert times

Revision ID: 0003_pipeline
Revises: 0002_inbox
"""
from alembic import op
import sqlalchemy as sa
import bot.models


revision = '0003_pipeline'
down_revision = '0002_inbox'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_message') as batch:
        batch.add_column(sa.Column('outcome', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('opt_out_type', sa.String(length=10), nullable=True))
    with op.batch_alter_table('outbound_message') as batch:
        batch.add_column(sa.Column('give_up_at', bot.models.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('alerted_at', bot.models.UTCDateTime(timezone=True), nullable=True))
    # Texts already answered before this migration: their outcome is what their status says.
    op.execute("UPDATE inbound_message SET outcome = 'replied' WHERE status = 'processed' AND outcome IS NULL")
    op.execute("UPDATE inbound_message SET outcome = 'handed_to_staff' "
               "WHERE status = 'failed' AND ticket_id IS NOT NULL AND outcome IS NULL")


def downgrade() -> None:
    with op.batch_alter_table('outbound_message') as batch:
        batch.drop_column('alerted_at')
        batch.drop_column('give_up_at')
    with op.batch_alter_table('inbound_message') as batch:
        batch.drop_column('opt_out_type')
        batch.drop_column('attempts')
        batch.drop_column('outcome')
