"""One case: simulate, choose where the alert fires, write the scenario directory.

The alert is chosen the way an on-call rotation meets it: a rule on a symptom (latency,
5xx ratio, consumer lag) of a service that somebody watches, most often the edge users hit,
sometimes a mid-tier service, sometimes the culprit itself. Its threshold sits above
everything the series did in the quiet history (else it would have fired before), and it
fires once the smoothed series has stayed above it for the rule's `for:`. If no watched
series moves enough for any rule, the draw is discarded and redrawn: a case whose fault
cannot be seen would be a generator defect, not a test.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from evals.synthetic_prod.faults import Event, Plan, background, control, inject
from evals.synthetic_prod.model import DT, Effects, State, draw_params, simulate
from evals.synthetic_prod.render import Rendered, render, rule_series
from evals.synthetic_prod.spans import write_traces
from evals.synthetic_prod.systems import SYSTEMS, System
from evals.synthetic_prod.textlogs import write_logs

# Draws of a case's parameters before giving up on one that fires an alert.
DRAWS = 32
ALERT_NAMES = {
    "latency": ["HighRequestLatency", "LatencySLOBurnRate", "APIHighLatency", "SlowResponses"],
    "errors": ["HighErrorRate", "Http5xxRatioHigh", "ErrorBudgetBurnFast"],
    "saturation": ["KafkaConsumerLagHigh"],
}


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _nice(x: float) -> float:
    """A threshold as a person writes it into a rule: two significant digits, rounded up."""
    if x <= 0:
        return x
    mag: float = 10 ** (math.floor(math.log10(x)) - 1)
    return math.ceil(x / mag) * mag


def _downstream(system: System, name: str) -> set[str]:
    out, todo = set(), [name]
    while todo:
        for e in system.callees(todo.pop()):
            if e.callee not in out:
                out.add(e.callee)
                todo.append(e.callee)
    return out


def _candidates(system: System, plan: Plan) -> dict[str, float]:
    """Watched services that could carry the alert, with how often each would."""
    svc = system.services
    if plan.kind == "none":
        pool = {plan.focus, *system.ancestors(plan.focus)}
        own = plan.focus
    elif plan.family == "noisy_neighbour":
        node = svc[plan.target].node
        victims = {m for m in system.nodes()[node] if svc[m].role in ("app", "edge", "worker")}
        pool = set(victims)
        for v in victims:
            pool |= set(system.ancestors(v))
        own = ""
    elif plan.kind == "traffic":
        pool, own = {plan.target, *_downstream(system, plan.target)}, plan.target
    else:
        pool, own = {plan.target, *system.ancestors(plan.target)}, plan.target
    weights = {}
    for name in pool:
        role = svc[name].role
        if role in ("batch", "external"):
            continue
        weights[name] = (
            3.0
            if role == "edge"
            else 1.5
            if name == own
            else 0.7
            if role in ("db", "cache", "queue", "search")
            else 2.0
        )
    return weights


def choose_alert(
    system: System, plan: Plan, r: Rendered, rng: np.random.Generator, t0: float, n: int
) -> dict[str, Any] | None:
    oi = plan.onset // r.step
    scrape = r.step * DT
    last = min(oi + int(30 * 60 / scrape), int((n * DT - 16 * 60) / scrape))
    options: list[tuple[str, str, float, float, np.ndarray]] = []
    weights: list[float] = []
    for name, w in sorted(_candidates(system, plan).items()):
        for signal in ("latency", "errors", "saturation"):
            y = rule_series(r, name, signal)
            if y is None:
                continue
            base = y[12:oi]
            base_max = float(np.nanmax(base))
            post = y[oi:last]
            if not np.isfinite(post).any():
                continue
            peak = float(np.nanpercentile(post, 85))
            floor = {"errors": 0.004, "latency": 0.0, "saturation": 200.0}[signal]
            if peak > base_max * 1.3 and peak - base_max > floor:
                options.append((name, signal, base_max, peak, y))
                weights.append(w * (0.4 if signal == "saturation" else 1.0))
    if not options:
        return None
    pick = int(rng.choice(len(options), p=np.array(weights) / sum(weights)))
    name, signal, base_max, peak, y = options[pick]
    hold = int(rng.choice([1, 2, 2, 3, 5]))
    u = float(rng.uniform(0.2, 0.5))
    for hold_try in sorted({hold, 2, 1}, reverse=True):
        if hold_try > hold:
            continue
        for u_try in (u, 0.15, 0.08):
            th = _nice(base_max + u_try * (peak - base_max))
            if th <= base_max:
                continue
            need = int(hold_try * 60 / scrape) + 1
            above = np.nan_to_num(y, nan=-np.inf) >= th
            run = 0
            for i in range(oi, last):
                run = run + 1 if above[i] else 0
                if run >= need:
                    fired = t0 + i * scrape + float(rng.uniform(0, 30))
                    return _alert(system, r, name, signal, th, hold_try, fired, rng)
    return None


def _alert(
    system: System,
    r: Rendered,
    name: str,
    signal: str,
    th: float,
    hold: int,
    fired: float,
    rng: np.random.Generator,
) -> dict[str, Any]:
    alertname = ALERT_NAMES[signal][int(rng.integers(len(ALERT_NAMES[signal])))]
    if signal == "latency":
        metric = r.latency[name]
        q = "p95" if "p95" in metric else "p99"
        shown = f"{th:g}s" if metric.endswith("_seconds") else f"{th:g}ms"
        summary = f"{q} latency of {name} above {shown} for {hold}m"
    elif signal == "errors":
        metric = r.errors[name][0]
        summary = f"5xx ratio of {name} above {th:.2%} for {hold}m"
    else:
        metric = r.lag[name]
        summary = f"consumer group {name} lag above {th:.0f} messages for {hold}m"
    severity = str(rng.choice(["critical", "critical", "warning", "page"]))
    alert: dict[str, Any] = {
        "name": alertname,
        "service": name,
        "signal": signal,
        "severity": severity,
        "fired_at": iso(fired),
        "summary": summary,
        "labels": {
            "alertname": alertname,
            "severity": severity,
            "namespace": system.namespace,
            "team": system.team,
            "service": name,
            "prometheus": "monitoring/k8s",
            "for": f"{hold}m",
        },
    }
    if rng.random() < 0.5:
        alert["metric"] = metric
    return alert


def write_case(
    path: Path, rng: np.random.Generator, *, family: str, system_index: int, case_id: str
) -> None:
    system = SYSTEMS[system_index]
    # Draws that fire no alert are redrawn; a seed whose first draws fire is unchanged by
    # how many more are allowed (seed 23 needed more than 8 for a control).
    for _ in range(DRAWS):
        p = draw_params(system, rng)
        # an hour of 15 s scrapes, or up to two hours of 30 s ones: either keeps a case ~3 MB
        history = float(rng.uniform(60, 65) if rng.random() < 0.5 else rng.uniform(66, 120))
        onset = int(history * 60 / DT)
        n = onset + int(50 * 60 / DT)
        fx = Effects(n)
        plan = (
            control(system, fx, rng, onset)
            if family == "control"
            else inject(family, system, p, fx, rng, onset)
        )
        events = plan.events + background(system, p, fx, rng, onset, plan)
        start = float(
            int(datetime(2025, 1, 6, tzinfo=UTC).timestamp())
            + int(rng.integers(0, 300)) * 86400
            + int(rng.integers(0, 5760)) * 15
        )
        hour0 = (start % 86400) / 3600
        st = simulate(system, p, fx, rng, hour0)
        # 15 s scrapes where the window is short enough to keep the case small, else 30 s
        step = 1 if history < 66 else 2
        r = render(system, st, rng, step, throttle_metrics=bool(rng.random() < 0.4))
        alert = choose_alert(system, plan, r, rng, start, n)
        if alert is not None:
            break
    else:
        raise RuntimeError(f"{path.name}: no alert fires for {family} after {DRAWS} draws")
    fired = datetime.fromisoformat(alert["fired_at"].replace("Z", "+00:00")).timestamp()
    end = fired + float(rng.uniform(5, 15)) * 60
    n_keep = min(n, int((end - start) / DT) + 1)
    end = start + (n_keep - 1) * DT
    path.mkdir(parents=True, exist_ok=True)
    _write_metrics(path / "metrics.csv", r, start, end)
    dark: set[str] = set()
    if rng.random() < 0.25:
        spare = [
            x
            for x, s in system.services.items()
            if s.role == "app" and x not in {plan.target, alert["service"], *plan.also}
        ]
        dark = {spare[int(rng.integers(len(spare)))]}
    write_logs(
        path / "logs.jsonl",
        system,
        st,
        p,
        plan,
        rng,
        start,
        n_keep,
        adversarial=bool(rng.random() < 0.35),
    )
    # the trace export covers the last hour or so (trace stores are queried for less)
    first = max(0, onset - int(rng.uniform(20, 35) * 60 / DT))
    write_traces(
        path / "traces.jsonl",
        system,
        st,
        p,
        rng,
        start,
        first,
        n_keep,
        keep_per_min=int(rng.integers(4, 7)),
        dark=dark,
        otel=bool(rng.random() < 0.35),
        drop=0.06 if rng.random() < 0.25 else 0.0,
    )
    events += _restart_events(system, st, rng)
    _write_events(path / "events.jsonl", events, start, n_keep)
    case: dict[str, Any] = {
        "id": case_id,
        "alert": alert,
        "window": {"start": iso(start), "end": iso(end)},
    }
    edges = [{"caller": e.caller, "callee": e.callee} for e in system.edges]
    shape = rng.random()
    if shape < 0.17:
        pass  # no topology: whoever set up the integration never wired the service map
    elif shape < 0.34:
        keep = rng.random(len(edges)) < rng.uniform(0.4, 0.7)
        case["topology"] = [e for e, k in zip(edges, keep, strict=True) if k]
    else:
        case["topology"] = edges
    (path / "case.json").write_text(json.dumps(case, indent=2) + "\n")
    truth = {
        "root_cause": {"service": plan.target, "kind": plan.kind},
        "also_correct": plan.also,
        "notes": plan.notes + f"; system={system.name}",
    }
    (path / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")


def _write_metrics(path: Path, r: Rendered, start: float, end: float) -> None:
    scrape = r.step * DT
    keys = sorted(r.series)
    count = int((end - start) / scrape) + 1
    with path.open("w", encoding="utf-8") as f:
        f.write("timestamp,service,metric,value\n")
        for i in range(count):
            ts = int(start + i * scrape)
            for svc, metric in keys:
                v = r.series[(svc, metric)][i]
                if np.isfinite(v):
                    f.write(f"{ts},{svc},{metric},{v:.5g}\n")


def _restart_events(system: System, st: State, rng: np.random.Generator) -> list[Event]:
    out = []
    for k, (svc, step, reason) in enumerate(st.restarts):
        pod = f"{svc}-{int(rng.integers(16**9)):09x}"[: len(svc) + 10]
        out.append(
            Event(
                step,
                svc,
                "restart",
                f"Container {svc} in pod {pod} terminated: {reason} (exit code 137), restarting",
                {"restart_count": k + 1},
            )
        )
        if k >= 2:
            out.append(
                Event(
                    step + 1,
                    svc,
                    "k8s",
                    f"Back-off restarting failed container {svc} in pod {pod}",
                    {"reason": "BackOff"},
                )
            )
    return out


def _write_events(path: Path, events: list[Event], start: float, n_keep: int) -> None:
    rows = []
    for e in events:
        if 0 <= e.step < n_keep:
            rows.append(
                {
                    "ts": iso(start + e.step * DT + 7),
                    "service": e.service,
                    "kind": e.kind,
                    "summary": e.summary,
                    **e.extra,
                }
            )
    if rows:
        rows.sort(key=lambda r: r["ts"])
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
