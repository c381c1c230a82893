"""The lookups behind thread chat: what changed, error logs, why not X.

They use the investigation's toolbox (the same queries, the same statistics) and record every
finding as evidence with a `q-N` id, so an answer cites what it read exactly as a root-cause
analysis does. Each returns a few lines of Slack mrkdwn, never a raw dump.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from agents.sre.context import AlertContext
from agents.sre.log_lines import log_template
from agents.sre.report import Evidence, EvidenceStatus, Report
from agents.sre.toolbox import ServiceProfile, Toolbox, hhmm
from agents.sre.wording import cause_words, evidence_text, utc_text
from agents.untrusted import inert
from integrations.redaction import clip
from integrations.telemetry.base import EventsResult, QueryInfo, TelemetrySource, Window

MAX_QUERIES = 30
# Words people use for a kind of service, for "why not the database?".
ALIASES = {
    "database": ("postgres", "mysql", "mongo", "db", "database", "sql", "maria", "cassandra"),
    "db": ("postgres", "mysql", "mongo", "db", "database", "sql", "maria", "cassandra"),
    "cache": ("redis", "memcache", "cache"),
    "queue": ("kafka", "rabbit", "sqs", "queue", "nats"),
    "network": (),
}


@dataclass
class Thread:
    """What a question in an incident thread is asked against."""

    incident_id: int
    ctx: AlertContext
    report: Report | None
    source: TelemetrySource | None
    now: float  # "the last hour" ends here: now, or the end of an old incident's window
    services: list[str] = field(default_factory=list)


class NotAnswerable(Exception):
    """The question names something we cannot look up; the message says why."""


class Lookups:
    def __init__(self, thread: Thread) -> None:
        self.thread = thread
        self.evidence: list[Evidence] = []

    def _toolbox(self, start: float, end: float, split: float) -> Toolbox:
        if self.thread.source is None:
            raise NotAnswerable("no telemetry source is configured (set PROMETHEUS_URL "
                                "and/or LOKI_URL)")
        window = Window(datetime.fromtimestamp(start, tz=UTC),
                        datetime.fromtimestamp(end, tz=UTC))
        return Toolbox(self.thread.source, window, split=split, max_queries=MAX_QUERIES,
                       id_prefix="q", evidence=self.evidence)

    def known_services(self) -> list[str]:
        names = set(self.thread.services)
        report = self.thread.report
        if report is not None:
            names |= {h.service for h in report.hypotheses}
        names.add(self.thread.ctx.service)
        return sorted(names)

    def resolve(self, name: str) -> list[str]:
        """Services a name refers to: exact, then a unique prefix or substring, then a kind."""
        known = self.known_services()
        lowered = name.lower().strip()
        if lowered in known:
            return [lowered]
        exact = [s for s in known if s.lower() == lowered]
        if exact:
            return exact
        partial = [s for s in known if lowered in s.lower() or s.lower() in lowered]
        if partial:
            return partial[:3]
        words = ALIASES.get(lowered.rstrip("s"), ())
        return [s for s in known if any(w in s.lower() for w in words)][:3]

    def one_service(self, name: str) -> str:
        found = self.resolve(name)
        if not found:
            shown = ", ".join(f"`{s}`" for s in self.known_services()[:15])
            raise NotAnswerable(f"I don't know a service called `{name}`. I know: {shown}.")
        return found[0]

    # ---- what changed ------------------------------------------------------------------------

    async def what_changed(self, service_name: str, minutes: int) -> str:
        service = self.one_service(service_name)
        now = self.thread.now
        split = now - minutes * 60
        start = now - max(3 * minutes, minutes + 60) * 60
        tools = self._toolbox(start, now, split)
        lines = [f"*What changed in `{service}` since {hhmm(split)} UTC "
                 f"(the last {_span(minutes)}):*"]
        assert tools.source is not None
        try:
            changes = await tools.source.events(tools.window)
        except Exception as exc:
            changes = EventsResult(QueryInfo("change events", "error", str(exc)))
        tools.queries += 1
        events = [e for e in changes.events if e.service == service and e.ts >= split]
        for event in events[:8]:
            evidence_id = tools.cite_event(event, (service, None))
            lines.append(f"• {event.kind} at {hhmm(event.ts)}: {inert(clip(event.summary, 150))} "
                         f"`{evidence_id}`")
        profile = await tools.profile(service)
        moved = sorted((v for v in profile.families.values()
                        if v.anomalous and v.onset is not None and v.onset >= split - 120),
                       key=lambda v: -v.score)
        for verdict in moved[:6]:
            evidence_id = tools.cite(verdict)
            lines.append(f"• {self._finding(evidence_id)} `{evidence_id}`")
        if profile.status == "error":
            failed = [e for e in self.evidence if e.status == "error"]
            lines.extend(f"• ⚠️ {inert(e.finding)} `{e.id}`" for e in failed[-1:])
        elif not events and not moved:
            metrics = (await tools.fetch_metrics(service)).info  # kept: no second query
            lines.append(self._nothing_moved(tools, service, profile, changes, split,
                                             metrics=metrics))
        else:
            # What moved is listed; what could not be compared is said too, not left out.
            blind = sorted(f for f, v in profile.families.items() if v.anomaly is None)
            gaps = [f"{', '.join(blind)}: no data before {hhmm(split)} UTC to compare with"
                    ] if blind else []
            if not profile.families:
                gaps.append("no metrics to look at")
            gap = _events_gap(changes)
            if gap:
                gaps.append(gap)
            if gaps:
                evidence_id = tools.record(query=f"metrics and change events of {service}",
                                           service=service, status="insufficient_data",
                                           finding="; ".join(gaps))
                lines.append(f"• ∅ Not compared: {self._finding(evidence_id)} `{evidence_id}`")
        return "\n".join(lines)

    def _nothing_moved(self, tools: Toolbox, service: str, profile: ServiceProfile,
                       changes: EventsResult | None, split: float, *, metrics: QueryInfo,
                       around: str = "") -> str:
        """"Nothing changed" only for what was really compared: a family with no data
        before the period, no metrics at all, or no change-event source, is said so, not
        counted as calm."""
        judged = [v for v in profile.families.values() if v.anomaly is not None]
        blind = sorted(f for f, v in profile.families.items() if v.anomaly is None)
        parts = []
        gap = _events_gap(changes) if changes is not None else None
        if gap:
            parts.append(gap)
        elif changes is not None:
            parts.append(f"no deploys or config changes of {service} recorded")
        if judged:
            parts.append(f"{len(judged)} of its metric "
                         f"{'family is' if len(judged) == 1 else 'families are'} within their "
                         f"normal range{around}")
        if blind:
            parts.append(f"{', '.join(blind)}: no data before {hhmm(split)} UTC to compare with")
        if not profile.families:
            # Say why: no metrics source configured, or the selector that found no series.
            why = metrics.error or (metrics.query if metrics.query.startswith("no ") else "")
            hint = "; set PROMETHEUS_URL" if "source configured" in why else ""
            parts.append(f"no metrics of {service} to look at ({why}{hint})" if why
                         else f"no metrics of {service} in the window at all")
        status: EvidenceStatus = "ok" if judged and not blind else "insufficient_data"
        evidence_id = tools.record(query=f"metrics{' and change events' if changes else ''} "
                                         f"of {service}",
                                   service=service, status=status, finding="; ".join(parts))
        lead = "Nothing" if status == "ok" else "Nothing I could see, but I could not check it all"
        return f"• {lead}: {self._finding(evidence_id)} `{evidence_id}`"

    # ---- error logs --------------------------------------------------------------------------

    async def logs(self, service_name: str, since: tuple[int, int] | None, *,
                   errors_only: bool = True) -> str:
        service = self.one_service(service_name)
        now = self.thread.now
        start = _since(now, since) if since else self.thread.ctx.fired_at_s - 15 * 60
        tools = self._toolbox(start, now, start)
        level = "error" if errors_only else "warning"
        query = f"{level} logs of {service} since {hhmm(start)}"
        assert tools.source is not None
        try:
            result = await tools.source.logs(service, tools.window, min_level=level)
        except Exception as exc:
            evidence_id = tools.record(query=query, status="error", service=service,
                                       finding=f"logs of {service} could not be read: {exc}")
            return f"⚠️ {self._finding(evidence_id)} `{evidence_id}`"
        if result.info.status == "error":
            evidence_id = tools.record(query=result.info.query, status="error", service=service,
                                       link=result.info.link,
                                       finding=f"logs of {service} could not be read: "
                                               f"{result.info.error}")
            return f"⚠️ {self._finding(evidence_id)} `{evidence_id}`"
        if result.info.status == "empty" and not result.lines \
                and (result.info.query.startswith("no ") or " has no " in result.info.query):
            evidence_id = tools.record(query=result.info.query, status="insufficient_data",
                                       service=service,
                                       finding=f"no log source to read ({result.info.query}); "
                                               "set LOKI_URL to read logs")
            return f"∅ I cannot see logs of `{service}`: {self._finding(evidence_id)} " \
                   f"`{evidence_id}`"
        lines_in = [ln for ln in result.lines if ln.ts >= start]
        groups: dict[str, list[float]] = {}
        samples: dict[str, str] = {}
        for line in lines_in:
            template = log_template(line.message)
            groups.setdefault(template, []).append(line.ts)
            samples.setdefault(template, line.message)
        counts = Counter({t: len(v) for t, v in groups.items()})
        more = " (truncated)" if result.truncated else ""
        evidence_id = tools.record(
            query=result.info.query or query, service=service, signal="logs",
            link=result.info.link,
            finding=f"{len(lines_in)}{more} {level}-level lines of {service} since "
                    f"{hhmm(start)} in {len(groups)} patterns",
            numbers={"lines": len(lines_in), "patterns": len(groups)})
        head = (f"*{level.capitalize()} logs of `{service}` since {hhmm(start)} UTC:* "
                f"{len(lines_in)}{more} lines, {len(groups)} patterns `{evidence_id}`")
        if not lines_in:
            return head
        rows = [head]
        for template, count in counts.most_common(6):
            stamps = groups[template]
            rows.append(f"• ×{count} ({hhmm(min(stamps))}–{hhmm(max(stamps))}) "
                        f"`{inert(clip(_one_line(samples[template]), 220))}`")
        if len(groups) > 6:
            rows.append(f"_…and {len(groups) - 6} more patterns_")
        if result.info.link:
            rows.append(f"<{result.info.link}|Open the query>")
        return "\n".join(rows)

    # ---- why not X ---------------------------------------------------------------------------

    async def why_not(self, target: str) -> str:
        services = self.resolve(target) or [self.one_service(target)]  # raises when unknown
        report = self.thread.report
        parts: list[str] = []
        for service in services:
            parts.append(await self._why_not_one(service, report))
        return "\n\n".join(parts)

    async def _why_not_one(self, service: str, report: Report | None) -> str:
        if report is not None:
            top = report.root_causes[0] if report.root_causes else None
            if top is not None and top.service == service and not report.abstained:
                return (f"*`{service}` is the likely root cause* ({top.confidence:.0%}): "
                        f"{inert(top.summary)} `{'`, `'.join(top.evidence[-3:])}`")
            tested = [h for h in report.hypotheses if h.service == service]
            if tested:
                by_id = report.evidence_by_id()
                count = f"{len(tested)} hypothes{'i' if len(tested) == 1 else 'e'}s"
                lines = [f"*Why not `{service}`?* I tested {count} about it:"]
                for h in sorted(tested, key=lambda h: h.status != "supported")[:6]:
                    icon = {"supported": "✓", "refuted": "✗"}.get(h.status, "?")
                    why = f": {utc_text(h.reason)}" if h.reason else ""
                    cited = "".join(f" `{e}`" for e in h.evidence[:2])
                    finding = evidence_text(by_id[h.evidence[0]]) if h.evidence and \
                        h.evidence[0] in by_id else ""
                    lines.append(f"{icon} {inert(h.statement)}{inert(why)}. "
                                 f"{inert(clip(finding, 160))}{cited}")
                ranked = [c for c in report.root_causes if c.service == service]
                if ranked and report.root_causes:
                    top = report.root_causes[0]
                    lines.append(f"It ranks below `{top.service}` ({ranked[0].confidence:.0%} "
                                 f"against {top.confidence:.0%}).")
                return "\n".join(lines)
        # Not tested: it was off the alert's path. Look now, over the incident's window.
        ctx = self.thread.ctx
        tools = self._toolbox(ctx.window.start_s, ctx.window.end_s, ctx.fired_at_s - 10 * 60)
        profile = await tools.profile(service)
        moved = sorted((v for v in profile.families.values() if v.anomalous),
                       key=lambda v: -v.score)
        lines = [f"*Why not `{service}`?* The investigation did not test it: it is not on the "
                 f"call path below `{ctx.service}`. Looking at it now:"]
        for verdict in moved[:4]:
            evidence_id = tools.cite(verdict)
            lines.append(f"• {self._finding(evidence_id)} `{evidence_id}`")
        if not moved:
            metrics = (await tools.fetch_metrics(service)).info  # kept: no second query
            lines.append(self._nothing_moved(tools, service, profile, None,
                                             ctx.fired_at_s - 10 * 60, metrics=metrics,
                                             around=f" around {hhmm(ctx.fired_at_s)} UTC"))
        return "\n".join(lines)

    def _finding(self, evidence_id: str) -> str:
        # In words, as the RCA says it; findings quote telemetry (log lines, event
        # summaries): inert in a message.
        return inert(evidence_text(next(e for e in self.evidence if e.id == evidence_id)))


def summary_text(report: Report | None) -> str:
    """The RCA's first lines, in the RCA's words: the cause (or that there is none) and the
    evidence it rests on; the model's cited narrative when there is one."""
    if report is None:
        return "There is no finished investigation in this thread yet."
    by_id = report.evidence_by_id()
    top = report.root_causes[0] if report.root_causes else None
    behind = next((by_id[e] for e in reversed(top.evidence) if e in by_id
                   and by_id[e].status == "ok"), None) if top is not None else None
    if report.too_early():
        head = "*Too early to call:* the alert has not lasted long enough to tell a fault " \
            "from a blip."
        if top is not None:
            head += f" The strongest lead so far: `{top.service}` — {cause_words(top)}."
    elif report.recovered():
        head = "*Recovered by itself:* the alert's signal was back to normal before the " \
            "investigation's data ended."
        if top is not None:
            head += f" The strongest lead while it lasted: `{top.service}` — {cause_words(top)}."
    elif report.demand():
        head = "*More requests, no harm:* the alert was on a rise in requests that the " \
            "service took without slowing or failing more."
        if top is not None:
            head += f" What moved most with the load: `{top.service}` — {cause_words(top)}."
    elif report.abstained or top is None:
        head = "*No confident root cause.*"
        if top is not None:
            head += (f" The strongest lead, `{top.service}` — {cause_words(top)}, is too weak "
                     "to call.")
    else:
        head = (f"*Likely root cause:* `{top.service}` — {cause_words(top)} "
                f"({top.confidence:.0%})")
    lines = [head]
    if behind is not None:
        lines.append(f"• {inert(evidence_text(behind))} `{behind.id}`")
    lines += [f"⚠️ {inert(c)}" for c in report.caveats]
    if report.claims:  # a model's narrative, checked against the evidence
        lines.append(inert(utc_text(report.summary)))
    if report.next_steps:
        lines.append(f"Next: {inert(report.next_steps[0])}")
    return "\n".join(lines)


def _events_gap(changes: EventsResult) -> str | None:
    """Why change events could not be looked at (no source configured, or it failed); None
    when a source answered, even with nothing (that is "no deploys recorded", not a gap)."""
    info = changes.info
    if info.status == "error":
        return f"no change events to look at ({info.error or info.query})"
    if info.query.startswith("no ") and not changes.events:
        return f"no change events to look at ({info.query})"
    return None


def _span(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"


def _since(now: float, hhmm_utc: tuple[int, int]) -> float:
    """The latest hh:mm UTC at or before `now` (yesterday's, when today's is still ahead)."""
    day = datetime.fromtimestamp(now, tz=UTC)
    at = day.replace(hour=hhmm_utc[0], minute=hhmm_utc[1], second=0, microsecond=0)
    if at.timestamp() > now:
        at -= timedelta(days=1)
    return at.timestamp()


_SPACE = re.compile(r"\s+")


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", text).replace("`", "'").strip()

