"""Direction: trouble flows up a call graph, from a callee to the services that call it."""

from __future__ import annotations

from agents.sre.rules.link import Link, rule

# What a caller suffers when its callee fails: slowness, errors, lines about them. A caller's
# load is another matter (a surge is a cause downstream), judged by the load rules.
SYMPTOMS = ("latency", "errors", "availability", "code_error", "dependency")


@rule("upstream", family="direction", kinds=SYMPTOMS, roles=("widened", "model"))
def upstream(link: Link) -> str:
    """A service that calls the degraded one, directly or through others, waits on it and
    fails with it: its slowness and its errors follow from the degradation, never the other
    way round (an alert on a database names the database, not the services whose
    connection pools ran dry behind it)."""
    if not link.upstream:
        return ""
    return (f"it calls {link.effect_service or 'the alerting service'} (directly or through "
            "others): its trouble follows from that service's, not the reverse")


RULES = (upstream,)
