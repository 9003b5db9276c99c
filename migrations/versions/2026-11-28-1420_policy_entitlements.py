"""policy entitlements runs notices objections approvals payments

Revision ID: 0008pe
Revises: 0007pv
Create Date: 2026-11-28 13:40:01.901733
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008pe'
down_revision = '0007pv'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('payment_batch',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('district', sa.String(length=20), nullable=True),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.Column('total_fen', sa.BigInteger(), nullable=False),
    sa.Column('file_csv', sa.Text(), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('paid', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('return_sha256', sa.String(length=64), nullable=True),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_batch')),
    sa.UniqueConstraint('reference', name=op.f('uq_payment_batch_reference'))
    )
    op.create_table('policy_notice',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('period', sa.Integer(), nullable=False),
    sa.Column('starts_date', sa.Date(), nullable=False),
    sa.Column('ends_date', sa.Date(), nullable=False),
    sa.Column('entitlements', sa.Integer(), nullable=False),
    sa.Column('total_fen', sa.BigInteger(), nullable=False),
    sa.Column('published_by', sa.String(length=120), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_notice'))
    )
    with op.batch_alter_table('policy_notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_notice_period'), ['period'], unique=False)

    op.create_table('policy_run',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('period', sa.Integer(), nullable=False),
    sa.Column('policies', sa.JSON(), nullable=False),
    sa.Column('inputs_hash', sa.String(length=64), nullable=False),
    sa.Column('facts_hash', sa.String(length=64), nullable=False),
    sa.Column('enterprises', sa.Integer(), nullable=False),
    sa.Column('eligible', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('withdrawn', sa.Integer(), nullable=False),
    sa.Column('adjusted', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('total_fen', sa.BigInteger(), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('started_by', sa.String(length=120), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_run'))
    )
    with op.batch_alter_table('policy_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_run_period'), ['period'], unique=False)

    op.create_table('entitlement',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.String(length=100), nullable=False),
    sa.Column('policy_title_zh', sa.String(length=300), nullable=False),
    sa.Column('policy_title_en', sa.String(length=300), nullable=False),
    sa.Column('policy_hash', sa.String(length=64), nullable=False),
    sa.Column('period', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('budget_cut', sa.Boolean(), nullable=False),
    sa.Column('clauses', sa.JSON(), nullable=False),
    sa.Column('basis_hash', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('notice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deadline_date', sa.Date(), nullable=True),
    sa.Column('bank_name', sa.String(length=100), nullable=True),
    sa.Column('account_name', sa.String(length=200), nullable=True),
    sa.Column('account_no', sa.String(length=40), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_by', sa.String(length=120), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('bank_ref', sa.String(length=60), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['payment_batch.id'], name=op.f('fk_entitlement_batch_id_payment_batch')),
    sa.ForeignKeyConstraint(['notice_id'], ['policy_notice.id'], name=op.f('fk_entitlement_notice_id_policy_notice')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_entitlement_organisation_id_organisation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['policy_run.id'], name=op.f('fk_entitlement_run_id_policy_run')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entitlement')),
    sa.UniqueConstraint('organisation_id', 'policy_id', 'period', name=op.f('uq_entitlement_organisation_id_policy_id_period'))
    )
    with op.batch_alter_table('entitlement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entitlement_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_entitlement_notice_id'), ['notice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_entitlement_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index('ix_entitlement_period_status', ['period', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_entitlement_run_id'), ['run_id'], unique=False)

    op.create_table('policy_input',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('fact', sa.String(length=60), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=True),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('is_synthetic', sa.Boolean(), nullable=False),
    sa.Column('submitted_by', sa.String(length=120), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_policy_input_organisation_id_organisation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_input')),
    sa.UniqueConstraint('organisation_id', 'year', 'fact', name=op.f('uq_policy_input_organisation_id_year_fact'))
    )
    with op.batch_alter_table('policy_input', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_input_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_input_year'), ['year'], unique=False)

    op.create_table('entitlement_adjustment',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entitlement_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('old_amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('new_amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('delta_fen', sa.BigInteger(), nullable=False),
    sa.Column('basis_hash', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entitlement_id'], ['entitlement.id'], name=op.f('fk_entitlement_adjustment_entitlement_id_entitlement'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['policy_run.id'], name=op.f('fk_entitlement_adjustment_run_id_policy_run')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entitlement_adjustment')),
    sa.UniqueConstraint('entitlement_id', 'basis_hash', name=op.f('uq_entitlement_adjustment_entitlement_id_basis_hash'))
    )
    with op.batch_alter_table('entitlement_adjustment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entitlement_adjustment_entitlement_id'), ['entitlement_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_entitlement_adjustment_run_id'), ['run_id'], unique=False)

    op.create_table('entitlement_approval',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entitlement_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('officer_user_id', sa.Integer(), nullable=False),
    sa.Column('officer_name', sa.String(length=120), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entitlement_id'], ['entitlement.id'], name=op.f('fk_entitlement_approval_entitlement_id_entitlement'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entitlement_approval')),
    sa.UniqueConstraint('entitlement_id', 'level', name=op.f('uq_entitlement_approval_entitlement_id_level')),
    sa.UniqueConstraint('entitlement_id', 'officer_user_id', name=op.f('uq_entitlement_approval_entitlement_id_officer_user_id'))
    )
    with op.batch_alter_table('entitlement_approval', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entitlement_approval_entitlement_id'), ['entitlement_id'], unique=False)

    op.create_table('entitlement_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entitlement_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['entitlement_id'], ['entitlement.id'], name=op.f('fk_entitlement_event_entitlement_id_entitlement'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entitlement_event'))
    )
    with op.batch_alter_table('entitlement_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entitlement_event_entitlement_id'), ['entitlement_id'], unique=False)

    op.create_table('policy_objection',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.String(length=100), nullable=False),
    sa.Column('period', sa.Integer(), nullable=False),
    sa.Column('entitlement_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('objector_org_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('submitted_by', sa.String(length=120), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=120), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['entitlement_id'], ['entitlement.id'], name=op.f('fk_policy_objection_entitlement_id_entitlement'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_policy_objection_organisation_id_organisation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_objection'))
    )
    with op.batch_alter_table('policy_objection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_objection_entitlement_id'), ['entitlement_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_objection_organisation_id'), ['organisation_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('policy_objection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_objection_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_policy_objection_entitlement_id'))

    op.drop_table('policy_objection')
    with op.batch_alter_table('entitlement_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entitlement_event_entitlement_id'))

    op.drop_table('entitlement_event')
    with op.batch_alter_table('entitlement_approval', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entitlement_approval_entitlement_id'))

    op.drop_table('entitlement_approval')
    with op.batch_alter_table('entitlement_adjustment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entitlement_adjustment_run_id'))
        batch_op.drop_index(batch_op.f('ix_entitlement_adjustment_entitlement_id'))

    op.drop_table('entitlement_adjustment')
    with op.batch_alter_table('policy_input', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_input_year'))
        batch_op.drop_index(batch_op.f('ix_policy_input_organisation_id'))

    op.drop_table('policy_input')
    with op.batch_alter_table('entitlement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entitlement_run_id'))
        batch_op.drop_index('ix_entitlement_period_status')
        batch_op.drop_index(batch_op.f('ix_entitlement_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_entitlement_notice_id'))
        batch_op.drop_index(batch_op.f('ix_entitlement_batch_id'))

    op.drop_table('entitlement')
    with op.batch_alter_table('policy_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_run_period'))

    op.drop_table('policy_run')
    with op.batch_alter_table('policy_notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_notice_period'))

    op.drop_table('policy_notice')
    op.drop_table('payment_batch')

