"""The triage checklist, one function per step, each returning a `Step` that leans one way.

Steps read structured fields only (see `facts`). A step that cannot answer says so
(`unknown`) instead of guessing: missing context is an outcome the verdict uses (escalate).
All thresholds live in `Thresholds` so evals can sweep them.
"""

from __future__ import annotations

import ipaddress
import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from agents.security import attack, catalog
from agents.security.facts import Facts
from agents.security.identity import lookalikes, matches
from agents.security.report import Finding, Step
from integrations.security.casedir import CaseContext, ChangeTicket
from integrations.security.types import SecurityEvent, format_ts

READING_TACTICS = frozenset({"discovery", "reconnaissance", "collection", "credential-access"})


@dataclass(frozen=True, slots=True)
class Thresholds:
    around: timedelta = timedelta(hours=24)  # the actor's activity window either side
    travel_kmh: float = 900.0  # faster than an airliner
    travel_min_km: float = 500.0
    probing_failures: int = 5  # failed sensitive calls that make an attempt a probe
    bulk_reads: int = 5  # secrets read after the trigger that make credential access strong
    baseline_gap: timedelta = timedelta(hours=1)  # history older than this is "usual"
    routine_repeats: int = 3  # earlier runs of the same action that make it routine
    action_weight: float = 0.5  # what a persisting / evading / exfiltrating trigger weighs
    tp_score: float = 2.0  # suspicion needed for a true positive
    fp_score: float = 2.0  # "rule caught the wrong thing" needed for a false positive


@dataclass(slots=True)
class Run:
    """One triage's working state: the events, their facts, who the actor is."""

    fired_at: datetime
    context: CaseContext
    events: list[SecurityEvent]
    facts: dict[str, Facts]
    triggers: list[SecurityEvent]
    actor: set[str]  # the actor's principals (linked role sessions included)
    aliases: set[str]  # every name the actor goes by
    thresholds: Thresholds
    signal_techniques: tuple[str, ...] = ()
    findings: list[Finding] = field(default_factory=list)
    explained_events: set[str] = field(default_factory=set)
    # What the context vouches for: ticket, admin, ci, corporate, window (set by explanations)
    vouched: set[str] = field(default_factory=set)

    def cite(self, events: Sequence[str], finding: str) -> str:
        evidence_id = f"ev-{len(self.findings) + 1}"
        self.findings.append(Finding(evidence_id, list(dict.fromkeys(events)), finding))
        return evidence_id

    def by_actor(self) -> list[SecurityEvent]:
        trigger_ids = {e.id for e in self.triggers}
        lo, hi = self.fired_at - self.thresholds.around, self.fired_at + self.thresholds.around
        return [e for e in self.events if e.id not in trigger_ids and lo <= e.ts <= hi
                and self.facts[e.id].principal in self.actor]

    @property
    def first(self) -> datetime:
        return min((e.ts for e in self.triggers), default=self.fired_at)


def quote(value: str | None, limit: int = 80) -> str:
    """Event text as data: quoted, control characters escaped, cut short."""
    if value is None:
        return "(none)"
    text = value.encode("unicode_escape").decode("ascii").replace('"', '\\"')[:limit]
    return f"\"{text}\""


def _ids(events: Sequence[SecurityEvent], limit: int = 12) -> list[str]:
    return [e.id for e in events][:limit]


# ---- 1. who, what, where, when --------------------------------------------------------------

def who_what(run: Run) -> Step:
    name = "who, what, where, when"
    if not run.triggers:
        return Step(name, "the signal names no event in this case: nothing to check it "
                          "against", [], "unknown", 1.0)
    f = run.facts[run.triggers[0].id]
    actions = Counter(f"{run.facts[e.id].service}:{run.facts[e.id].action}"
                      for e in run.triggers)
    what = ", ".join(f"{a}" + (f" x{n}" if n > 1 else "") for a, n in actions.most_common(4))
    result = (f"{quote(f.principal)} ran {what} from {f.ip or 'no IP address'} "
              f"(user agent {quote(f.user_agent, 60)}) in account {f.account or '?'} "
              f"{f.region or ''} at {format_ts(run.first)}").replace("  ", " ")
    return Step(name, result, [run.cite(_ids(run.triggers), result)])


# ---- did the rule catch what it is meant to catch -------------------------------------------

def rule_fit(run: Run) -> Step:
    """Whether the triggering activity took effect and had the shape that makes it matter:
    a denied, failed, dry-run or read-only call, AWS acting for itself, or a change that did
    the harmless thing (an image shared with no one) is a rule firing on the wrong thing."""
    name = "did the activity do what the rule looks for"
    if not run.triggers:
        return Step(name, "no triggering event to examine", [], "unknown")
    reasons: dict[str, list[str]] = {}
    effective: list[str] = []
    # A rule about reconnaissance or collection is meant to catch reads.
    reading_rule = any(t in READING_TACTICS for tag in run.signal_techniques
                       for t in attack.lookup(tag).tactics)
    for e in run.triggers:
        f = run.facts[e.id]
        meaning = catalog.meaning(f.action)
        why = None
        if f.dry_run:
            why = "a dry run (nothing was changed)"
        elif f.failed:
            why = f"failed or denied ({quote(f.error, 40)})"
        elif f.aws_service:
            why = "AWS acting for itself (a service-linked role or an AWS service)"
        elif f.action in catalog.PROTECTIVE:
            why = "a protective action (it restores or tightens a control)"
        elif meaning is not None and not catalog.qualifies(f.action, e.event):
            why = "a harmless form of the action (nothing exposed or escalated)"
        elif f.read_only and (meaning is None or meaning.family == "discovery") \
                and not reading_rule:
            why = "a read-only call (nothing changed, nothing secret read)"
        if why is None:
            effective.append(e.id)
        else:
            reasons.setdefault(why, []).append(e.id)
    if effective:
        result = f"{len(effective)} of {len(run.triggers)} triggering event(s) took effect"
        return Step(name, result, [run.cite(effective[:12], result)], "neutral")
    parts = [f"{len(ids)} {why}" for why, ids in reasons.items()]
    result = "none of the triggering events took effect: " + "; ".join(parts)
    cited = [i for ids in reasons.values() for i in ids][:12]
    return Step(name, result, [run.cite(cited, result)], "not_applicable", 2.0 + len(reasons) * .5)


def action_nature(run: Run) -> Step:
    """What the triggering action does for an attacker, when it took effect: turning off
    logging, a new key or user, a share with another account weigh a little on their own
    (half of what a true positive needs), so that such a change from a never-seen network
    and agent is called an attack, while from the usual place it waits for context."""
    name = "what the triggering action does"
    effective = [e for e in run.triggers if not run.facts[e.id].failed
                 and not run.facts[e.id].dry_run and not run.facts[e.id].aws_service
                 and catalog.qualifies(run.facts[e.id].action, e.event)]
    strong = [(e, m) for e in effective
              if (m := catalog.meaning(run.facts[e.id].action)) is not None
              and m.family in catalog.SUSPICIOUS_FOLLOW_ON]
    if not strong:
        return Step(name, "nothing that by itself persists, evades, escalates, exfiltrates, "
                          "reads secrets or runs code", [], "neutral")
    families = sorted({m.family for _, m in strong})
    actions = sorted({run.facts[e.id].action for e, _ in strong})
    result = f"{', '.join(families)} ({', '.join(actions)})"
    return Step(name, result, [run.cite(_ids([e for e, _ in strong]), result)], "suspicious",
                run.thresholds.action_weight)


def routine(run: Run) -> Step:
    """Whether the trigger is this principal's routine: the same action, from the same
    address and agent, several times before. A rule that fires on what an automation does
    every day is firing on the wrong thing, and more so for a declared CI principal."""
    name = "is this the principal's routine"
    if not run.triggers:
        return Step(name, "no triggering event", [], "unknown")
    earlier = [e for e in run.by_actor() if e.ts < run.first - run.thresholds.baseline_gap]
    same: list[SecurityEvent] = []
    for trigger in run.triggers:
        f = run.facts[trigger.id]
        same = [e for e in earlier if run.facts[e.id].action == f.action
                and run.facts[e.id].ip == f.ip and run.facts[e.id].user_agent == f.user_agent
                and not run.facts[e.id].failed]
        if len(same) < run.thresholds.routine_repeats:
            return Step(name, f"{f.action} is not something this principal does routinely "
                              f"({len(same)} earlier run(s) from the same address and agent)",
                        [], "neutral")
    ci = matches(run.aliases, run.context.ci_principals)
    result = (f"routine: {len(same)} earlier identical run(s) of {run.facts[same[0].id].action} "
              f"from the same address and agent" + (f", by CI principal {quote(ci[0], 60)}"
                                                    if ci else ""))
    return Step(name, result, [run.cite(_ids(same[-6:]) + _ids(run.triggers, 3), result)],
                "not_applicable", 2.5 if ci else 2.0)


# ---- 2. the actor's other activity ----------------------------------------------------------

def other_activity(run: Run) -> Step:
    name = "actor's other activity ±24 h"
    others = run.by_actor()
    if not others:
        return Step(name, "no other activity by this principal in the case's events "
                          "(no baseline to compare with)", [], "unknown")
    actions = Counter(run.facts[e.id].action for e in others)
    failed = sum(run.facts[e.id].failed for e in others)
    top = ", ".join(f"{a} x{n}" for a, n in actions.most_common(5))
    result = (f"{len(others)} other event(s) from {format_ts(others[0].ts)} to "
              f"{format_ts(others[-1].ts)}, {failed} failed; most frequent: {top}")
    return Step(name, result, [run.cite(_ids(others), result)])


# ---- 3. first seen ------------------------------------------------------------------------

def _network(ip: str) -> str:
    address = ipaddress.ip_address(ip)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def first_seen(run: Run) -> Step:
    name = "first-seen source IP / network / user agent / country"
    # What the actor did in the hour before is not "usual": an intruder's own reconnaissance
    # would otherwise vouch for the intruder's address.
    before = [e for e in run.by_actor() if e.ts < run.first - run.thresholds.baseline_gap]
    if not run.triggers:
        return Step(name, "nothing to compare", [], "unknown")
    if not before:
        return Step(name, "no earlier activity by this principal: cannot tell new from usual",
                    [], "unknown")
    seen_ip = {run.facts[e.id].ip for e in before} - {None}
    seen_net = {_network(i) for i in seen_ip if i}
    seen_ua = {run.facts[e.id].user_agent for e in before} - {None}
    seen_country = {g.country for e in before if (g := run.facts[e.id].geo) and g.country}
    new: list[str] = []
    cited: list[str] = []
    for e in run.triggers:
        f = run.facts[e.id]
        if f.ip and f.ip not in seen_ip:
            new.append(f"IP {f.ip}" + ("" if _network(f.ip) in seen_net else " (new network)"))
            cited.append(e.id)
        if f.user_agent and f.user_agent not in seen_ua:
            new.append(f"user agent {quote(f.user_agent, 50)}")
            cited.append(e.id)
        if f.geo and f.geo.country and seen_country and f.geo.country not in seen_country:
            new.append(f"country {quote(f.geo.country, 20)}")
            cited.append(e.id)
    new = list(dict.fromkeys(new))
    basis = f"{len(before)} earlier event(s) of this principal"
    if not new:
        result = f"IP, network and user agent all seen before ({basis})"
        return Step(name, result, [run.cite(_ids(before[-6:]) + _ids(run.triggers, 3), result)],
                    "benign", 1.0)
    new_network = any("new network" in n for n in new)
    weight = (1.0 if new_network else 0.5) + (0.5 if any(n.startswith("user agent") for n in new)
                                                else 0.0)
    weight += 1.0 if any(n.startswith("country") for n in new) else 0.0
    result = f"first seen for this principal: {', '.join(new[:4])} (against {basis})"
    return Step(name, result, [run.cite(list(dict.fromkeys(cited)) + _ids(before[-3:]), result)],
                "suspicious", weight)


# ---- 4. impossible travel -------------------------------------------------------------------

def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + \
        math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(min(1.0, h)))


def impossible_travel(run: Run) -> Step:
    name = "impossible travel"
    mine = sorted([*run.triggers, *run.by_actor()], key=lambda e: e.ts)
    located = [(e, g) for e in mine if (g := run.facts[e.id].geo) and g.lat is not None
               and g.lon is not None]
    if len(located) < 2:
        countries = [(e, g.country) for e in mine if (g := run.facts[e.id].geo) and g.country]
        if len({c for _, c in countries}) > 1:
            for (a, ca), (b, cb) in itertools.pairwise(countries):
                if ca != cb and (b.ts - a.ts) <= timedelta(hours=1):
                    result = (f"country changed from {quote(ca, 20)} to {quote(cb, 20)} within "
                              f"{int((b.ts - a.ts).total_seconds() // 60)} min")
                    return Step(name, result, [run.cite([a.id, b.id], result)], "suspicious",
                                1.5)
        if countries:
            return Step(name, "one country throughout", [], "neutral")
        return Step(name, "no location in the events", [], "not_applicable")
    worst: tuple[float, SecurityEvent, SecurityEvent, float] | None = None
    for (a, ga), (b, gb) in itertools.pairwise(located):
        assert ga.lat is not None and ga.lon is not None and gb.lat is not None \
            and gb.lon is not None
        km = _km((ga.lat, ga.lon), (gb.lat, gb.lon))
        hours = max((b.ts - a.ts).total_seconds() / 3600, 1 / 60)
        if km >= run.thresholds.travel_min_km and km / hours > run.thresholds.travel_kmh and \
                (worst is None or km / hours > worst[0]):
            worst = (km / hours, a, b, km)
    if worst is None:
        return Step(name, f"{len(located)} located events, all reachable in the time between "
                          f"them", [], "benign", 0.0)
    speed, a, b, km = worst
    result = (f"{km:.0f} km between events {a.id} and {b.id} "
              f"{(b.ts - a.ts).total_seconds() / 60:.0f} min apart ({speed:.0f} km/h)")
    return Step(name, result, [run.cite([a.id, b.id], result)], "suspicious", 2.5)


# ---- 5. MFA -------------------------------------------------------------------------------

def mfa(run: Run) -> Step:
    name = "MFA"
    mine = [*run.triggers, *run.by_actor()]
    removed = [e for e in mine if catalog.meaning(run.facts[e.id].action) is not None
               and run.facts[e.id].action in ("DeactivateMFADevice", "DeleteVirtualMFADevice",
                                              "user.mfa.factor.deactivate",
                                              "user.mfa.factor.reset_all")
               and not run.facts[e.id].failed]
    if removed:
        result = f"MFA removed by this principal ({len(removed)} event(s))"
        return Step(name, result, [run.cite(_ids(removed), result)], "suspicious", 1.5)
    states = [(e, run.facts[e.id].mfa) for e in run.triggers if run.facts[e.id].mfa is not None]
    if not states:
        return Step(name, "the triggering events do not say whether MFA was used", [],
                    "unknown")
    without = [e for e, used in states if not used]
    if without:
        # Only a person signing in is expected to use MFA; keys and role sessions never do.
        login = [e for e in without if run.facts[e.id].action == "ConsoleLogin"]
        if login:
            result = f"console sign-in without MFA ({len(login)} event(s))"
            return Step(name, result, [run.cite(_ids(login), result)], "suspicious", 1.0)
        result = (f"API session not MFA-authenticated ({len(without)} event(s)): usual for "
                  f"access keys and role sessions")
        return Step(name, result, [run.cite(_ids(without), result)], "neutral")
    result = "MFA was used"
    return Step(name, result, [run.cite(_ids([e for e, _ in states]), result)], "benign", 0.5)


# ---- 6 and 7: privilege changes, follow-on persistence / evasion / exfiltration -------------

def _sensitive(run: Run, families: frozenset[str], *, after_only: bool
               ) -> tuple[list[SecurityEvent], list[SecurityEvent]]:
    """(unexplained, explained) effective actor events of these families."""
    trigger_actions = {run.facts[e.id].action for e in run.triggers}
    found: list[SecurityEvent] = []
    for e in run.by_actor():
        f = run.facts[e.id]
        meaning = catalog.meaning(f.action)
        if meaning is None or meaning.family not in families or f.failed or f.dry_run:
            continue
        if after_only and e.ts < run.first:
            continue
        if f.action in trigger_actions or not catalog.qualifies(f.action, e.event):
            continue
        found.append(e)
    return ([e for e in found if e.id not in run.explained_events],
            [e for e in found if e.id in run.explained_events])


def privilege_changes(run: Run) -> Step:
    name = "privilege changes"
    own, covered = _sensitive(run, frozenset({"privilege"}), after_only=False)
    skip = {x.id for x in [*own, *run.triggers]}
    granted = [e for e in run.events if run.facts[e.id].target_user in run.aliases
               and (m := catalog.meaning(run.facts[e.id].action)) is not None
               and m.family == "privilege" and not run.facts[e.id].failed
               and catalog.qualifies(run.facts[e.id].action, e.event) and e.id not in skip]
    if not own and not granted:
        note = f" ({len(covered)} covered by the change ticket)" if covered else ""
        return Step(name, "no privilege changes by or for this principal" + note,
                    [run.cite(_ids(covered), "privilege changes covered by the ticket")]
                    if covered else [], "benign" if covered else "neutral")
    actions = Counter(run.facts[e.id].action for e in [*own, *granted])
    result = "privilege changes: " + ", ".join(f"{a} x{n}" for a, n in actions.most_common(5))
    return Step(name, result, [run.cite(_ids([*own, *granted]), result)], "suspicious",
                min(2.0, 1.0 + 0.5 * (len(actions) - 1)))


def follow_on(run: Run) -> Step:
    name = "follow-on persistence, defence evasion or exfiltration"
    strong, covered = _sensitive(run, catalog.STRONG_FOLLOW_ON, after_only=True)
    weaker, covered2 = _sensitive(run, frozenset({"credential_access", "lateral_movement",
                                                  "execution", "impact"}), after_only=True)
    probes = [e for e in run.by_actor() if run.facts[e.id].failed
              and catalog.meaning(run.facts[e.id].action) is not None]
    probing = len(probes) >= run.thresholds.probing_failures
    if not strong and not weaker and not probing:
        note = f"; {len(covered) + len(covered2)} covered by the change ticket" \
            if covered or covered2 else ""
        return Step(name, "none after the triggering activity" + note,
                    [run.cite(_ids([*covered, *covered2]), "follow-on activity within the "
                              "ticket's scope")] if covered or covered2 else [], "neutral")
    families = Counter(catalog.meaning(run.facts[e.id].action).family  # type: ignore[union-attr]
                       for e in [*strong, *weaker])
    bulk = families.get("credential_access", 0) >= run.thresholds.bulk_reads
    parts = [f"{fam} ({n})" for fam, n in families.most_common()]
    if probing:
        parts.append(f"{len(probes)} denied sensitive calls (probing)")
    result = "after the trigger: " + ", ".join(parts)
    weight = 2.0 * len({catalog.meaning(run.facts[e.id].action).family  # type: ignore[union-attr]
                        for e in strong}) + (1.0 if weaker else 0.0) + (1.0 if probing else 0.0)
    weight += 1.0 if bulk else 0.0
    return Step(name, result, [run.cite(_ids([*strong, *weaker, *probes[:3]]), result)],
                "suspicious", weight)


# ---- 8. known-good explanations -------------------------------------------------------------

def _in(ts: datetime, start: datetime, end: datetime) -> bool:
    return start <= ts <= end


def explanations(run: Run) -> Step:
    """Context that explains the activity, and context that does not fit (a ticket for
    someone else, an admin list the actor only resembles)."""
    name = "known-good explanations"
    ctx = run.context
    found: list[str] = []
    notes: list[str] = []
    score = 0.0
    tickets: list[ChangeTicket] = []
    for ticket in ctx.change_tickets:
        if not matches(run.aliases, [ticket.principal]):
            notes.append(f"{ticket.id} is for {quote(ticket.principal, 40)}, not this actor")
            continue
        if all(_in(e.ts, ticket.start, ticket.end) for e in run.triggers) and run.triggers:
            tickets.append(ticket)
        else:
            notes.append(f"{ticket.id} is this actor's but from {format_ts(ticket.start)} to "
                         f"{format_ts(ticket.end)}, not when this happened")
    if tickets:
        found.append("change ticket " + ", ".join(f"{t.id} ({quote(t.summary, 60)})"
                                                  for t in tickets))
        score += 2.0
        run.vouched.add("ticket")
        for e in run.by_actor():
            if any(_in(e.ts, t.start, t.end) for t in tickets):
                run.explained_events.add(e.id)
    admin = matches(run.aliases, ctx.known_admins)
    if admin:
        found.append(f"known admin {quote(admin[0], 40)}")
        score += 1.0
        run.vouched.add("admin")
    ci = matches(run.aliases, ctx.ci_principals)
    if ci:
        found.append(f"CI principal {quote(ci[0], 60)}")
        score += 1.0
        run.vouched.add("ci")
    ips = [run.facts[e.id].ip for e in run.triggers]
    if ctx.corporate_cidrs and ips and all(
            ip and any(ipaddress.ip_address(ip) in net for net in ctx.corporate_cidrs)
            for ip in ips):
        found.append("from the corporate network")
        score += 1.0
        run.vouched.add("corporate")
    elif ctx.corporate_cidrs and any(ips):
        notes.append("source address outside the corporate networks")
    windows = [w for w in ctx.maintenance_windows if _in(run.fired_at, w.start, w.end)]
    if windows:
        found.append("inside maintenance window " + (quote(windows[0].summary, 40)
                                                      if windows[0].summary else
                                                      format_ts(windows[0].start)))
        score += 1.0
        run.vouched.add("window")
    cited = _ids(run.triggers, 6)
    fakes = lookalikes(run.aliases, [*ctx.known_admins, *ctx.ci_principals,
                                      *(t.principal for t in ctx.change_tickets)])
    if fakes:
        alias, trusted = fakes[0]
        result = (f"the actor {quote(alias, 40)} looks like trusted {quote(trusted, 40)} but is "
                  f"not the same name (look-alike)")
        if found:
            result += "; also: " + "; ".join(found)
        run.vouched.clear()  # an impostor's context vouches for no one
        return Step(name, result, [run.cite(cited, result)], "suspicious", 3.0)
    if not found:
        result = "none: " + ("; ".join(notes[:3]) if notes else "no context fits this actor")
        return Step(name, result, [run.cite(cited, result)] if notes else [], "unknown")
    result = "; ".join(found) + (f" (also: {'; '.join(notes[:2])})" if notes else "")
    return Step(name, result, [run.cite(cited, result)], "benign", score)


STEPS: tuple[Callable[[Run], Step], ...] = (who_what, rule_fit, action_nature, routine,
                                            other_activity, first_seen, impossible_travel, mfa)
# Explanations run before the steps that ask what they cover.
AFTER_EXPLANATIONS: tuple[Callable[[Run], Step], ...] = (privilege_changes, follow_on)
