"""Two processes (serve and a worker, or two workers, on Temporal) bringing the same thread up
to date at once post each message once: every kind of thread takes the per-thread lease, a
security case's as an incident's. Two dispatchers over one database, as two processes have,
with the real Slack client against a fake Slack that is slow to answer a post."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.dispatcher import Dispatcher, lease_name
from bot.metrics import Metrics
from bot.security.service import _row
from bot.security.threads import CaseThreads
from bot.service import THREAD_LEASE_S
from bot.slack.pacing import ChannelPacer
from bot.slack.retry import retry_handlers
from bot.slack.surface import SlackSurface
from storage.locks import LeaseLock, process_holder
from storage.models import SecurityCase
from storage.repository import Store
from storage.security import SecurityStore, fold_key
from tests.fakes.server import ServerThread
from tests.fakes.slack import FakeSlack
from tests.security_cases import FIRED, attack_story, stop_logging_signal


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(clock_ts=True)
    # Slack keeps the post at once and answers late: the window in which a second process,
    # not seeing the first one's post recorded yet, would post it again.
    fake.on_post = lambda message: time.sleep(0.3)
    with ServerThread(fake.app()) as server:
        fake.base_url = server.url
        yield fake


def _process(store: Store, slack: FakeSlack, *, leased: bool) -> Dispatcher:
    """What each process builds: its own dispatcher, surface and holder name."""
    metrics = Metrics()
    surface = SlackSurface(AsyncWebClient(token="xoxb-lease", base_url=f"{slack.base_url}/api/",
                                          retry_handlers=retry_handlers()),
                           ChannelPacer(per_second=100, metrics=metrics))
    dispatcher = Dispatcher(store, surface)
    dispatcher.register(CaseThreads(SecurityStore.beside(store), surface))
    if leased:  # as Service.use_runner sets it on Temporal
        holder = process_holder()
        dispatcher.thread_lock = lambda name: LeaseLock(
            store.engine, name, holder=holder, ttl_seconds=THREAD_LEASE_S)
    return dispatcher


async def _case(store: Store, rule: str) -> int:
    signal = stop_logging_signal(attack_story())
    opened = await SecurityStore.beside(store).open_or_fold(SecurityCase(
        fold_key=fold_key(rule, "mallory"), rule=rule, rule_id=rule, source="sigma",
        log_type="AWS.CloudTrail", principal="mallory", signal=signal.case_signal(),
        channel="#security", first_fired_at=FIRED, last_fired_at=FIRED),
        [_row(e, role="trigger") for e in signal.events], note="")
    return opened.case_id


async def test_two_processes_syncing_one_case_thread_post_its_root_once(
        sqlite_store: Store, slack: FakeSlack) -> None:
    case_id = await _case(sqlite_store, "r-leased")
    serve, worker = (_process(sqlite_store, slack, leased=True) for _ in range(2))
    await asyncio.gather(serve.sync_now(case_id, kind="security"),
                         worker.sync_now(case_id, kind="security"))
    assert len(slack.roots()) == 1, [m["text"] for m in slack.roots()]
    case = await SecurityStore.beside(sqlite_store).case(case_id)
    assert case.slack_ts == slack.roots()[0]["ts"]
    assert lease_name("security", case_id) == f"thread:security:{case_id}"
    assert lease_name("incident", case_id) == f"thread:{case_id}", "incidents' name unchanged"


async def test_without_the_lease_the_same_race_posts_twice(
        sqlite_store: Store, slack: FakeSlack) -> None:
    """The race above is real in this setting: the lease is what makes it one post."""
    case_id = await _case(sqlite_store, "r-unleased")
    serve, worker = (_process(sqlite_store, slack, leased=False) for _ in range(2))
    await asyncio.gather(serve.sync_now(case_id, kind="security"),
                         worker.sync_now(case_id, kind="security"))
    assert len(slack.roots()) == 2
