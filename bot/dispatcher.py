"""Brings each incident's chat thread up to date with the database, one channel queue each.

Intake and button handlers only write to the database and call `notify`. Per channel, one
task drains a queue of incident ids (an id already waiting is not queued twice, so an alert
storm collapses into few messages), and the surface paces its calls. Everything to post is in
the database (the outbox), so a crash loses nothing: on start, `recover` queues whatever is
behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from agents.sre.report import InvestigationView, Progress, Report
from bot.surface import ChatSurface, MessageRef
from bot.thread_text import MAX_LINES_PER_REPLY
from storage.locks import DatabaseLock
from storage.models import Incident, Investigation, ThreadUpdate
from storage.outbox import Outbox
from storage.repository import Store
from storage.thread_events import (
    InvestigationFinished,
    InvestigationProgress,
    InvestigationStarted,
)

log = logging.getLogger(__name__)

FINISHED = ("done", "failed")
RETRY_BASE_S = 2.0
RETRY_MAX_S = 300.0
THREAD_LOCK_WAIT_S = 60.0

if TYPE_CHECKING:
    from bot.health import Health

OnOpened = Callable[[int], Awaitable[None]]
INCIDENT = "incident"
Key = tuple[str, int]  # (kind of thread, its id): incidents, and what registers (security)


def lease_name(kind: str, item_id: int) -> str:
    """The per-thread lease's name: `thread:<id>` for incidents (its name before other
    kinds of thread took one), `thread:<kind>:<id>` for the others."""
    return f"thread:{item_id}" if kind == INCIDENT else f"thread:{kind}:{item_id}"



class ThreadOutbox(Protocol):
    """Another kind of thread kept up to date from the database the same way (security
    cases): `sync` brings one thread up to date, `behind` lists what is behind after a
    restart as (id, channel)."""

    kind: str

    async def sync(self, item_id: int) -> None: ...

    async def behind(self) -> list[tuple[int, str]]: ...


class Dispatcher:
    def __init__(self, store: Store, surface: ChatSurface) -> None:
        self.store = store
        self.outbox = Outbox.beside(store)
        self.surface = surface
        self._queues: dict[str, asyncio.Queue[Key]] = {}
        self._waiting: dict[str, set[Key]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._busy = 0
        self._failures: dict[Key, int] = {}
        self._closed = False
        self.on_rendered_first: OnOpened | None = None
        self._outboxes: dict[str, ThreadOutbox] = {}
        self.health: Health | None = None  # told of each failed and each good update
        # One sync of a thread at a time in this process: the queue's and a flow step's;
        # and across processes with `thread_lock` (a lease per thread, by the lease's name
        # from `lease_name`; set on Temporal). Every kind of thread (incidents, security
        # cases) takes the same lease the same way.
        self._syncing: dict[Key, asyncio.Lock] = {}
        self.thread_lock: Callable[[str], DatabaseLock] | None = None

    def register(self, outbox: ThreadOutbox) -> None:
        self._outboxes[outbox.kind] = outbox

    def depth(self) -> int:
        return sum(len(w) for w in self._waiting.values()) + self._busy

    def notify(self, incident_id: int, channel: str, *, kind: str = INCIDENT) -> None:
        if self._closed:
            return
        key = (kind, incident_id)
        waiting = self._waiting.setdefault(channel, set())
        if key in waiting:
            return
        waiting.add(key)
        queue = self._queues.get(channel)
        if queue is None:
            queue = self._queues[channel] = asyncio.Queue()
            self._tasks[channel] = asyncio.create_task(self._drain(channel, queue),
                                                       name=f"channel:{channel}")
        queue.put_nowait(key)

    async def recover(self) -> int:
        """Queue every incident whose thread is behind the database (after a restart)."""
        ids = await self.store.incidents_to_render()
        for incident_id in ids:
            incident = await self.store.incident(incident_id)
            self.notify(incident_id, incident.channel)
        if ids:
            log.info("recovering %d incident thread(s) left behind", len(ids))
        count = len(ids)
        for outbox in self._outboxes.values():
            behind = await outbox.behind()
            for item_id, channel in behind:
                self.notify(item_id, channel, kind=outbox.kind)
            if behind:
                log.info("recovering %d %s thread(s) left behind", len(behind), outbox.kind)
            count += len(behind)
        return count

    async def idle(self, timeout: float = 30.0) -> None:
        """Wait until nothing is queued or being rendered (tests, demo, shutdown)."""
        async with asyncio.timeout(timeout):
            while self.depth():
                await asyncio.sleep(0.01)

    async def close(self) -> None:
        self._closed = True
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _drain(self, channel: str, queue: asyncio.Queue[Key]) -> None:
        while True:
            key = await queue.get()
            kind, incident_id = key
            self._waiting[channel].discard(key)
            self._busy += 1
            try:
                await self.sync_now(incident_id, kind=kind)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The outbox still holds the work: try again later, with backoff.
                if self.health is not None:
                    self.health.failed("slack", f"{type(exc).__name__}: {exc}")
                attempt = self._failures.get(key, 0) + 1
                self._failures[key] = attempt
                delay = min(RETRY_BASE_S * 2 ** (attempt - 1), RETRY_MAX_S)
                log.exception("%s %s: updating the chat thread failed (attempt %d); "
                              "retrying in %.0fs", kind, incident_id, attempt, delay)
                asyncio.get_running_loop().call_later(
                    delay, functools.partial(self.notify, incident_id, channel, kind=kind))
            else:
                self._failures.pop(key, None)
                if self.health is not None:
                    self.health.recovered("slack")
            finally:
                self._busy -= 1

    async def sync_now(self, item_id: int, *, kind: str = INCIDENT) -> None:
        """Bring one thread (an incident's, or a registered kind's) up to date, waited for (a
        flow's step ends when its result is in the thread), never at the same time as another
        sync of the same thread, in this process or (with `thread_lock`) any other."""
        sync = self.sync if kind == INCIDENT else self._outboxes[kind].sync
        async with self._syncing.setdefault((kind, item_id), asyncio.Lock()):
            if self.thread_lock is None:
                await sync(item_id)
                return
            # Several processes post (serve and the workers, on Temporal): one at a time per
            # thread, so a message queued in the database is posted by one of them only.
            lock = self.thread_lock(lease_name(kind, item_id))
            async with asyncio.timeout(THREAD_LOCK_WAIT_S):
                while not await asyncio.to_thread(lock.acquire):
                    await asyncio.sleep(0.05)
            try:
                await sync(item_id)
            finally:
                await asyncio.to_thread(lock.release)

    async def sync(self, incident_id: int) -> None:
        """Bring one incident's thread up to date: the root message, the pending replies,
        then the final message of every finished investigation. Each post is recorded as
        attempted first; a retry after a crash or an unanswered call finds the message by
        its metadata instead of posting it again."""
        incident = await self.store.incident(incident_id)
        version = incident.version
        first = incident.slack_ts is None
        if first or incident.rendered_version < version:
            ref = None
            if first and incident.slack_post_started_at is not None:
                ref = await self.surface.find_posted(incident, ("incident", incident_id),
                                                     since=incident.slack_post_started_at)
                if ref is not None:
                    log.info("incident %s: its root message had landed; not posting it again",
                             incident_id)
                    incident.slack_channel, incident.slack_ts = ref.channel, ref.ts
            if ref is None or incident.rendered_version < version:
                if first and ref is None:
                    await self.outbox.root_attempt(incident_id)
                alerts = await self.store.incident_alert_states(incident_id)
                ref = await self.surface.show_incident(incident, alerts)
            await self.store.mark_rendered(incident_id, version=version, channel=ref.channel,
                                           ts=ref.ts)
            if first:
                incident.slack_channel, incident.slack_ts = ref.channel, ref.ts
        await self._post_events(incident, await self.store.pending_updates(incident_id))
        if first and self.on_rendered_first is not None:
            await self.on_rendered_first(incident_id)

    async def _post_events(self, incident: Incident, updates: list[ThreadUpdate]) -> None:
        """The thread's pending events, in order: each run of plain events is one reply; an
        investigation's events are its one message, posted once and then edited, showing
        the run as it is now (so a backlog of progress events is one edit). Rows are told
        apart by their kind; only what is shown is loaded as an event (a storm's backlog
        can be thousands of rows, and this runs on the event loop)."""
        runs: dict[int, list[ThreadUpdate]] = {}
        for update in updates:
            if update.kind in INVESTIGATION_KINDS:
                runs.setdefault(_run_of(update), []).append(update)
        plain: list[ThreadUpdate] = []
        for pending in [*updates, None]:
            if pending is not None and pending.kind not in INVESTIGATION_KINDS:
                plain.append(pending)
                continue
            if plain:
                await self._reply(incident, plain)
                plain = []
            run_id = _run_of(pending) if pending is not None else None
            if run_id is not None and run_id in runs:
                await self._show_run(incident, run_id, runs.pop(run_id))

    async def _reply(self, incident: Incident, updates: list[ThreadUpdate]) -> None:
        ids = [u.id for u in updates if u.id is not None]
        tag = ("update", min(ids))
        attempted = [u.post_started_at for u in updates if u.post_started_at is not None]
        found = (await self.surface.find_posted(incident, tag, since=min(attempted))
                 if attempted else None)
        if found is None:
            await self.outbox.updates_attempt(ids)
            shown = [u.event for u in updates[:MAX_LINES_PER_REPLY]]
            found = await self.surface.post_events(incident, shown, tag=tag,
                                                   more=len(updates) - len(shown))
        await self.store.mark_posted(ids, found.ts)

    async def _show_run(self, incident: Incident, run_id: int,
                        updates: list[ThreadUpdate]) -> None:
        """An investigation's message as the run is now: edited when it was posted, found by
        its metadata when a post may have landed unanswered, posted otherwise."""
        row = await self.store.investigation(run_id)
        tag = ("investigation", run_id)
        message = MessageRef(incident.slack_channel or incident.channel, row.slack_ts) \
            if row.slack_ts else None
        if message is None and row.post_started_at is not None:
            message = await self.surface.find_posted(incident, tag, since=row.post_started_at)
        if message is None:
            await self.outbox.investigation_attempt(run_id)
        resumed = any(isinstance(u.event, InvestigationStarted) and u.event.resumed
                      for u in updates)
        ref = await self.surface.show_investigation(incident, run_view(row, resumed=resumed),
                                                    message=message, tag=tag)
        if row.slack_ts != ref.ts:
            await self.outbox.investigation_posted(run_id, ref.ts)
        await self.store.mark_posted([u.id for u in updates if u.id is not None], ref.ts)
        if row.status in FINISHED:
            await self.outbox.shown(run_id, ref.ts)


INVESTIGATION_KINDS = frozenset(
    kind.model_fields["kind"].default
    for kind in (InvestigationStarted, InvestigationProgress, InvestigationFinished))


def _run_of(update: ThreadUpdate) -> int:
    event = update.event
    assert isinstance(event, InvestigationStarted | InvestigationProgress
                      | InvestigationFinished)
    return event.investigation_id


def run_view(row: Investigation, *, resumed: bool = False) -> InvestigationView:
    """What a run's message shows now: its result or error once finished, its progress
    while it runs."""
    if row.status in FINISHED:
        return final_view(row)
    try:
        progress = Progress.model_validate(row.progress or {})
    except ValueError:
        progress = Progress()
    return InvestigationView(investigation_id=row.id, progress=progress,
                             note="resumed after a restart" if resumed else None)


def final_view(row: Investigation) -> InvestigationView:
    """What a finished run shows, rebuilt from its row (the result in the output contract)."""
    if row.status == "done" and row.result:
        try:
            return InvestigationView(investigation_id=row.id,
                                     report=Report.model_validate(row.result))
        except ValueError:
            log.warning("investigation %s: its stored result does not load", row.id,
                        exc_info=True)
    return InvestigationView(investigation_id=row.id,
                             error=row.error or "the investigation did not finish")
