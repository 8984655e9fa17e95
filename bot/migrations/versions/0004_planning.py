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
    # Plain ALTER TABLE, not batch mode: on SQLite batch mode may rebuild the table, and dropping the old
    # one cascades to its reminders, changes and slot claims.
    op.add_column('appointment', sa.Column('needs_planning', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_index('ix_appointment_planning', 'appointment', ['needs_planning', 'start'])
    planning = op.create_table(
        'reminder_planning',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('schedule', sa.Text(), nullable=True),
    )
    op.bulk_insert(planning, [{'id': 1, 'schedule': None}])  # None: no pass has planned yet


def downgrade() -> None:
    op.drop_table('reminder_planning')
    op.drop_index('ix_appointment_planning', table_name='appointment')
    op.drop_column('appointment', 'needs_planning')  # SQLite 3.35+ drops a column in place
