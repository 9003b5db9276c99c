"""transfer: payout status of team members' income shares

Revision ID: 0004d
Revises: 0004c
Create Date: 2026-12-05 05:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004d'
down_revision = '0004c'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('income_share', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payout_status', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('paid_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('payout_reference', sa.String(length=100), nullable=True))
    # Shares split before this migration are unpaid until the TTO records their payment.
    op.execute("UPDATE income_share SET payout_status = 'unpaid' WHERE party = 'member'")


def downgrade() -> None:
    with op.batch_alter_table('income_share', schema=None) as batch_op:
        batch_op.drop_column('payout_reference')
        batch_op.drop_column('paid_date')
        batch_op.drop_column('payout_status')
