"""policy: registry facts corrected from an upheld objection, the enterprise's re-evaluation recorded

Revision ID: 0011pf
Revises: 0009pd
Create Date: 2026-12-05 04:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011pf'
down_revision = '0009pd'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'policy_fact_correction',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('objection_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('field', sa.String(length=60), nullable=False),
        sa.Column('before_value', sa.String(length=200), nullable=True),
        sa.Column('after_value', sa.String(length=200), nullable=True),
        sa.Column('source_department', sa.String(length=100), nullable=False),
        sa.Column('as_of_date', sa.Date(), nullable=False),
        sa.Column('corrected_by', sa.String(length=120), nullable=False),
        sa.Column('corrected_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['objection_id'], ['policy_objection.id'],
                                name=op.f('fk_policy_fact_correction_objection_id_policy_objection'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'],
                                name=op.f('fk_policy_fact_correction_organisation_id_organisation'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_fact_correction')),
    )
    with op.batch_alter_table('policy_fact_correction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_fact_correction_objection_id'), ['objection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_fact_correction_organisation_id'), ['organisation_id'],
                              unique=False)
    with op.batch_alter_table('policy_objection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.JSON(), nullable=True))
    with op.batch_alter_table('policy_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('objection_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('policy_run', schema=None) as batch_op:
        batch_op.drop_column('objection_id')
    with op.batch_alter_table('policy_objection', schema=None) as batch_op:
        batch_op.drop_column('outcome')
    with op.batch_alter_table('policy_fact_correction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_fact_correction_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_policy_fact_correction_objection_id'))
    op.drop_table('policy_fact_correction')
