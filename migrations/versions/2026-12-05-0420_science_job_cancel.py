"""science: cancelling evaluation jobs (when the cancel was asked for, and by whom)

Revision ID: 0010sc
Revises: 0006sj
Create Date: 2026-12-05 04:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010sc'
down_revision = '0006sj'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('evaluation_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancel_requested_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cancelled_by_user_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('evaluation_job', schema=None) as batch_op:
        batch_op.drop_column('cancelled_by_user_id')
        batch_op.drop_column('cancel_requested_at')
