"""the Dev agent: fix proposals (a flow's steps and progress) and the pull requests it opened

Revision ID: dev_prs_0001
Revises: security_cases
Create Date: 2026-11-28 08:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'dev_prs_0001'
down_revision: str | None = 'security_cases'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'fixproposal',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('service', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column('repository', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('step', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('incident_id', sa.Integer(), nullable=True),
        sa.Column('finding_id', sa.Integer(), nullable=True),
        sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('thread_ts', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('message_ts', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('suspect', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('requested_by', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column('error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('result', sa.JSON(), nullable=False),
        sa.Column('progress', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['incident_id'], ['incident.id']),
        sa.ForeignKeyConstraint(['finding_id'], ['finding.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_fixproposal_fingerprint', 'fixproposal', ['fingerprint', 'repository'])
    op.create_index('ix_fixproposal_status', 'fixproposal', ['status'])
    op.create_table(
        'pullrequest',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('proposal_id', sa.Integer(), nullable=True),
        sa.Column('repository', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('branch', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('suspect', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('stage', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('head_sha', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('closed_by', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column('opened_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('synced_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['proposal_id'], ['fixproposal.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('repository', 'number', name='uq_pullrequest_number'),
    )
    op.create_index('ix_pullrequest_state', 'pullrequest', ['repository', 'state'])
    op.create_index('ix_pullrequest_fingerprint', 'pullrequest', ['fingerprint'])


def downgrade() -> None:
    op.drop_index('ix_pullrequest_fingerprint', table_name='pullrequest')
    op.drop_index('ix_pullrequest_state', table_name='pullrequest')
    op.drop_table('pullrequest')
    op.drop_index('ix_fixproposal_status', table_name='fixproposal')
    op.drop_index('ix_fixproposal_fingerprint', table_name='fixproposal')
    op.drop_table('fixproposal')
