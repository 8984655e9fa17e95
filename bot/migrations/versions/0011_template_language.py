"""reply templates (canned responses) get a language: staff pick the Spanish one for a Spanish conversation

Existing templates were written in English.

Revision ID: 0011_template_language
Revises: 0010_bills
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_template_language'
down_revision = '0010_bills'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('canned_response') as batch:
        batch.add_column(sa.Column('language', sa.String(8), nullable=False, server_default='en'))


def downgrade() -> None:
    with op.batch_alter_table('canned_response') as batch:
        batch.drop_column('language')
