"""transfer: declaration of no improper gain (尽职免责 checklist)

Revision ID: 0004c
Revises: 0004b
Create Date: 2026-11-28 14:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004c'
down_revision = '0004b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('transfer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('no_improper_gain_declared', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('transfer', schema=None) as batch_op:
        batch_op.alter_column('no_improper_gain_declared', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('transfer', schema=None) as batch_op:
        batch_op.drop_column('no_improper_gain_declared')
