"""policy versions (YAML text per version, author, reason, status)

Revision ID: 0007pv
Revises: 0001
Create Date: 2026-11-28 14:10:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007pv'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('policy_version',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('policy_key', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('yaml_text', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('title_zh', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('author_name', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_by', sa.String(length=100), nullable=True),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_version')),
    sa.UniqueConstraint('policy_key', 'version', name=op.f('uq_policy_version_policy_key_version'))
    )
    with op.batch_alter_table('policy_version', schema=None) as batch_op:
        batch_op.create_index('ix_policy_version_policy_key_status', ['policy_key', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_version_sha256'), ['sha256'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('policy_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_version_sha256'))
        batch_op.drop_index('ix_policy_version_policy_key_status')
    op.drop_table('policy_version')
