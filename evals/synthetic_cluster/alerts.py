"""Which alert fires, when, and how its source words it.

An alert is a rule on a series the model produced: a threshold the team set between the
normal peak and the trouble, held for the rule's `for:` (Alertmanager, Grafana) or averaged
over the monitor's window (Datadog), or a burn rate against an SLO. `fired_at` is the first
step the rule would have fired, so alerts lag onsets by what the symptom needed to climb.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from evals.synthetic_cluster.faults import MIN, Story
from evals.synthetic_cluster.model import Model

SOURCES = {  # per stack: the alert sources the team wires up, first is the most common
    "istio": ("alertmanager", "alertmanager", "slo"),
    "otel": ("grafana", "grafana", "sentry"),
    "datadog": ("datadog", "datadog", "datadog"),
    "prommix": ("alertmanager", "grafana", "slo"),
}


@dataclass
class Alert:
    service: str
    signal: str
    source: str
    step: int
    threshold: float
    value: float
    hold: int  # steps the rule waited (for:)


def series(m: Model, story: Story, svc: str, signal: str) -> np.ndarray | None:
    if signal == "latency":
        return m.p99[svc]
    if signal in ("errors", "availability"):
        return None if svc in story.hide_errors else m.err[svc]
    if signal == "throughput":
        return m.rps[svc]
    if signal == "saturation":
        return np.minimum(m.util[svc], 1.5) if m.util[svc].any() else None
    return None


def smooth(x: np.ndarray, n: int) -> np.ndarray:
    k = np.ones(n) / n
    return np.convolve(np.concatenate([np.full(n - 1, x[0]), x]), k, mode="valid")


def _first_hold(x: np.ndarray, thr: float, start: int, hold: int) -> int | None:
    above = x > thr
    run = 0
    for i in range(max(start, 0), len(x)):
        run = run + 1 if above[i] else 0
        if run >= hold:
            return i
    return None


def choose(m: Model, story: Story, rng: np.random.Generator, latest: int) -> Alert:
    """The first wished-for alert whose series really moved; if none did (a fault too
    diluted to page on its own), the one that moved most, at a threshold it does cross."""
    on = story.onset
    best: tuple[float, str, str] | None = None
    control = story.kind == "none"
    for svc, signal in story.alerts:
        x = series(m, story, svc, signal)
        if x is None:
            continue
        xs = smooth(x, 3)
        before = xs[max(0, on - 100 * MIN): on - 2 * MIN]
        after = xs[on: min(latest, on + 50 * MIN)]
        if control:
            lo, hi = float(np.quantile(before, 0.5)), float(after.max())
        else:
            lo, hi = float(before.max()), float(after.max())
        floor = {"errors": 0.01, "availability": 0.01}.get(signal, 0.0)
        jump = (hi - lo) / max(abs(lo), 1e-9)
        if best is None or jump > best[0]:
            best = (jump, svc, signal)
        need = {"latency": 0.4, "errors": 1.0, "availability": 1.0, "throughput": 0.25,
                "saturation": 0.2}[signal]
        if (jump >= need and hi >= floor) or (control and jump > 0.02):
            return _fire(m, story, rng, svc, signal, lo, hi, latest)
    assert best is not None, story.family
    _, svc, signal = best
    x = series(m, story, svc, signal)
    assert x is not None
    xs = smooth(x, 3)
    lo = float(xs[max(0, on - 100 * MIN): on - 2 * MIN].max())
    return _fire(m, story, rng, svc, signal, lo, float(xs[on: latest].max()), latest)


def _fire(m: Model, story: Story, rng: np.random.Generator, svc: str, signal: str,
          lo: float, hi: float, latest: int) -> Alert:
    stack = m.c.system.stack
    sources = SOURCES[stack]
    if svc == next(n for n, w in m.wl.items() if w.role == "gateway") and \
            signal in ("errors", "availability") and "slo" in sources:
        source = "slo"
    elif signal == "errors" and "sentry" in sources and rng.random() < 0.5 and \
            m.wl[svc].role in ("api", "web", "worker"):  # Sentry lives in application code
        source = "sentry"
    else:
        source = sources[0] if rng.random() < 0.7 else sources[1]
    if source == "slo":
        signal = "availability"
    x = series(m, story, svc, signal)
    assert x is not None
    # Datadog monitors average over their window and fire at once; the others hold `for:`.
    win, hold = (5 * MIN, 1) if source == "datadog" else (3, int(rng.choice([1, 2, 5])) * MIN)
    if source == "sentry":
        win, hold = 6, 1
    xs = smooth(x, win)
    frac = float(rng.uniform(0.85, 0.97)) if story.kind == "none" else float(
        rng.uniform(0.3, 0.6))
    thr = lo + (hi - lo) * frac
    if story.kind != "none":  # teams set thresholds from normal, not from the coming peak
        usual = {"latency": lo * float(rng.uniform(1.5, 3.0)),
                 "errors": lo + float(rng.uniform(0.01, 0.05)),
                 "availability": lo + float(rng.uniform(0.005, 0.02)),
                 "throughput": lo * float(rng.uniform(1.2, 1.6)),
                 "saturation": max(lo * 1.2, min(0.85, lo * 2))}[signal]
        thr = min(thr, usual)
    start = story.onset - (25 * MIN if story.kind == "none" else 0)
    step = _first_hold(xs, thr, start, hold)
    if step is None or step > latest:
        thr = lo + (hi - lo) * 0.2
        step = _first_hold(xs, thr, start, 1) or story.onset + 5 * MIN
        hold = 1
    step = min(step + int(rng.integers(0, 4)), latest)  # rule evaluation interval
    return Alert(svc, signal, source, step, thr, float(xs[step]), hold)


def nice(signal: str, v: float) -> str:
    if signal == "latency":
        return f"{v / 1000:.2f}s" if v >= 1000 else f"{v:.0f}ms"
    if signal in ("errors", "availability"):
        return f"{100 * v:.1f}%"
    if signal == "throughput":
        return f"{v:.0f} req/s"
    return f"{100 * v:.0f}%"


def render(a: Alert, m: Model, rng: np.random.Generator, namespace: str) -> dict[str, Any]:
    """The alert as its source would hand it over: name, summary wording, labels."""
    what = {"latency": "p99 latency", "errors": "error rate", "availability": "availability",
            "throughput": "request rate", "saturation": "utilisation"}[a.signal]
    hold_m = max(1, a.hold // MIN)
    sev = str(rng.choice(["critical", "warning", "page"]))
    if a.source == "alertmanager":
        name = {"latency": "HighRequestLatency", "errors": "HighErrorRate",
                "availability": "ServiceUnavailable", "throughput": "TrafficAnomaly",
                "saturation": "HighSaturation"}[a.signal]
        summary = (f"{what} of {a.service} is {nice(a.signal, a.value)} "
                   f"(threshold {nice(a.signal, a.threshold)}) for {hold_m}m")
        labels = {"alertname": name, "namespace": namespace, "workload": a.service,
                  "severity": sev, "prometheus": "monitoring/k8s"}
    elif a.source == "grafana":
        name = f"{a.service} {what} high"
        summary = f"[FIRING:1] {name}: {nice(a.signal, a.value)} > {nice(a.signal, a.threshold)}"
        labels = {"alertname": name, "grafana_folder": namespace.title(),
                  "rule_uid": "".join(rng.choice(list("abcdefghjkmnpqrstuvwxyz0123456789"), 9)),
                  "service": a.service, "severity": sev}
    elif a.source == "datadog":
        prio = str(rng.choice(["P1", "P2", "P3"]))
        name = f"[{prio}] {what.capitalize()} is high on {a.service}"
        summary = (f"{name}: avg(last_5m) {nice(a.signal, a.value)} above "
                   f"{nice(a.signal, a.threshold)}")
        labels = {"monitor_id": str(int(rng.integers(10_000_000, 99_999_999))),
                  "priority": prio, "env": "prod", "kube_namespace": namespace,
                  "service": a.service}
    elif a.source == "sentry":
        name = f"Error spike in {a.service}"
        summary = (f"Issue alert: {a.service} error events above {nice(a.signal, a.threshold)}"
                   f" of transactions in 1m")
        labels = {"project": a.service, "environment": "production", "rule": "error-spike"}
    else:  # SLO burn-rate (sloth / pyrra multiwindow)
        burn = a.value / 0.001
        name = "ErrorBudgetBurn"
        summary = (f"SLO {a.service}-availability-99.9 is burning error budget at "
                   f"{burn:.1f}x (1h and 5m windows)")
        labels = {"alertname": name, "sloth_slo": "requests-availability",
                  "sloth_service": a.service, "severity": "page", "sloth_window": "1h"}
    return {"name": name, "service": a.service, "signal": a.signal, "severity": sev,
            "summary": summary, "labels": labels, "source": a.source}
