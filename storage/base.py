"""What every repository shares: an engine, an executor, and the decorator that runs a
blocking method on that executor.

SQLAlchemy sessions are blocking, so each public method runs its work on the repository's
executor. For SQLite that executor has a single thread: writes are serialised in-process and
never meet "database is locked"; PostgreSQL gets a small pool. Repositories built `beside`
another share its executor.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R", bound="Repository")


def in_executor(
    method: Callable[Concatenate[R, P], T],
) -> Callable[Concatenate[R, P], Coroutine[Any, Any, T]]:
    """Run a blocking repository method on the repository's executor."""
    @functools.wraps(method)
    async def wrapper(self: R, *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(method, self, *args, **kwargs)
        )

    return wrapper  # type: ignore[return-value]


class Repository:
    """A set of blocking queries over one engine, run on a shared executor."""

    def __init__(self, engine: Engine, executor: ThreadPoolExecutor | None = None) -> None:
        self.engine = engine
        workers = 1 if engine.dialect.name == "sqlite" else 4
        self._executor = executor or ThreadPoolExecutor(max_workers=workers,
                                                        thread_name_prefix="store")

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)
