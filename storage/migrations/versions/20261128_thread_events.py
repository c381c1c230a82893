"""Typed thread events in the outbox; the re-investigate cooldown claimed on the incident

Revision ID: 20261128_events
Revises: 0004_slack_outbox
Create Date: 2026-11-28 12:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '20261128_events'
down_revision: str | None = '0004_slack_outbox'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('threadupdate') as batch:
        batch.add_column(sa.Column('data', sa.JSON(), nullable=True))
        batch.alter_column('text', existing_type=sqlmodel.sql.sqltypes.AutoString(), nullable=True)
    with op.batch_alter_table('incident') as batch:
        batch.add_column(sa.Column('last_investigation_at',
                                   sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    # Finished runs whose final message had not landed yet were retried by a flag; their
    # message now goes through the outbox like every other: queue it there.
    bind = op.get_bind()
    unshown = bind.execute(sa.text(
        "SELECT id, incident_id FROM investigation WHERE incident_id IS NOT NULL "
        "AND shown_final = :no AND status IN ('done', 'failed')"), {"no": False}).all()
    if unshown:
        outbox = sa.table('threadupdate', sa.column('incident_id', sa.Integer()),
                          sa.column('kind', sa.String()), sa.column('data', sa.JSON()),
                          sa.column('created_at', sqlmodel.sql.sqltypes.UTCDateTime()))
        now = datetime.now(UTC)
        op.bulk_insert(outbox, [{"incident_id": incident_id, "kind": "investigation_finished",
                                 "data": {"investigation_id": run_id}, "created_at": now}
                                for run_id, incident_id in unshown])

def downgrade() -> None:
    op.execute("DELETE FROM threadupdate WHERE data IS NOT NULL AND text IS NULL")
    if op.get_bind().dialect.name == "sqlite":
        # A batch drop would copy `incident`, which other tables reference; SQLite (3.35+)
        # drops a plain column in place.
        op.execute("ALTER TABLE incident DROP COLUMN last_investigation_at")
    else:
        op.drop_column('incident', 'last_investigation_at')
    with op.batch_alter_table('threadupdate') as batch:
        batch.alter_column('text', existing_type=sqlmodel.sql.sqltypes.AutoString(), nullable=False)
        batch.drop_column('data')
