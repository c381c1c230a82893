"""Benchmark runs for agents that want to know how good nightowl is, or whether their change
to it helped: `run_eval` queues `nightowl eval` as a child process (evals are CPU-heavy and
nothing in `bot` imports `evals`), one at a time, and keeps the figures in the database."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from bot.capabilities.errors import InvalidArgument, NotFoundError
from bot.capabilities.paging import (
    paged,
    to_csv,
)
from bot.capabilities.tokens import Principal
from bot.capabilities.views import Accepted, EvalRunPage, EvalRunView
from storage.api import ApiStore
from storage.errors import NotFound
from storage.models import EvalRun, utcnow

log = logging.getLogger(__name__)

# Suites an API caller may name. No paths: a remote caller does not choose files to read.
SUITES = ("synthetic", "petshop", "petshop-crossed", "petshop-injected")
PREFERRED = ("acc@1", "acc@3", "acc@5", "ece", "abstention_recall", "abstention_precision")


def figures_csv(results: Sequence[dict[str, Any]]) -> str:
    """One row per suite and method; the columns are the scalar figures the suites report
    (each suite scores what it measures), the investigator's headline figures first."""
    rows: list[tuple[Any, str, dict[str, Any]]] = []
    columns: dict[str, None] = dict.fromkeys(PREFERRED)
    for suite in results:
        for method, figures in (suite.get("methods") or {}).items():
            scalars = {k: v for k, v in figures.items()
                       if isinstance(v, int | float) and not isinstance(v, bool)}
            columns.update(dict.fromkeys(scalars))
            rows.append((suite.get("suite"), method, scalars))
    if not rows:
        return ""
    present = [c for c in columns if any(c in r[2] for r in rows)]
    return to_csv(["suite", "method", *present],
                  [[suite, method, *[_fmt(f.get(c)) for c in present]]
                   for suite, method, f in rows])


def _fmt(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


class EvalRuns:
    def __init__(self, *, api_store: ApiStore, public_url: str,
                 timeout_s: float = 1800.0) -> None:
        self.api_store = api_store
        self.public_url = public_url.rstrip("/")
        self.timeout_s = timeout_s
        self._one_at_a_time = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def view(self, row: EvalRun) -> EvalRunView:
        assert row.id is not None
        return EvalRunView(id=row.id, suites=row.suites, seed=row.seed, status=row.status,
                           requested_by=row.requested_by, requested_at=row.requested_at,
                           started_at=row.started_at, finished_at=row.finished_at,
                           error=row.error, figures_csv=figures_csv(row.results))

    async def list_eval_runs(self, *, cursor: str | None = None,
                             limit: int | None = None) -> EvalRunPage:
        return await paged(
            EvalRunPage, "list_eval_runs", {}, cursor=cursor, limit=limit, view=self.view,
            fetch=lambda before, n: self.api_store.eval_runs(before_id=before, limit=n))

    async def get_eval_result(self, run_id: int) -> EvalRunView:
        try:
            return self.view(await self.api_store.eval_run(run_id))
        except NotFound:
            raise NotFoundError(f"no eval run {run_id}", next_tool="list_eval_runs") from None

    async def run_eval(self, principal: Principal, suites: Sequence[str], *, seed: int = 7,
                       idempotency_key: str | None = None) -> Accepted:
        chosen = list(dict.fromkeys(suites)) or ["synthetic"]
        unknown = [s for s in chosen if s not in SUITES]
        if unknown:
            raise InvalidArgument(f"unknown suite(s) {', '.join(unknown)}; choose from "
                                  f"{', '.join(SUITES)}")
        if not 0 <= seed <= 1_000_000:
            raise InvalidArgument("seed must be between 0 and 1000000")
        if idempotency_key:
            seen = await self.api_store.remembered(principal.name, idempotency_key)
            if seen is not None:
                return self._accepted(await self.api_store.eval_run(seen.result_id))
        row = await self.api_store.create_eval_run(suites=chosen, seed=seed,
                                                   by=principal.actor)
        assert row.id is not None
        if idempotency_key:
            kept = await self.api_store.remember(principal.name, idempotency_key,
                                                 operation="run_eval", result_id=row.id)
            if kept.result_id != row.id:  # a concurrent twin won: drop ours
                await self.api_store.update_eval_run(row.id, status="failed",
                                                     error="duplicate request")
                return self._accepted(await self.api_store.eval_run(kept.result_id))
        task = asyncio.create_task(self._run(row.id, chosen, seed))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return self._accepted(row)

    def _accepted(self, row: EvalRun) -> Accepted:
        return Accepted(id=row.id or 0, status=row.status,
                        location=f"{self.public_url}/api/v1/eval-runs/{row.id}")

    async def _run(self, run_id: int, suites: Sequence[str], seed: int) -> None:
        try:
            await self._run_one_at_a_time(run_id, suites, seed)
        except asyncio.CancelledError:  # queued or running when the service stopped
            await asyncio.shield(self.api_store.update_eval_run(
                run_id, status="failed", error="cancelled", finished_at=utcnow()))
            raise

    async def _run_one_at_a_time(self, run_id: int, suites: Sequence[str], seed: int) -> None:
        async with self._one_at_a_time:
            await self.api_store.update_eval_run(run_id, status="running", started_at=utcnow())
            command = [sys.executable, "-m", "bot", "eval", "--json", "--seed", str(seed)]
            for suite in suites:
                command += ["--suite", suite]
            try:
                process = await asyncio.create_subprocess_exec(
                    *command, stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
                try:
                    out, err = await asyncio.wait_for(process.communicate(), self.timeout_s)
                except TimeoutError:
                    process.kill()
                    await process.wait()
                    raise RuntimeError(f"timed out after {self.timeout_s:.0f} s") from None
                except asyncio.CancelledError:
                    # A service that stops takes its child with it: no orphaned benchmark.
                    process.kill()
                    await asyncio.shield(process.wait())
                    raise
                results = [json.loads(line) for line in out.decode().splitlines()
                           if line.startswith("{")]
                if process.returncode != 0:
                    tail = err.decode(errors="replace").strip().splitlines()[-3:]
                    raise RuntimeError(f"nightowl eval exited {process.returncode}: "
                                       + " / ".join(tail))
                await self.api_store.update_eval_run(run_id, status="done", results=results,
                                                     finished_at=utcnow())
                log.info("eval run %s finished: %s", run_id, ", ".join(suites))
            except Exception as exc:
                log.warning("eval run %s failed: %s", run_id, exc)
                await self.api_store.update_eval_run(run_id, status="failed",
                                                     error=str(exc)[:2000],
                                                     finished_at=utcnow())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
