"""Runs flows as asyncio tasks in this process, with each run's progress in the database.

After every step the run's row holds the index of the next step and the state so far, so a
process that restarts resumes each `running` run at the step it was in (that step runs again:
steps are idempotent). A run waiting for an approval is `waiting` until `signal` arrives.
Retries are bounded: a step that keeps failing ends its flow with the reason (the flow's
`on_failure` says it in the thread).
"""

from __future__ import annotations

import asyncio
import logging

from scheduler.flows import (
    FAILED_REASON,
    FAILED_STEP,
    STOP,
    Approval,
    Flow,
    Flows,
    State,
    StepFailed,
)
from storage.flows import FlowStore
from storage.models import FlowRun

log = logging.getLogger(__name__)

SIGNALS = "signals"  # state key: approvals received, by name


class InProcessRunner:
    remote = False

    def __init__(self, flows: Flows, store: FlowStore, *, retry_base_s: float = 1.0,
                 retry_max_s: float = 30.0) -> None:
        self.flows = flows
        self.store = store
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def start(self, flow: str, key: str, state: State) -> None:
        self.flows[flow]  # an unknown flow is a programming error: say so at the call
        run, created = await self.store.claim(flow, key, state=state, status="running")
        if created or run.status == "running":
            self._spawn(run)

    async def signal(self, flow: str, key: str, name: str, payload: State) -> None:
        lock = self._locks.setdefault((flow, key), asyncio.Lock())
        async with lock:
            run = await self.store.get(flow, key)
            state = {**run.state, SIGNALS: {**run.state.get(SIGNALS, {}), name: payload}}
            if run.status in ("done", "failed"):
                log.info("flow %s/%s already ended; the %s approval is ignored", flow, key, name)
                return
            status = "running" if run.status == "waiting" else run.status
            await self.store.save(run.id or 0, status=status, state=state)
            run.state, run.status = state, status
            if status == "running" and (flow, key) not in self._tasks:
                self._spawn(run)

    async def recover(self) -> int:
        runs = await self.store.with_status("running")
        for run in runs:
            log.info("flow %s/%s was cut off at step %d; resuming it", run.flow, run.key,
                     run.step)
            self._spawn(run)
        return len(runs)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait(self, flow: str, key: str, *, timeout: float) -> FlowRun:
        """The run of (flow, key) once its task in this process stopped (ended, or waits
        for an approval)."""
        task = self._tasks.get((flow, key))
        if task is not None:
            async with asyncio.timeout(timeout):
                await asyncio.shield(task)
        return await self.store.get(flow, key)

    def busy(self) -> bool:
        return bool(self._tasks)

    async def idle(self, timeout: float = 60.0) -> None:
        """Wait until no flow task runs (tests and the demo)."""
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    def _spawn(self, run: FlowRun) -> None:
        ident = (run.flow, run.key)
        if ident in self._tasks:
            return
        task = asyncio.create_task(self._run(run), name=f"flow:{run.flow}/{run.key}")
        self._tasks[ident] = task
        task.add_done_callback(lambda _: self._tasks.pop(ident, None))

    async def _run(self, run: FlowRun) -> None:
        flow = self.flows[run.flow]
        assert run.id is not None
        lock = self._locks.setdefault((run.flow, run.key), asyncio.Lock())
        state: State = dict(run.state)
        index = run.step
        while index < len(flow.steps):
            step = flow.steps[index]
            if isinstance(step, Approval):
                async with lock:  # a signal arriving now is either seen here or resumes us
                    fresh = await self.store.get(run.flow, run.key)
                    state[SIGNALS] = fresh.state.get(SIGNALS, {})
                    if step.name not in state[SIGNALS]:
                        await self.store.save(run.id, status="waiting", step=index, state=state)
                        log.info("flow %s/%s waits for %s", run.flow, run.key, step.name)
                        return
                state.update(state[SIGNALS][step.name])
                index += 1
                continue
            try:
                out = await self._attempts(flow, step.name, step.attempts, state, run.key)
            except _GaveUp as exc:
                await self._fail(flow, run, state, step.name, exc.reason)
                return
            state.update(out or {})
            index += 1
            async with lock:
                fresh = await self.store.get(run.flow, run.key)
                state[SIGNALS] = {**fresh.state.get(SIGNALS, {}), **state.get(SIGNALS, {})}
                done = index >= len(flow.steps) or bool(state.get(STOP))
                await self.store.save(run.id, status="done" if done else "running",
                                      step=index, state=state)
            if state.get(STOP):
                return
        await self.store.save(run.id, status="done", step=index, state=state)

    async def _attempts(self, flow: Flow, name: str, attempts: int, state: State,
                        key: str) -> State | None:
        step = flow.step(name)
        for attempt in range(1, attempts + 1):
            try:
                return await step.run(dict(state))
            except asyncio.CancelledError:
                raise
            except StepFailed as exc:
                raise _GaveUp(str(exc)) from exc
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if attempt == attempts:
                    log.exception("flow %s/%s: step %s failed %d times; giving up",
                                  flow.name, key, name, attempts)
                    raise _GaveUp(reason) from exc
                delay = min(self.retry_base_s * 2 ** (attempt - 1), self.retry_max_s)
                log.warning("flow %s/%s: step %s failed (attempt %d/%d): %s; again in %.0fs",
                            flow.name, key, name, attempt, attempts, reason, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _fail(self, flow: Flow, run: FlowRun, state: State, step: str,
                    reason: str) -> None:
        assert run.id is not None
        await self.store.save(run.id, status="failed", state=state,
                              error=f"{step}: {reason}"[:2000])
        if flow.on_failure is None:
            return
        try:
            await flow.on_failure({**state, FAILED_STEP: step, FAILED_REASON: reason})
        except Exception:
            log.exception("flow %s/%s: could not report its failure", flow.name, run.key)


class _GaveUp(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

