"""Flow runs: the in-process runner's progress and the Temporal runner's pending starts

Revision ID: 20261128_flows
Revises: 20261128_events
Create Date: 2026-11-28 11:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '20261128_flows'
down_revision: str | None = '20261128_events'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('flowrun',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('flow', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('flow', 'key', name='uq_flowrun_flow_key')
    )
    op.create_index('ix_flowrun_status', 'flowrun', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_flowrun_status', table_name='flowrun')
    op.drop_table('flowrun')
