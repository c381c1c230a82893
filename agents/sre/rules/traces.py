"""Traces: a code fault is where spans fail or slow down while the spans they call do not."""

from __future__ import annotations

from agents.sre.rules.link import Link, rule
from agents.sre.traces import SpanVerdict


@rule("span_change", family="traces")
def span_change(link: Link) -> str:
    """A service's spans explain something only when they changed: the share that fails rose
    by 3 binomial sigmas, or an operation's own time (without its children's) by 3 robust
    sigmas."""
    cause = link.cause
    if not isinstance(cause, SpanVerdict) or cause.failing or cause.slowed:
        return ""
    return f"its spans did not change ({cause.describe()})"


@rule("healthy_children", family="traces", kinds=("code_error",), roles=("local",))
def healthy_children(link: Link) -> str:
    """The fault is in a service's own code only when the spans it calls stay healthy (and
    the services it calls did not degrade); if they fail or slow down too, the fault is
    further down."""
    if not isinstance(link.cause, SpanVerdict):
        return ""
    bad = [c.service for c in link.children if c.failing or c.slowed]
    for callee in link.callees:  # a callee whose own metrics degraded is not healthy either
        profile = link.series.profile(callee)
        if profile is not None and any(
                v.anomalous for f, v in profile.families.items()
                if f in ("latency", "errors", "availability")) and callee not in bad:
            bad.append(callee)
    return f"the spans it calls changed too ({', '.join(sorted(bad))})" if bad else ""


RULES = (span_change, healthy_children)
