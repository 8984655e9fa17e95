"""inbox: durable hand-backs to Rasa (conversation_command), notes written by the assistant, failed logins

Revision ID: 0002_inbox
Revises: 0001
Create Date: 2026-12-02 12:35:51.497965
"""
from alembic import op
import sqlalchemy as sa
import bot.models


revision = '0002_inbox'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conversation_command',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('resume', 'pause', name='command_kind', native_enum=False, length=32), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'done', 'failed', 'superseded', name='command_status', native_enum=False, length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', bot.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', bot.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('created_at', bot.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', bot.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['handoff_ticket.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('conversation_command', schema=None) as batch_op:
        batch_op.create_index('ix_conversation_command_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_command_phone'), ['phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_command_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('login_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', bot.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('client_address', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_failure_at'), ['at'], unique=False)
        batch_op.create_index('ix_login_failure_who', ['username', 'client_address', 'at'], unique=False)

    # A note with no staff member is the assistant's (a hand-back that failed).
    with op.batch_alter_table('ticket_note', schema=None) as batch_op:
        batch_op.alter_column('staff_user_id', existing_type=sa.INTEGER(), nullable=True)


def downgrade() -> None:
    # The assistant's notes cannot exist without a staff member: they go.
    op.execute("DELETE FROM ticket_note WHERE staff_user_id IS NULL")
    with op.batch_alter_table('ticket_note', schema=None) as batch_op:
        batch_op.alter_column('staff_user_id', existing_type=sa.INTEGER(), nullable=False)

    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failure_who')
        batch_op.drop_index(batch_op.f('ix_login_failure_at'))
    op.drop_table('login_failure')

    with op.batch_alter_table('conversation_command', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_command_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_conversation_command_phone'))
        batch_op.drop_index('ix_conversation_command_due')

    op.drop_table('conversation_command')
