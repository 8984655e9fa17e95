"""web chat from the practice's website: chats (a random id and a hashed token), phone codes, rate counts

``conversation.channel`` is a plain string column, so the new channel ``web_chat`` needs no change there.
``rate_hit`` counts requests per named limit in the database, so every server sees the same count.

Revision ID: 0013_web_chat
Revises: 0012_broadcasts
"""
from alembic import op
import sqlalchemy as sa

from bot.models import UTCDateTime


revision = '0013_web_chat'
down_revision = '0012_broadcasts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'web_chat',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('chat_id', sa.String(64), nullable=False),
        sa.Column('token_hash', sa.String(64), nullable=False),
        sa.Column('conversation_id', sa.Integer(), sa.ForeignKey('conversation.id'), nullable=False),
        sa.Column('client_address', sa.String(64), nullable=False),
        sa.Column('origin', sa.String(200), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('last_seen_at', UTCDateTime(), nullable=False),
        sa.Column('verified_phone', sa.String(20), nullable=True),
        sa.Column('verified_at', UTCDateTime(), nullable=True),
        sa.UniqueConstraint('chat_id', name='uq_web_chat_chat_id'),
        sa.UniqueConstraint('conversation_id', name='uq_web_chat_conversation_id'),
    )
    op.create_table(
        'web_chat_code',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('web_chat_id', sa.Integer(), sa.ForeignKey('web_chat.id'), nullable=False),
        sa.Column('phone', sa.String(20), nullable=False),
        sa.Column('code_hash', sa.String(64), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('expires_at', UTCDateTime(), nullable=False),
        sa.Column('tries', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('used_at', UTCDateTime(), nullable=True),
    )
    op.create_index('ix_web_chat_code_web_chat_id', 'web_chat_code', ['web_chat_id'])
    op.create_table(
        'rate_hit',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('key', sa.String(120), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
    )
    op.create_index('ix_rate_hit_key_at', 'rate_hit', ['key', 'at'])


def downgrade() -> None:
    op.drop_index('ix_rate_hit_key_at', table_name='rate_hit')
    op.drop_table('rate_hit')
    op.drop_index('ix_web_chat_code_web_chat_id', table_name='web_chat_code')
    op.drop_table('web_chat_code')
    op.drop_table('web_chat')
