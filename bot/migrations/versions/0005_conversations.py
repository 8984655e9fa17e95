"""conversations: who the assistant talks with on which channel; texts, tickets and commands belong to one

One SMS conversation is created for every distinct phone already in the
inbound and outbound texts, the tickets and the conversation commands, and
every row gets its conversation. The inbound MessageSid becomes the channel's
message id, unique per channel (SMS rows keep their MessageSid). The phone
columns stay (they are the SMS phone) but may be empty for a channel without
one. On SQLite the tables are rebuilt (batch mode); env.py turns foreign keys
off for it, so the rebuild cascades to nothing.

Revision ID: 0005_conversations
Revises: 0004_planning
"""
from alembic import op
import sqlalchemy as sa
import bot.models


revision = '0005_conversations'
down_revision = '0004_planning'
branch_labels = None
depends_on = None

# The tables that belong to a conversation, and the index each one's phone keeps.
TABLES = ('inbound_message', 'outbound_message', 'handoff_ticket', 'conversation_command')
PHONE_INDEXED = ('inbound_message', 'outbound_message', 'handoff_ticket')
CHANNEL = sa.Enum('sms', name='channel', native_enum=False, length=32)
# When each table's rows began: the conversation's created time is its earliest row's.
CREATED = {'inbound_message': 'received_at', 'outbound_message': 'created_at', 'handoff_ticket': 'created_at',
           'conversation_command': 'created_at'}


def _unique_on(table: str, columns: list[str]) -> str | None:
    """The name of the unique constraint on exactly ``columns`` (None: SQLite's unnamed one)."""
    for constraint in sa.inspect(op.get_bind()).get_unique_constraints(table):
        if constraint['column_names'] == columns:
            return constraint['name'] or f'uq_{table}_{"_".join(columns)}'
    raise LookupError(f'no unique constraint on {table}{tuple(columns)}')


def upgrade() -> None:
    op.create_table(
        'conversation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('channel', CHANNEL, nullable=False),
        sa.Column('address', sa.String(length=120), nullable=False),
        sa.Column('language', sa.String(length=10), nullable=True),
        sa.Column('created_at', bot.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('channel', 'address', name='uq_conversation_channel_address'),
    )
    for table in TABLES:
        op.add_column(table, sa.Column('conversation_id', sa.Integer(), nullable=True))
    op.add_column('inbound_message', sa.Column('channel', CHANNEL, nullable=True))

    # One SMS conversation per phone, as old as its first row; then every row's conversation.
    phones = ' UNION ALL '.join(f'SELECT phone, {CREATED[t]} AS at FROM {t}' for t in TABLES)
    op.execute(f"INSERT INTO conversation (channel, address, created_at) SELECT 'sms', phone, min(at)"
               f" FROM ({phones}) AS seen GROUP BY phone ORDER BY min(at), phone")
    for table in TABLES:
        op.execute(f"UPDATE {table} SET conversation_id = (SELECT c.id FROM conversation c"
                   f" WHERE c.channel = 'sms' AND c.address = {table}.phone)")
    op.execute("UPDATE inbound_message SET channel = 'sms'")

    sid_unique = _unique_on('inbound_message', ['message_sid'])
    naming = {'uq': 'uq_%(table_name)s_%(column_0_name)s'}  # names SQLite's unnamed constraints in batch mode
    with op.batch_alter_table('inbound_message', naming_convention=naming) as batch:
        batch.drop_constraint(sid_unique, type_='unique')
        batch.alter_column('message_sid', new_column_name='channel_message_id', existing_type=sa.String(64),
                           existing_nullable=False)
        batch.alter_column('channel', existing_type=CHANNEL, nullable=False)
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            if table == 'inbound_message':  # after the rename: batch mode drops a new constraint on a renamed column
                batch.create_unique_constraint('uq_inbound_channel_message', ['channel', 'channel_message_id'])
            batch.alter_column('conversation_id', existing_type=sa.Integer(), nullable=False)
            batch.alter_column('phone', existing_type=sa.String(20), nullable=True)
            batch.create_foreign_key(f'fk_{table}_conversation', 'conversation', ['conversation_id'], ['id'])
            batch.create_index(f'ix_{table}_conversation_id', ['conversation_id'])


def downgrade() -> None:
    # Only SMS exists before 0005: every row's phone is (again) its conversation's address.
    for table in TABLES:
        op.execute(f"UPDATE {table} SET phone = (SELECT c.address FROM conversation c"
                   f" WHERE c.id = {table}.conversation_id) WHERE phone IS NULL")
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f'ix_{table}_conversation_id')
            batch.drop_constraint(f'fk_{table}_conversation', type_='foreignkey')
            batch.alter_column('phone', existing_type=sa.String(20), nullable=False)
            batch.drop_column('conversation_id')
    with op.batch_alter_table('inbound_message') as batch:
        batch.drop_constraint('uq_inbound_channel_message', type_='unique')
        batch.alter_column('channel_message_id', new_column_name='message_sid', existing_type=sa.String(64),
                           existing_nullable=False)
        batch.drop_column('channel')
    with op.batch_alter_table('inbound_message') as batch:  # after the rename (see upgrade)
        batch.create_unique_constraint('inbound_message_message_sid_key', ['message_sid'])
    op.drop_table('conversation')
