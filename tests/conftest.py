"""Shared fixtures: databases (SQLite and the machine's PostgreSQL), a store, fake servers."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from storage.db import make_engine, upgrade
from storage.repository import Store
from tests.fakes.server import ServerThread
from tests.fakes.slack import FakeSlack

IN_CI = os.environ.get("CI") == "true"
PG_URL = os.environ.get("NIGHTOWL_TEST_POSTGRES_URL",
                        "postgresql+psycopg://root@127.0.0.1:5432/test")


# The modules that start real processes and servers, longest first (measured with
# `--durations`). They run before the rest so that, under `pytest -n 2 --dist loadfile`
# (`make unit`), no long module is left for one worker while the other has finished.
SLOW_MODULES = ("test_temporal", "test_storm_sigkill", "test_restarts", "test_onboarding",
                "test_dev_flow", "test_llm_gateway", "test_synthetic_public", "test_fuzz",
                "test_evals", "test_api_rest", "test_prometheus_conventions", "test_outbox")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow modules first; the order inside each module, and of the others, is unchanged."""
    def rank(item: pytest.Item) -> int:
        name = item.path.stem
        return SLOW_MODULES.index(name) if name in SLOW_MODULES else len(SLOW_MODULES)

    items.sort(key=rank)


def require(condition: bool, reason: str) -> None:
    """Skip locally when a real part is missing; in CI a missing part is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must run this test: {reason}")
    pytest.skip(reason)


def require_binary(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"{name} is not installed (apt-get install it)")
    assert path is not None
    return path


def _postgres_available() -> bool:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema in the test database, dropped afterwards; yields its URL."""
    require(_postgres_available(), f"PostgreSQL not reachable at {PG_URL}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git repository on branch main (the Dev agent's tests commit into it)."""
    path = tmp_path / "repo"
    path.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, check=True,
                   capture_output=True)
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage test runs on both databases; PostgreSQL gets a fresh schema per test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/nightowl.db"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def fake_slack() -> Iterator[tuple[FakeSlack, str]]:
    """The fake Slack Web API on loopback, and its base URL."""
    slack = FakeSlack()
    with ServerThread(slack.app()) as server:
        slack.base_url = server.url
        yield slack, server.url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    engine = make_engine(database_url)
    upgrade(engine)
    store = Store(engine)
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    engine = make_engine(f"sqlite:///{tmp_path}/nightowl.db")
    upgrade(engine)
    store = Store(engine)
    yield store
    store.close()


@pytest.fixture(scope="module")
def prometheus(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus serving the requesting test module's `openmetrics()` history."""
    from tests.fakes.prometheus import backfilled

    history = request.module.openmetrics()
    with backfilled(tmp_path_factory.mktemp("prometheus"), history) as url:
        yield url
