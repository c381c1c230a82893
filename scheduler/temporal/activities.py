"""The activity every step runs as: looks the step up in this worker's flows and calls the
same function the in-process runner calls, heartbeating meanwhile so that a worker that
dies is noticed within the heartbeat timeout and its step retried on another worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from scheduler.flows import Flows, StepFailed
from scheduler.temporal.types import ACTIVITY, FAILURE_STEP, StepCall

log = logging.getLogger(__name__)


class StepActivities:
    def __init__(self, flows: Flows, *, heartbeat_every_s: float = 2.0) -> None:
        self.flows = flows
        self.heartbeat_every_s = heartbeat_every_s

    @activity.defn(name=ACTIVITY)
    async def run_step(self, call: StepCall) -> dict[str, Any]:
        flow = self.flows[call.flow]
        if call.step == FAILURE_STEP:
            if flow.on_failure is None:
                return {}
            fn = flow.on_failure
        else:
            fn = flow.step(call.step).run
        info = activity.info()
        log.info("flow %s/%s: step %s, attempt %d", call.flow, call.key, call.step,
                 info.attempt)
        beat = asyncio.create_task(self._heartbeat())
        try:
            return await fn(dict(call.state)) or {}
        except StepFailed as exc:
            raise ApplicationError(str(exc), type="StepFailed", non_retryable=True) from exc
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _heartbeat(self) -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(self.heartbeat_every_s)
