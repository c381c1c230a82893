"""After the investigator: tie the report to what the alert and the sources really said.

The investigator reasons over series; this pass, run by every caller that has a live source
(`Service.investigate`, `nightowl investigate --prometheus`), makes its report honest and
checkable:

- the alert rule's own expression, run over the incident window, is the first evidence;
- a service with no series at all is said so, with the selector that found nothing;
- what could not be checked (no log source, no call graph) is listed.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from agents.sre.context import AlertContext
from agents.sre.report import Evidence, Report
from integrations.telemetry.base import TelemetrySource

if TYPE_CHECKING:
    from integrations.telemetry.prometheus import PrometheusSource
    from integrations.telemetry.scoped import ScopedSource

# A trailing threshold: `expr > 0.8`, `expr >= bool 5`, ... (the alert's condition).
_THRESHOLD = re.compile(r"^(?P<expr>.+?)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?:bool\s+)?"
                        r"(?P<value>[-+]?[0-9.]+(?:e[-+]?\d+)?)\s*$", re.S)


async def ground(report: Report, ctx: AlertContext, source: TelemetrySource, *,
                 expression: str | None = None) -> None:
    scope = cast("ScopedSource", source).scope \
        if _is(source, "integrations.telemetry.scoped", "ScopedSource") else None
    prometheus = scope.prometheus if scope else (
        cast("PrometheusSource", source)
        if _is(source, "integrations.telemetry.prometheus", "PrometheusSource") else None)
    expression = expression or (scope.expression if scope else None)
    if prometheus is not None:
        where = prometheus.empty.get(ctx.service)
        if where is not None:
            _no_series(report, ctx, where, prometheus.service_label)
        if expression:
            await _alert_expression(report, ctx, prometheus, expression)
    if scope is not None:
        report.coverage.extend(scope.coverage)


def _is(source: TelemetrySource, module: str, name: str) -> bool:
    """isinstance without the import: no instance exists unless its module was loaded to
    build it, and a scenario run should not load the Prometheus client (httpx, about a
    tenth of a second) only to learn that it has none."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(source, getattr(loaded, name))


def _no_series(report: Report, ctx: AlertContext, where: str, label: str) -> None:
    text = (f"No series for {ctx.service} under labels {where} in the window: nothing to "
            f"measure. The service was read from the alert's `{label}` label; if its metrics "
            "carry another label, list it in NIGHTOWL_SERVICE_LABELS.")
    report.evidence.append(Evidence(id="ev-noseries", query=where, status="insufficient_data",
                                    finding=text, service=ctx.service))
    report.summary = f"{text} {report.summary}".strip()
    report.next_steps.insert(0, f"Check that {where} matches your series in Prometheus.")


async def _alert_expression(report: Report, ctx: AlertContext, prometheus: PrometheusSource,
                            expression: str) -> None:
    match = _THRESHOLD.match(expression)
    value_expr = match.group("expr") if match else expression
    info, result = await prometheus.query(value_expr, ctx.window)
    link = prometheus.link(expression, ctx.window)
    if info.status == "error":
        evidence = Evidence(id="ev-alert", query=expression, link=link, status="error",
                            finding=f"The alert's own expression could not be run: {info.error}")
    elif not result:
        evidence = Evidence(id="ev-alert", query=expression, link=link,
                            status="insufficient_data",
                            finding="The alert's own expression returns no series over the "
                                    "incident window.")
    else:
        evidence = _expression_finding(expression, link, result, ctx, match)
    evidence.service = ctx.service
    evidence.signal = ctx.signal
    report.evidence.insert(0, evidence)
    roots = [h for h in report.hypotheses if h.kind == "symptom"]
    if roots:
        roots[0].evidence.insert(0, evidence.id)


def _expression_finding(expression: str, link: str, result: list[dict[str, Any]],
                        ctx: AlertContext, threshold: re.Match[str] | None) -> Evidence:
    best: tuple[float, float, float, dict[str, str]] | None = None
    for item in result:
        points = item.get("values") or []
        t = np.array([float(p[0]) for p in points])
        v = np.array([_number(p[1]) for p in points])
        if not t.size:
            continue
        before = v[t < ctx.fired_at_s - 300]
        after = v[t >= ctx.fired_at_s - 300]
        baseline = float(np.nanmedian(before)) if np.isfinite(before).any() else float("nan")
        peak = float(np.nanmax(after)) if np.isfinite(after).any() else float("nan")
        if best is None or (np.isfinite(peak) and not peak <= best[1]):
            best = (baseline, peak, float(v[-1]), item.get("metric", {}))
    assert best is not None
    baseline, peak, last, labels = best
    shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__")[:120]
    parts = [f"The alert's expression peaked at {_fmt(peak)}"]
    if threshold:
        parts[0] += f" (fires when {threshold.group('op')} {threshold.group('value')})"
    parts.append(f"against {_fmt(baseline)} before it fired" if np.isfinite(baseline)
                 else "with no data before it fired")
    parts.append(f"now {_fmt(last)}")
    finding = ", ".join(parts)
    if shown:
        finding += f" [{shown}]"
    if len(result) > 1:
        finding += f"; {len(result)} series, the highest shown"
    return Evidence(id="ev-alert", query=expression, link=link, finding=finding,
                    numbers={"baseline": None if not np.isfinite(baseline) else baseline,
                             "peak": None if not np.isfinite(peak) else peak})


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _fmt(value: float) -> str:
    if not np.isfinite(value):
        return "no value"
    return f"{value:.3g}"
