"""Named locks held in the database, so replicas of nightowl never run the same thing at once.

PostgreSQL: a session-level advisory lock on a connection kept open while held. The server
drops it the moment that connection dies, so a killed process never leaves it behind.

SQLite has no such thing, so a `Lease` row stands in: a holder and an expiry, renewed while
held. A holder on this same host whose process is gone is taken over at once instead of
waiting for the expiry (the restart-after-crash case); a holder elsewhere is trusted until its
lease expires.

These calls block: async callers run them in a worker thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from datetime import timedelta
from typing import Protocol

from sqlalchemy import Connection, Engine, delete, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col

from storage.models import Lease, as_utc, utcnow

log = logging.getLogger(__name__)


def process_holder() -> str:
    """Who holds a lock: host and pid (to spot dead holders on this host), plus a nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _holder_is_dead(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class DatabaseLock(Protocol):
    name: str

    def acquire(self) -> bool:
        """Take the lock if it is free (never waits). True when this process holds it."""
        ...

    def renew(self) -> bool:
        """Keep holding it. False when it was lost (the caller must stop what it guards)."""
        ...

    def release(self) -> None: ...


class AdvisoryLock:
    """PostgreSQL `pg_try_advisory_lock` on a dedicated connection."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self._conn: Connection | None = None

    def _key_sql(self) -> str:
        # Scoped by schema: advisory locks are per database, schemas share them.
        return "hashtextextended(current_schema() || ':' || :name, 0)"

    def acquire(self) -> bool:
        if self._conn is not None:
            return self.renew()
        conn = self.engine.connect()
        try:
            held = bool(conn.execute(text(f"SELECT pg_try_advisory_lock({self._key_sql()})"),
                                     {"name": self.name}).scalar())
            conn.commit()
        except Exception:
            conn.close()
            raise
        if held:
            self._conn = conn
        else:
            conn.close()
        return held

    def renew(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
            return True
        except OperationalError:
            log.warning("lost the database connection holding lock %s", self.name)
            self._drop()
            return False

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text(f"SELECT pg_advisory_unlock({self._key_sql()})"),
                               {"name": self.name})
            self._conn.commit()
        except OperationalError:
            pass
        self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


class LeaseLock:
    """A `Lease` row with an expiry, for SQLite."""

    def __init__(self, engine: Engine, name: str, *, holder: str, ttl_seconds: float) -> None:
        self.engine = engine
        self.name = name
        self.holder = holder
        self.ttl = timedelta(seconds=ttl_seconds)

    def acquire(self) -> bool:
        now = utcnow()
        with Session(self.engine) as session:
            lease = session.get(Lease, self.name)
            if lease is None:
                session.add(Lease(name=self.name, holder=self.holder, expires_at=now + self.ttl))
                try:
                    session.commit()
                except IntegrityError:  # another process inserted it first
                    return False
                return True
            free = (lease.holder == self.holder or as_utc(lease.expires_at) <= now
                    or _holder_is_dead(lease.holder))
            if not free:
                return False
            # Compare-and-set on the holder we read, so two takers cannot both win.
            result = session.connection().execute(
                update(Lease).where(col(Lease.name) == self.name,
                                    col(Lease.holder) == lease.holder)
                .values(holder=self.holder, expires_at=now + self.ttl))
            session.commit()
            return result.rowcount == 1  # type: ignore[attr-defined]

    def renew(self) -> bool:
        with Session(self.engine) as session:
            result = session.connection().execute(
                update(Lease).where(col(Lease.name) == self.name,
                                    col(Lease.holder) == self.holder)
                .values(expires_at=utcnow() + self.ttl))
            session.commit()
            return result.rowcount == 1  # type: ignore[attr-defined]

    def release(self) -> None:
        with Session(self.engine) as session:
            session.connection().execute(
                delete(Lease).where(col(Lease.name) == self.name,
                                    col(Lease.holder) == self.holder))
            session.commit()


def database_lock(engine: Engine, name: str, *, holder: str,
                  ttl_seconds: float = 30.0) -> DatabaseLock:
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, name)
    return LeaseLock(engine, name, holder=holder, ttl_seconds=ttl_seconds)
