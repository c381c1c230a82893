"""security cases, their events, outbox, approvals, feedback

A unique partial index on `fold_key` among open cases lets repeated fires fold into one case
even with several replicas writing.

Revision ID: security_cases
Revises: 20261128_api
Create Date: 2026-11-28 08:23:56.573742
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'security_cases'
down_revision: str | None = '20261128_api'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('securitycase',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fold_key', sqlmodel.sql.sqltypes.AutoString(length=600), nullable=False),
    sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('rule_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('log_type', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('severity', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('principal', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('signal', sa.JSON(), nullable=False),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('step_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('verdict', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('triage', sa.JSON(), nullable=False),
    sa.Column('fires', sa.Integer(), nullable=False),
    sa.Column('first_fired_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_fired_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('slack_channel', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('slack_ts', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('detail_ts', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('rendered_version', sa.Integer(), nullable=False),
    sa.Column('decision', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('escalated_by', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('opened_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('closed_by', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('securitycase', schema=None) as batch_op:
        batch_op.create_index('ix_securitycase_opened', ['opened_at'], unique=False)
        batch_op.create_index('ix_securitycase_thread', ['slack_channel', 'slack_ts'], unique=False)
        batch_op.create_index('uq_securitycase_open_fold', ['fold_key'], unique=True, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))

    op.create_table('containmentapproval',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('action_index', sa.Integer(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('approved_by', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('approved_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('executor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['securitycase.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'action_index', name='uq_containment_once')
    )
    op.create_table('securitycaseevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('log_type', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('ts', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['securitycase.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'event_id', name='uq_securityevent_case')
    )
    op.create_table('securitycaseupdate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('posted_ts', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['securitycase.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('securitycaseupdate', schema=None) as batch_op:
        batch_op.create_index('ix_securityupdate_pending', ['case_id', 'posted_ts'], unique=False)

    op.create_table('securityfeedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('principal', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('user', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('verdict', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['securitycase.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('securityfeedback', schema=None) as batch_op:
        batch_op.create_index('ix_securityfeedback_rule', ['rule_id', 'principal'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('securityfeedback', schema=None) as batch_op:
        batch_op.drop_index('ix_securityfeedback_rule')

    op.drop_table('securityfeedback')
    with op.batch_alter_table('securitycaseupdate', schema=None) as batch_op:
        batch_op.drop_index('ix_securityupdate_pending')

    op.drop_table('securitycaseupdate')
    op.drop_table('securitycaseevent')
    op.drop_table('containmentapproval')
    with op.batch_alter_table('securitycase', schema=None) as batch_op:
        batch_op.drop_index('uq_securitycase_open_fold', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
        batch_op.drop_index('ix_securitycase_thread')
        batch_op.drop_index('ix_securitycase_opened')

    op.drop_table('securitycase')
