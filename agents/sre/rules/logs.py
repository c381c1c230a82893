"""Logs: error lines are a fault of the service that writes them only when they are its own."""

from __future__ import annotations

from agents.sre.rules.link import Link, rule
from agents.sre.verdicts import LogVerdict


@rule("blames_another", family="logs", kinds=("code_error",), roles=("local", "widened"))
def blames_another(link: Link) -> str:
    """A surge of error lines most of which name another service of the system ("error
    calling user", "upstream orders returned 500", "connection refused to payment:8080") is
    the writer's view of that service failing, not a fault in its own code: it points down
    the chain, as failing child spans do."""
    cause = link.cause
    if not isinstance(cause, LogVerdict) or not cause.blamed or \
            cause.blame_share < link.thresholds.blames:
        return ""
    return (f"{cause.blame_share:.0%} of its error lines since the onset name another service "
            f"({', '.join(cause.blamed[:3])}): it reports their failure")


RULES = (blames_another,)
