"""Slack outbox: post attempts (found again by message metadata) and shown investigations

Revision ID: 0004_slack_outbox
Revises: dev_prs_0001
Create Date: 2026-11-28 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0004_slack_outbox'
down_revision: str | None = 'dev_prs_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('incident') as batch:
        batch.add_column(sa.Column('slack_post_started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table('threadupdate') as batch:
        batch.add_column(sa.Column('post_started_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                   nullable=True))
    with op.batch_alter_table('investigation') as batch:
        batch.add_column(sa.Column('post_started_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                   nullable=True))
        # Runs finished before this migration were shown by the code of their time.
        batch.add_column(sa.Column('shown_final', sa.Boolean(), nullable=False,
                                   server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table('investigation') as batch:
        batch.drop_column('shown_final')
        batch.drop_column('post_started_at')
    with op.batch_alter_table('threadupdate') as batch:
        batch.drop_column('post_started_at')
    with op.batch_alter_table('incident') as batch:
        batch.drop_column('slack_post_started_at')
