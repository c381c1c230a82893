"""Replicas that start together all migrate on start: on PostgreSQL they take turns (an
advisory lock) instead of racing to create the same tables. Without the lock, three
`nightowl db upgrade` processes on a fresh schema fail with a duplicate-key error on
PostgreSQL's catalogue."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import make_engine
from tests.conftest import postgres_schema

NIGHTOWL = Path(sys.executable).with_name("nightowl")


@pytest.mark.postgres
def test_processes_starting_together_migrate_one_at_a_time() -> None:
    with postgres_schema() as url:
        env = {**os.environ, "NIGHTOWL_DATABASE_URL": url}
        procs = [subprocess.Popen([str(NIGHTOWL), "db", "upgrade"], env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                 for _ in range(3)]
        outputs = [(p.wait(timeout=120), p.stdout.read() if p.stdout else "") for p in procs]
        assert [code for code, _ in outputs] == [0, 0, 0], outputs
        engine = make_engine(url)
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        engine.dispose()
        assert len(versions) == 1
