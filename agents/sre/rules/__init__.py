"""The investigator's causal rules, one family per module (see DESIGN.md, "The investigator's
rules"). `RULES` is their order of application: the first rule that refutes a link gives its
reason, so the specific ones (magnitude, load, a standing condition) speak before the generic
ones (not anomalous, too late)."""

from __future__ import annotations

from agents.sre.rules import direction, load, logs, magnitude, persistence, timing, traces
from agents.sre.rules.link import ROLES, Link, Refutation, Role, Rule, Timing, judge
from agents.sre.rules.thresholds import DEFAULT, Thresholds

RULES: tuple[Rule, ...] = (
    magnitude.latency_share, magnitude.faint_link, magnitude.traffic_share,
    magnitude.faint_surge, magnitude.log_surge, magnitude.nothing_to_explain,
    logs.blames_another, direction.upstream, traces.span_change, traces.healthy_children,
    load.coping, load.load_lull, load.carries, load.cpu_with_load,
    persistence.standing, persistence.normal,
    timing.late, timing.change_window,
    load.rising, persistence.transient,
)
BY_NAME = {r.name: r for r in RULES}


def without(names: list[str] | tuple[str, ...]) -> tuple[Rule, ...]:
    """The rules with `names` left out (an ablation); an unknown name is an error."""
    unknown = sorted(set(names) - set(BY_NAME))
    if unknown:
        raise ValueError(f"unknown rule(s) {', '.join(unknown)}; known: "
                         f"{', '.join(BY_NAME)}")
    return tuple(r for r in RULES if r.name not in names)


__all__ = ["BY_NAME", "DEFAULT", "ROLES", "RULES", "Link", "Refutation", "Role", "Rule",
           "Thresholds", "Timing", "judge", "without"]
