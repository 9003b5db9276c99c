"""policy: a run's figures per district (district officers read their district's)

Revision ID: 0009pd
Revises: 0008pe
Create Date: 2026-12-05 04:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009pd'
down_revision = '0008pe'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Runs recorded before this revision have no per-district figures (NULL): pages say so.
    with op.batch_alter_table('policy_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('districts', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('policy_run', schema=None) as batch_op:
        batch_op.drop_column('districts')
