"""Security cases: signal → case (or fold) → events around it → triage → the case thread.

The flow is a sequence of steps whose progress is stored on the case (`SecurityCase.step`):
`received` → `collected` → `triaged` → `done`. Each step reads what the previous one stored,
so a process that dies mid-flow resumes at the step it was in (`start`), and re-running a
step is harmless. The thread is brought up to date by the dispatcher from the database (the
outbox), never posted from here.

People's actions (verdict buttons, containment approvals, escalation) write first and nudge
the dispatcher; nothing is executed for a containment without a stored approval.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from bot.dispatcher import Dispatcher
from bot.security.containment import ContainmentExecutor, manual_steps, pick_executor
from bot.slack.security_blocks import DECISIONS, code, target, untrusted, verdict_label
from integrations.security.types import SecurityEvent, SecuritySignal, SecuritySource
from scheduler.flows import Runner
from scheduler.inprocess import InProcessRunner
from storage.errors import NotFound
from storage.models import (
    Alert,
    AlertStatus,
    ContainmentApproval,
    SecurityCase,
    SecurityCaseEvent,
    Severity,
    Signal,
    utcnow,
)
from storage.security import STEP_DONE, SecurityStore, fold_key

log = logging.getLogger(__name__)

THREAD_KIND = "security"
VERDICT_NAMES = ("true_positive", "benign_true_positive", "false_positive", "escalate")
HUMAN_VERDICTS = ("true_positive", "benign", "false_positive")
_SEVERITY = {"critical": Severity.CRITICAL, "high": Severity.HIGH, "medium": Severity.WARNING,
             "low": Severity.INFO, "info": Severity.INFO}


@dataclass(frozen=True, slots=True)
class CaseFile:
    """What triage reads: a case in the security case directory's shape (DESIGN.md),
    `case` as in `case.json` and `events` as in `events.jsonl`."""

    case: dict[str, Any]
    events: list[SecurityEvent]


class TriageEngine(Protocol):
    """Returns the triage output contract (verdict, confidence, checklist, evidence,
    techniques, proposed_actions, ...) for one case."""

    async def triage(self, case: CaseFile) -> Mapping[str, Any]: ...


# Opens (or joins) an incident for an escalated case; returns the incident id.
OpenIncident = Callable[[Alert], Awaitable[int | None]]


@dataclass
class SecurityConfig:
    channel: str = "#security"
    # Events of the case's principal read around the fire, for the checklist.
    before: timedelta = timedelta(hours=24)
    after: timedelta = timedelta(hours=1)
    # People's false-positive marks on one rule and principal before a suppression is
    # suggested in the thread.
    suppress_after: int = 2
    context: dict[str, Any] = field(default_factory=dict)  # known admins, CI, tickets, ...
    max_events: int = 2000  # context events kept per case, the nearest to the fire first


class SecurityService:
    """The case layer: a `SignalSink` for the scan job and the signal webhooks."""

    def __init__(self, *, store: SecurityStore, dispatcher: Dispatcher, engine: TriageEngine,
                 open_incident: OpenIncident, config: SecurityConfig | None = None,
                 sources: Sequence[SecuritySource] = (),
                 executors: Sequence[ContainmentExecutor] = ()) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.engine = engine
        self.open_incident = open_incident
        self.config = config or SecurityConfig()
        self.sources = list(sources)
        self.executors = list(executors)
        self._running: dict[int, asyncio.Task[None]] = {}
        # Where the case flow runs once bot/flows.py registered it (in-process or Temporal);
        # None: an asyncio task of this service, as before flows existed.
        self.runner: Callable[[], Runner] | None = None

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Resume every flow a previous process left unfinished."""
        if self.runner is not None and self.runner().remote:
            return  # Temporal workers retry what a dead process left
        for case in await self.store.unfinished():
            assert case.id is not None
            log.info("security case %s: resuming its flow after step %s", case.id, case.step)
            await self._begin(case.id)

    async def stop(self) -> None:
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def idle(self, timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while self._running:
                await asyncio.gather(*list(self._running.values()), return_exceptions=True)
            runner = self.runner() if self.runner is not None else None
            if isinstance(runner, InProcessRunner):  # the case flows run there
                await runner.idle(timeout)
            await self.dispatcher.idle(timeout)

    def _spawn(self, case_id: int) -> None:
        if case_id in self._running:
            return
        task = asyncio.create_task(self.run_flow(case_id), name=f"security-case:{case_id}")
        self._running[case_id] = task
        task.add_done_callback(lambda _: self._running.pop(case_id, None))

    # ---- intake (SignalSink) -------------------------------------------------------------

    async def handle(self, signals: Sequence[SecuritySignal]) -> None:
        for signal in signals:
            await self.receive(signal)

    async def receive(self, signal: SecuritySignal) -> tuple[int, bool]:
        """Open a case for `signal`, or fold it into the open case of its rule and
        principal. Returns (case id, created)."""
        principal = signal.principal or signal.entities.get("ip") or ""
        now = utcnow()
        case = SecurityCase(
            fold_key=fold_key(signal.rule_id, principal), rule=signal.rule[:500],
            rule_id=signal.rule_id[:255], source=signal.source[:64],
            log_type=signal.log_type[:64], severity=signal.severity,
            principal=principal[:255], signal=signal.case_signal(),
            context=dict(self.config.context), channel=self.config.channel,
            first_fired_at=signal.fired_at, last_fired_at=signal.fired_at, opened_at=now)
        events = [_row(e, role="trigger") for e in signal.events]
        ids = ", ".join(code(i, 40) for i in signal.event_ids[:5])
        note = (f"🔁 Fired again ({{fires}}× now) at {signal.fired_at:%Y-%m-%d %H:%M:%S} UTC"
                + (f": events {ids}" if ids else "") + ".")
        intake = await self.store.open_or_fold(case, events, note=note)
        self.dispatcher.notify(intake.case_id, intake.channel, kind=THREAD_KIND)
        if intake.created:
            log.info("security case %s opened: %s on %s", intake.case_id, signal.rule_id,
                     principal or "no principal")
            await self._begin(intake.case_id)
        return intake.case_id, intake.created

    # ---- the flow ------------------------------------------------------------------------

    async def _begin(self, case_id: int) -> None:
        if self.runner is None:
            self._spawn(case_id)
            return
        from bot.flows import SECURITY_TRIAGE

        await self.runner().start(SECURITY_TRIAGE, f"case-{case_id}", {"case_id": case_id})

    def _steps(self) -> dict[str, Callable[[SecurityCase], Awaitable[None]]]:
        return {"received": self._collect, "collected": self._triage, "triaged": self._finish}

    async def run_flow(self, case_id: int) -> None:
        while True:
            case = await self.store.case(case_id)
            step = self._steps().get(case.step)
            if step is None:
                return
            await step(case)

    async def run_step(self, case_id: int, expected: str) -> None:
        """One step of the case flow, when the case is at it (a step run again after the
        case advanced does nothing): the flow's steps on a runner."""
        case = await self.store.case(case_id)
        if case.step == expected:
            await self._steps()[expected](case)

    async def _collect(self, case: SecurityCase) -> None:
        """Read the principal's activity around the fire from every source, for triage."""
        assert case.id is not None
        problems: list[str] = []
        if case.principal and self.sources:
            start = case.first_fired_at - self.config.before
            end = case.last_fired_at + self.config.after
            for source in self.sources:
                try:
                    found = await source.events(start=start, end=end,
                                                principal=case.principal)
                except Exception as exc:  # a source that is down is evidence, not a crash
                    log.warning("security case %s: source %s failed: %s", case.id,
                                source.name, exc)
                    problems.append(f"{source.name}: {exc}")
                    continue
                if len(found) > self.config.max_events:
                    problems.append(f"{source.name}: {len(found)} events, kept the "
                                    f"{self.config.max_events} nearest to the fire")
                    fired = case.first_fired_at
                    found = sorted(found, key=lambda e: abs((e.ts - fired).total_seconds()))
                    found = found[:self.config.max_events]
                await self.store.add_events(case.id, [_row(e, role="context") for e in found])
        await self.store.advance(case.id, "collected", changes={
            "step_error": "; ".join(problems)[:2000] or None})

    async def _triage(self, case: SecurityCase) -> None:
        assert case.id is not None
        rows = await self.store.events(case.id)
        window = {"start": _iso(case.first_fired_at - self.config.before),
                  "end": _iso(case.last_fired_at + self.config.after)}
        case_file = CaseFile(
            case={"id": f"case-{case.id}", "signal": case.signal, "context": case.context,
                  "window": window},
            events=[SecurityEvent(id=r.event_id, log_type=r.log_type, ts=r.ts, event=r.raw)
                    for r in rows])
        try:
            result = dict(await self.engine.triage(case_file))
        except Exception as exc:
            log.exception("security case %s: triage failed", case.id)
            await self.store.advance(case.id, "triaged", visible=True, changes={
                "step_error": f"{type(exc).__name__}: {exc}"[:2000]})
            return
        verdict = str(result.get("verdict", ""))
        confidence = result.get("confidence")
        await self.store.advance(case.id, "triaged", visible=True, changes={
            "triage": result, "verdict": verdict if verdict in VERDICT_NAMES else "escalate",
            "confidence": float(confidence) if isinstance(confidence, int | float) else None})

    async def _finish(self, case: SecurityCase) -> None:
        assert case.id is not None
        if self.runner is not None:
            # Each action that needs a person's approval waits for it durably (a signal on
            # Temporal, a `waiting` run in-process), then runs once (`contain`).
            from bot.flows import CONTAINMENT, containment_key

            for index, action in enumerate(case.triage.get("proposed_actions") or []):
                if action.get("requires_approval", True):
                    await self.runner().start(CONTAINMENT, containment_key(case.id, index),
                                              {"case_id": case.id, "index": index})
        await self.store.advance(case.id, STEP_DONE)
        self.dispatcher.notify(case.id, case.channel, kind=THREAD_KIND)

    # ---- people's actions ----------------------------------------------------------------

    async def decide(self, case_id: int, verdict: str, user: str) -> SecurityCase:
        """A person's verdict (feedback). Benign and false positive close the case; a
        repeated false positive of one rule and principal suggests a suppression."""
        if verdict not in HUMAN_VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}")
        icon = {"true_positive": "🚨", "benign": "🟢", "false_positive": "⚪"}[verdict]
        case, fps = await self.store.decide(
            case_id, verdict=verdict, user=user, close=verdict != "true_positive",
            note=f"{icon} <@{user}> {DECISIONS[verdict]}.")
        if verdict == "false_positive" and fps >= self.config.suppress_after:
            entry = json.dumps({"rule_id": case.rule_id, "principal": case.principal or None,
                                "reason": f"false positive in {fps} cases"})
            await self.store.add_note(case_id, "suppression", (
                f"💡 {code(case.rule_id, 80)} on {code(case.principal or 'no principal', 60)} "
                f"has been marked a false positive in {fps} cases. Consider a suppression: add "
                f"```{untrusted_block(entry)}``` to the list in NIGHTOWL_SECURITY_SUPPRESSIONS."))
        self.dispatcher.notify(case_id, case.channel, kind=THREAD_KIND)
        return case

    async def approve(self, case_id: int, index: int, user: str) -> ContainmentApproval:
        """Record a person's approval of proposed action `index`; only then, and only with
        an action integration that supports it, is anything executed."""
        case = await self.store.case(case_id)
        actions = case.triage.get("proposed_actions") or []
        if not 0 <= index < len(actions) or case.status != "open":
            raise NotFound(f"containment action {index} of open security case {case_id}")
        action = actions[index]
        what = f"*{untrusted(action.get('action', ''), 80)}* {target(action.get('target', ''))}"
        executor = pick_executor(self.executors, action, log_type=case.log_type)
        if executor is None:
            detail = "\n".join(manual_steps(action, log_type=case.log_type))
            shown = "\n".join(manual_steps({**action, "target": _short(action)},
                                           log_type=case.log_type))
            note = (f"✅ <@{user}> approved {what}. No action integration is configured, so "
                    "nothing was executed. To do it by hand:\n```"
                    + untrusted_block(shown) + "```")
            row, created = await self.store.record_approval(ContainmentApproval(
                case_id=case_id, action_index=index, action=str(action.get("action", ""))[:255],
                target=str(action.get("target", ""))[:500], approved_by=user,
                outcome="recorded", detail=detail), note=note)
        else:
            row, created = await self.store.record_approval(ContainmentApproval(
                case_id=case_id, action_index=index, action=str(action.get("action", ""))[:255],
                target=str(action.get("target", ""))[:500], approved_by=user,
                outcome="approved", executor=executor.name),
                note=f"✅ <@{user}> approved {what}; running it through {executor.name}.")
            if created and self.runner is None:
                row = await self._execute(case, row, executor, action)
        if created and self.runner is not None:
            # The approval reaches the action's waiting flow, which runs it (on a worker, on
            # Temporal) once (`contain` checks it still waits; a recorded-only approval ends
            # the flow); a case triaged before flows existed gets its flow now.
            from bot.flows import APPROVE, CONTAINMENT, containment_key

            runner, key = self.runner(), containment_key(case_id, index)
            await runner.start(CONTAINMENT, key, {"case_id": case_id, "index": index})
            await runner.signal(CONTAINMENT, key, APPROVE, {"user": user})
        self.dispatcher.notify(case_id, case.channel, kind=THREAD_KIND)
        return row

    async def contain(self, case_id: int, index: int) -> None:
        """Run approved action `index` of the case, unless it already ran (a step run again
        after it finished does nothing)."""
        case = await self.store.case(case_id)
        row = next((a for a in await self.store.approvals(case_id) if a.action_index == index),
                    None)
        if row is None or row.outcome != "approved":
            return
        actions = case.triage.get("proposed_actions") or []
        action = actions[index]
        executor = pick_executor(self.executors, action, log_type=case.log_type)
        if executor is not None:
            await self._execute(case, row, executor, action)
            self.dispatcher.notify(case_id, case.channel, kind=THREAD_KIND)

    async def _execute(self, case: SecurityCase, row: ContainmentApproval,
                       executor: ContainmentExecutor, action: Mapping[str, Any]
                       ) -> ContainmentApproval:
        assert case.id is not None
        try:
            done = await executor.execute(action, log_type=case.log_type)
            outcome, detail, note = "executed", done, f"🛡️ {executor.name}: {untrusted(done)}"
        except Exception as exc:
            outcome, detail = "failed", f"{type(exc).__name__}: {exc}"
            note = f"⚠️ {executor.name} failed: {untrusted(detail)}. Nothing else was tried."
        return await self.store.finish_approval(row, outcome=outcome, detail=detail[:2000],
                                                note=note)

    async def escalate(self, case_id: int, user: str) -> int | None:
        """Open an incident for the case in the incident channel (the incident machinery);
        the case thread links to it."""
        case = await self.store.case(case_id)
        await self.store.audit(case_id, actor=user, action="security_escalate")
        if case.incident_id is not None:
            return case.incident_id
        _, label = verdict_label(case.verdict)
        links: dict[str, str] = {}
        if case.slack_channel and case.slack_ts:
            links["source"] = (f"https://slack.com/archives/{case.slack_channel}/"
                               f"p{case.slack_ts.replace('.', '')}")
        alert = Alert(
            source="security", dedup_key=f"security-case-{case_id}",
            group_key=f"security-case-{case_id}", status=AlertStatus.FIRING,
            service=(case.principal or "security")[:255], signal=Signal.OTHER,
            severity=_SEVERITY.get(case.severity, Severity.HIGH),
            title=f"Security case #{case_id}: {case.rule}"[:500],
            started_at=case.first_fired_at,
            labels={"security_case": str(case_id), "rule_id": case.rule_id,
                    "principal": case.principal},
            annotations={"summary": f"{label}: {case.rule} ({case.principal}), escalated "
                                    f"by {user}"},
            links=links, raw={"security_case": case_id})
        incident_id = await self.open_incident(alert)
        if incident_id is None:
            return None
        await self.store.link_incident(case_id, incident_id=incident_id, user=user,
                                       note=f"📣 <@{user}> escalated this case: incident "
                                            f"#{incident_id} is open in the incident channel.")
        self.dispatcher.notify(case_id, case.channel, kind=THREAD_KIND)
        return incident_id

    async def raw_event(self, case_id: int, row_id: int, user: str
                        ) -> tuple[SecurityCase, SecurityCaseEvent]:
        """One raw event of a case (for the modal); viewing it is audited."""
        row = await self.store.event(row_id)
        if row.case_id != case_id:
            raise NotFound(f"event {row_id} of security case {case_id}")
        await self.store.audit(case_id, actor=user, action="security_view_event",
                               detail={"event": row.event_id})
        return await self.store.case(case_id), row


def untrusted_block(text: str) -> str:
    """Text for a ``` block: redacted, escaped, and unable to close the block early."""
    return "\n".join(untrusted(line, 400) for line in text.splitlines())


def _short(action: Mapping[str, Any]) -> str:
    return target(action.get("target", "")).strip("`")


def _row(event: SecurityEvent, *, role: str) -> SecurityCaseEvent:
    return SecurityCaseEvent(case_id=0, event_id=event.id[:255], log_type=event.log_type[:64],
                             ts=event.ts, role=role, raw=event.event)


def _iso(value: Any) -> str:
    return str(value.isoformat().replace("+00:00", "Z"))
