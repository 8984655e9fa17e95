"""reminder planning looks only at what changed: a needs-planning mark per appointment, the schedule last planned for

Every appointment already in the database starts marked, so the first pass
after the upgrade plans (or re-checks) each one once.

Revision ID: 0004_planning
Revises: 0003_pipeline
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_planning'
down_revision = '0003_pipeline'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('appointment') as batch:
        batch.add_column(sa.Column('needs_planning', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.create_index('ix_appointment_planning', ['needs_planning', 'start'])
    planning = op.create_table(
        'reminder_planning',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('schedule', sa.Text(), nullable=True),
    )
    op.bulk_insert(planning, [{'id': 1, 'schedule': None}])  # None: no pass has planned yet


def downgrade() -> None:
    op.drop_table('reminder_planning')
    with op.batch_alter_table('appointment') as batch:
        batch.drop_index('ix_appointment_planning')
        batch.drop_column('needs_planning')
