"""The triage engine: run the checklist over a signal's events and decide, with no model.

Verdicts, in the order they are decided:

- **true positive**: the activity is not explained and corroborated by something suspicious
  that context cannot explain away (follow-on persistence, evasion or exfiltration, privilege
  changes, impossible travel, a look-alike of a trusted name, a new network and agent);
- **escalate**: suspicious and explained at once (a ticket, but also activity it does not
  cover), or neither explained nor corroborated (missing context: a human decides);
- **false positive**: none of the triggering events did what the rule looks for (denied,
  dry run, read-only, AWS acting for itself, the harmless form of the action) and nothing
  suspicious surrounds them;
- **benign true positive**: real, and explained by context (a change ticket for this actor
  at this time, or two of: known admin / CI principal, corporate network, maintenance window,
  familiar address and agent), with nothing suspicious left over.

Text inside events never reaches a decision: every step reads structured fields.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from agents.security import attack, catalog
from agents.security.checklist import AFTER_EXPLANATIONS, STEPS, Run, Thresholds, explanations
from agents.security.facts import Facts, facts
from agents.security.report import Action, Step, TriageReport, Verdict
from integrations.security.casedir import CaseContext, Window
from integrations.security.entities import get_path
from integrations.security.types import SecurityEvent, SecuritySignal, SecuritySource

log = logging.getLogger(__name__)

VERDICT_WORDS = {"true_positive": "True positive", "benign_true_positive": "Benign (explained)",
                 "false_positive": "False positive", "escalate": "Needs a human"}


class TriageEngine:
    def __init__(self, *, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()

    async def triage(self, signal: SecuritySignal, source: SecuritySource, *,
                     context: CaseContext | None = None, window: Window | None = None
                     ) -> TriageReport:
        started = time.perf_counter()
        around = self.thresholds.around
        start, end = signal.fired_at - around, signal.fired_at + around
        if window is not None:
            start, end = min(start, window.start), max(end, window.end)
        events = await source.events(start=start, end=end + timedelta(seconds=1))
        known = {e.id for e in events}
        extra = [e for e in signal.events if e.id not in known]
        events = sorted([*events, *extra], key=lambda e: e.ts)
        run = self._run(signal, events, context or CaseContext())
        report = decide(run, signal)
        report.stats.events_read = len(events)
        report.stats.elapsed_s = time.perf_counter() - started
        return report

    def _run(self, signal: SecuritySignal, events: list[SecurityEvent],
             context: CaseContext) -> Run:
        table = {e.id: facts(e) for e in events}
        wanted = set(signal.event_ids)
        triggers = [e for e in events if e.id in wanted]
        actor = {table[e.id].principal for e in triggers} - {None}
        if not triggers and signal.principal:
            actor = {signal.principal}
        actor = _linked(actor, events, table)
        aliases: set[str] = set()
        for e in triggers:
            aliases |= table[e.id].aliases
        if not triggers and signal.principal:
            aliases.add(signal.principal)
        return Run(fired_at=signal.fired_at, context=context, events=events, facts=table,
                   triggers=triggers, actor={a for a in actor if a}, aliases=aliases,
                   thresholds=self.thresholds, signal_techniques=signal.techniques)


def _linked(actor: set[str | None], events: list[SecurityEvent],
            table: dict[str, Facts]) -> set[str | None]:
    """The actor plus the role sessions it assumed, and whoever assumed the actor's session:
    an attacker who assumes a role is still the same actor."""
    linked = set(actor)
    for e in events:
        if e.event.get("eventName") != "AssumeRole" or e.event.get("errorCode"):
            continue
        response = e.event.get("responseElements")
        session = None
        if isinstance(response, dict) and isinstance(response.get("assumedRoleUser"), dict):
            session = response["assumedRoleUser"].get("arn")
        caller = table[e.id].principal
        if caller in actor and isinstance(session, str):
            linked.add(session)
        elif isinstance(session, str) and session in actor:
            linked.add(caller)
    return linked


def decide(run: Run, signal: SecuritySignal) -> TriageReport:
    steps = [step(run) for step in STEPS]
    explained_step = explanations(run)
    steps.extend(step(run) for step in AFTER_EXPLANATIONS)
    steps.append(explained_step)
    t = run.thresholds
    by_name = {s.step: s for s in steps}
    suspicion = sum(s.weight for s in steps if s.lean == "suspicious")
    misfire = sum(s.weight for s in steps if s.lean == "not_applicable" and
                  s.step.startswith(("did the activity", "is this the principal's routine")))
    explanation = explained_step.weight if explained_step.lean == "benign" else 0.0
    first_seen = by_name["first-seen source IP / network / user agent / country"]
    familiar = first_seen.lean == "benign"
    vouched = run.vouched | ({"familiar"} if familiar else set())
    # Who the actor is must be vouched for: a ticket for this principal at this time, or a
    # known admin / CI principal acting from nowhere new (a trusted name on a new network and
    # agent may be stolen credentials). A maintenance window says a change was expected then,
    # so it explains an actor acting from its usual place; a corporate network alone never
    # explains who.
    trusted = bool(vouched & {"admin", "ci"}) and first_seen.lean != "suspicious"
    if familiar and explanation:
        explanation += 1.0
    explained = "ticket" in vouched or trusted or ("window" in vouched and familiar)
    verdict: Verdict
    if not run.triggers:
        verdict, confidence = "escalate", 0.5
    elif suspicion >= t.tp_score and not explained:
        verdict, confidence = "true_positive", min(0.97, 0.6 + 0.08 * suspicion)
    elif suspicion >= t.tp_score:
        verdict, confidence = "escalate", 0.6
    elif misfire >= t.fp_score and suspicion < 1.0:
        verdict, confidence = "false_positive", min(0.95, 0.55 + 0.1 * misfire)
    elif explained:
        verdict, confidence = "benign_true_positive", max(0.55, min(
            0.93, 0.5 + 0.1 * explanation - 0.1 * suspicion))
    else:
        verdict, confidence = "escalate", 0.55 + (0.1 if suspicion >= 1.0 else 0.0)
    risk = _risk(verdict, confidence, suspicion - misfire - explanation)
    report = TriageReport(
        verdict=verdict, confidence=round(confidence, 2),
        summary=_summary(run, signal, verdict, confidence, steps),
        techniques=_techniques(run, signal, verdict), checklist=steps, evidence=run.findings,
        proposed_actions=_actions(run, verdict), risk=risk)
    return report


def _risk(verdict: Verdict, confidence: float, balance: float) -> float:
    """One number from 0 (surely harmless) to 1 (surely an attack), for threshold sweeps:
    the verdict sets the band, the balance of the evidence orders cases within it."""
    if verdict == "true_positive":
        return 0.5 + confidence / 2
    if verdict == "escalate":
        return 0.5 + max(-0.1, min(0.1, 0.05 * balance))
    return 0.5 - confidence / 2


def _techniques(run: Run, signal: SecuritySignal, verdict: Verdict) -> list[dict[str, str]]:
    if verdict == "false_positive":
        return []  # the rule caught something else: its technique did not happen
    ids: list[str] = []
    for tag in signal.techniques:
        ident = attack.normalise_id(tag)
        if ident:
            ids.append(attack.canonical(ident))
    effective = [e for e in run.triggers if not run.facts[e.id].failed]
    if not ids:  # the rule did not say: what the triggering actions are
        for e in effective or run.triggers:
            meaning = catalog.meaning(run.facts[e.id].action)
            if meaning is not None:
                ids.append(meaning.technique)
    if verdict in ("true_positive", "escalate"):
        follow = [e for e in run.by_actor() if e.ts >= run.first
                  and not run.facts[e.id].failed and e.id not in run.explained_events]
        for e in follow:
            meaning = catalog.meaning(run.facts[e.id].action)
            if meaning is not None and meaning.family in catalog.SUSPICIOUS_FOLLOW_ON and \
                    catalog.qualifies(run.facts[e.id].action, e.event):
                ids.append(meaning.technique)
    seen: list[str] = []
    for ident in ids:
        if not any(attack.same_technique(ident, s) for s in seen):
            seen.append(ident)
    # A parent id adds nothing beside one of its own sub-techniques.
    kept = [i for i in seen if "." in i or not any(s.startswith(i + ".") for s in seen)]
    return [attack.lookup(i).contract() for i in kept]


def _actions(run: Run, verdict: Verdict) -> list[Action]:
    if verdict == "benign_true_positive":
        return []
    if verdict == "false_positive":
        rule_target = next(iter(sorted(run.actor)), "this principal")
        return [Action("suppress this rule for this principal and action", rule_target,
                       "the rule fired on activity it is not meant to catch")]
    actions: list[Action] = []
    identity = {}
    if run.triggers:
        raw = run.triggers[0].event.get("userIdentity")
        identity = raw if isinstance(raw, dict) else {}
    principal = next(iter(sorted(run.actor)), "the actor")
    key = identity.get("accessKeyId")
    kind = identity.get("type")
    if isinstance(key, str) and key.startswith("AKIA"):
        actions.append(Action("disable access key", key, f"long-term key of {principal}"))
    if kind == "AssumedRole":
        issuer = get_path(identity, "sessionContext.sessionIssuer.arn")
        actions.append(Action("revoke active sessions of role",
                              issuer if isinstance(issuer, str) else principal,
                              "invalidates the temporary credentials in use"))
    elif kind == "IAMUser":
        actions.append(Action("revoke console sessions and reset password", principal, ""))
    elif not identity:
        actions.append(Action("suspend user and revoke sessions", principal, ""))
    for e in run.by_actor():
        f = run.facts[e.id]
        if f.failed or e.ts < run.first:
            continue
        request = e.event.get("requestParameters")
        request = request if isinstance(request, dict) else {}
        if f.action == "CreateAccessKey" and request.get("userName"):
            actions.append(Action("delete access keys created for user", str(
                request["userName"]), "created after the trigger"))
        elif f.action == "CreateUser" and request.get("userName"):
            actions.append(Action("disable user created after the trigger", str(
                request["userName"]), ""))
    for e in run.triggers:
        f = run.facts[e.id]
        request = e.event.get("requestParameters")
        request = request if isinstance(request, dict) else {}
        if f.action in ("StopLogging", "DeleteTrail") and request.get("name"):
            actions.append(Action("restore CloudTrail logging", str(request["name"]), ""))
    unique: dict[tuple[str, str], Action] = {}
    for a in actions:
        unique.setdefault((a.action, a.target), a)
    return list(unique.values())[:6]


def _summary(run: Run, signal: SecuritySignal, verdict: Verdict, confidence: float,
             steps: list[Step]) -> str:
    """One paragraph: what happened, then why this verdict, from the steps that decided."""
    def results(lean: str) -> str:
        return "; ".join(s.result for s in steps if s.lean == lean
                         and s.step != "who, what, where, when")

    suspicious, benign, misfire = results("suspicious"), results("benign"), \
        results("not_applicable")
    if verdict == "true_positive":
        why = f"Nothing explains it, and it is corroborated: {suspicious}"
    elif verdict == "benign_true_positive":
        why = f"Explained: {benign}. Nothing suspicious around it"
    elif verdict == "false_positive":
        why = f"The rule fired on something it is not meant to catch: {misfire}"
    elif suspicious and benign:
        why = f"Context explains part of it ({benign}), but: {suspicious}"
    elif suspicious:
        why = f"Suspicious but not conclusive: {suspicious}. Nothing in the context explains it"
    else:
        unknown = [s.step for s in steps if s.lean == "unknown"]
        why = ("Nothing in the context explains it and nothing around it is suspicious"
               + (f"; could not tell: {', '.join(unknown)}" if unknown else ""))
    return (f"{VERDICT_WORDS[verdict]} ({confidence:.0%}). Rule \"{signal.rule}\" fired: "
            f"{steps[0].result}. {why}.")[:1500]
