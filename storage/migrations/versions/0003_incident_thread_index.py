"""index incidents by their Slack thread (thread chat finds the incident of a reply)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 23:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_incident_thread', 'incident', ['slack_channel', 'slack_ts'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_incident_thread', table_name='incident')
