"""Engines and schema migrations. Nothing here runs at import time: the entry point calls in."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from storage.errors import DatabaseConfigError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# How long a process waits for another one's migrations before giving up with an error.
MIGRATION_WAIT_S = 600.0


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (`postgres://`, `postgresql://`); use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, echo: bool = False) -> Engine:
    url = normalize_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseConfigError(
            f"NIGHTOWL_DATABASE_URL is not a valid SQLAlchemy URL: {exc}"
        ) from exc
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseConfigError(
            f"NIGHTOWL_DATABASE_URL names '{backend}'; nightowl supports sqlite and postgresql"
        )
    kwargs: dict[str, Any] = {"echo": echo}
    if backend == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs["pool_pre_ping"] = True
        kwargs["pool_size"] = 5
    engine = create_engine(url, **kwargs)
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (CLI, /metrics) run while the service writes; NORMAL sync is durable
    # across process crashes, which is what "survives restarts" needs.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision` (run on start and by `nightowl db upgrade`)."""
    log.info("applying database migrations up to %s", revision)
    if engine.dialect.name != "postgresql":
        command.upgrade(alembic_config(engine), revision)
        return
    # Replicas start together (`docker compose up --scale worker=3`, a Deployment's pods) and
    # each migrates on start: unserialised, two of them create the same table and one dies.
    # One holds the lock and migrates; the others wait, then find the schema at head.
    from storage.locks import AdvisoryLock

    lock = AdvisoryLock(engine, "nightowl:migrations")
    deadline = time.monotonic() + MIGRATION_WAIT_S
    while not lock.acquire():
        if time.monotonic() > deadline:
            raise DatabaseConfigError(
                f"another process has been migrating NIGHTOWL_DATABASE_URL for over "
                f"{MIGRATION_WAIT_S:.0f} s; check it, then start again")
        time.sleep(0.25)
    try:
        command.upgrade(alembic_config(engine), revision)
    finally:
        lock.release()
