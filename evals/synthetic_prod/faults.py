"""Fault families, no-fault controls, and the background every case has regardless.

A fault only changes its service's own behaviour (model.Effects); the model works out what
callers see. Background activity (cron jobs, unrelated spikes, benign deploys and flag
flips) is drawn for every case, controls included, and never on the culprit's own service,
so that "something changed over there" is as common in a healthy case as in a broken one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evals.synthetic_prod.model import DT, Effects, Params
from evals.synthetic_prod.systems import APP_ROLES, STATEFUL, System

FAMILIES = [
    "cpu",
    "memory",
    "disk",
    "network_delay",
    "network_loss",
    "deploy",
    "config",
    "code_error",
    "dependency",
    "traffic",
    "noisy_neighbour",
    "slow_burn",
]
KIND = {
    "cpu": "cpu",
    "memory": "memory",
    "disk": "disk",
    "network_delay": "network_delay",
    "network_loss": "network_loss",
    "deploy": "deploy",
    "config": "config",
    "code_error": "code_error",
    "dependency": "dependency",
    "traffic": "traffic",
    "noisy_neighbour": "cpu",
}


@dataclass
class Event:
    step: int
    service: str
    kind: str
    summary: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    family: str
    kind: str
    target: str  # the culprit ("" for a control)
    onset: int  # step the fault (or the control's transient) starts
    also: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)  # what logs/traces need to know
    events: list[Event] = field(default_factory=list)
    notes: str = ""
    focus: str = ""  # for controls: where the transient is


def ramp(n: int, onset: int, steps: float) -> np.ndarray:
    """0 before onset, a smooth rise over `steps`, then 1."""
    x = np.clip((np.arange(n) - onset) / max(steps, 1.0), 0, 1)
    return x * x * (3 - 2 * x)


def bump(n: int, start: int, steps: float) -> np.ndarray:
    """A transient: up over a minute, held, back down (a GC storm, a burst, a cron run)."""
    k = np.arange(n)
    up = np.clip((k - start) / 4, 0, 1)
    down = np.clip((start + steps - k) / 4, 0, 1)
    return np.minimum(up, down)


def _pick(rng: np.random.Generator, items: list[str]) -> str:
    return str(items[int(rng.integers(len(items)))])


def _version(rng: np.random.Generator) -> tuple[str, str]:
    major, minor, patch = (
        int(rng.integers(1, 6)),
        int(rng.integers(0, 40)),
        int(rng.integers(0, 12)),
    )
    return f"{major}.{minor}.{patch}", f"{major}.{minor}.{patch + 1 + int(rng.integers(0, 3))}"


def culprit(family: str, system: System, rng: np.random.Generator) -> str:
    svc = system.services
    apps = [n for n, s in svc.items() if s.role == "app" and system.ancestors(n)]
    if family in ("cpu", "deploy", "config", "code_error"):
        return _pick(rng, apps + [n for n, s in svc.items() if s.role == "worker"][:1])
    if family == "memory":
        return _pick(rng, [n for n, s in svc.items() if s.role in APP_ROLES])
    if family == "disk":
        return _pick(rng, [n for n, s in svc.items() if s.role in ("db", "queue", "search")])
    if family in ("network_delay", "network_loss"):
        deep = [
            n
            for n, s in svc.items()
            if s.role not in ("external", "batch", "edge")
            and system.depth(n) >= 2
            and system.depth(n) < 99
        ]
        return _pick(rng, deep)
    if family == "dependency":
        return _pick(
            rng, [n for n, s in svc.items() if s.role == "external" and any(system.ancestors(n))]
        )
    if family == "traffic":
        return _pick(rng, [n for n, s in svc.items() if s.role == "edge"])
    if family == "noisy_neighbour":
        nodes = system.nodes()
        return _pick(
            rng,
            [
                n
                for n, s in svc.items()
                if s.role == "batch" and any(svc[m].role in APP_ROLES for m in nodes[s.node])
            ],
        )
    raise ValueError(family)


def inject(
    family: str, system: System, p: Params, fx: Effects, rng: np.random.Generator, onset: int
) -> Plan:
    n = fx.n
    if family == "slow_burn":
        # one slow burn of each resource across the three systems (the plan puts each
        # family's occurrences on different systems)
        sub = {"payments": "memory", "media": "disk", "dispatch": "cpu"}[system.name]
        target = culprit(sub, system, rng)
        plan = Plan(family, sub, target, onset, detail={"sub": sub})
        minutes = rng.uniform(10, 20)
        _resource(sub, plan, system, p, fx, rng, ramp_steps=minutes * 60 / DT)
        plan.notes = f"family=slow_burn; {sub} on {target} ramping over {minutes:.0f} min"
        return plan
    target = culprit(family, system, rng)
    plan = Plan(family, KIND[family], target, onset)
    s = system.services[target]
    if family in ("cpu", "memory", "disk"):
        _resource(family, plan, system, p, fx, rng, ramp_steps=rng.uniform(2, 8))
    elif family in ("network_delay", "network_loss"):
        r = ramp(n, onset, rng.uniform(1, 3)) * np.exp(0.15 * rng.normal(size=n))
        if family == "network_delay":
            ms = float(rng.uniform(150, 600))
            fx.add("net_lat", target, ms * r)
            fx.add("lat_add", target, ms * r * rng.uniform(0.2, 0.8))  # partly seen server-side
            plan.detail = {"delay_ms": ms}
            plan.notes = f"family=network_delay; +{ms:.0f} ms on {target}'s network"
        else:
            loss = float(rng.uniform(0.1, 0.4))
            fx.add("net_err", target, loss * rng.uniform(0.15, 0.3) * r)
            fx.add("net_lat", target, loss * rng.uniform(150, 400) * r)
            fx.mul("tail_mult", target, 1 + loss * rng.uniform(6, 12) * r)
            plan.detail = {"loss": loss}
            plan.notes = f"family=network_loss; {loss:.0%} packet loss on {target}"
    elif family == "deploy":
        old, new = _version(rng)
        plan.events.append(
            Event(
                onset,
                target,
                "deploy",
                f"Rolled out {target} {new} "
                f"(image registry.internal/{system.namespace}/{target}:{new})",
                {"actor": "argocd", "previous": old, "version": new},
            )
        )
        rollout = ramp(n, onset + int(rng.integers(2, 6)), rng.uniform(4, 12))
        if rng.random() < 0.7:
            fx.add("err_add", target, rng.uniform(0.04, 0.35) * rollout)
            plan.detail = {"version": new, "mode": "errors"}
        else:
            fx.mul("lat_mult", target, 1 + rng.uniform(3, 8) * rollout)
            fx.add("err_add", target, 0.01 * rollout)
            plan.detail = {"version": new, "mode": "slow"}
        plan.notes = f"family=deploy; {target} {old} -> {new} ({plan.detail['mode']})"
    elif family == "config":
        mode = _pick(rng, ["pool", "timeout", "flag"])
        callee = _pick(rng, [e.callee for e in system.callees(target)] or ["upstream"])
        start = onset + int(rng.integers(1, 5))
        r = ramp(n, start, rng.uniform(1, 4))
        if mode == "pool":
            before, after = int(rng.choice([32, 40, 50, 64])), int(rng.choice([2, 4, 5]))
            key = (
                "db.pool.max_size"
                if system.services.get(callee) and system.services[callee].role == "db"
                else "http.client.max_connections"
            )
            fx.mul("lat_mult", target, 1 + rng.uniform(4, 12) * r)
            fx.add("err_add", target, rng.uniform(0.01, 0.06) * r)
        elif mode == "timeout":
            before, after = int(rng.choice([2000, 3000, 5000])), int(rng.choice([50, 80, 100]))
            key = f"clients.{callee}.timeout_ms"
            fx.add("err_add", target, rng.uniform(0.05, 0.3) * r)
        else:
            before, after = 0, 1
            key = _pick(
                rng,
                [
                    "features.enable_v2_pricing",
                    "features.full_history_scan",
                    "features.sync_audit_write",
                ],
            )
            fx.add("cpu_add", target, p.cpu_limit[target] * rng.uniform(0.8, 1.6) * r)
            fx.mul("lat_mult", target, 1 + rng.uniform(1, 3) * r)
        plan.events.append(
            Event(
                onset,
                target,
                "config",
                f"ConfigMap {target}-config updated: {key} {before} -> {after}",
                {"actor": "config-sync"},
            )
        )
        plan.detail = {"mode": mode, "key": key, "before": before, "after": after, "callee": callee}
        plan.notes = f"family=config; {key} {before}->{after} on {target}"
    elif family == "code_error":
        share = float(rng.uniform(0.01, 0.05))
        fx.add(
            "err_add", target, share * ramp(n, onset, 2) * (1 + 0.3 * rng.normal(size=n)).clip(0.3)
        )
        plan.detail = {"share": share, "op": _pick(rng, list(s.ops) or ["handle"])}
        plan.notes = f"family=code_error; unhandled exception on {share:.1%} of {target} requests"
    elif family == "dependency":
        r = ramp(n, onset, rng.uniform(1, 4))
        fx.add("lat_add", target, rng.uniform(3000, 12000) * r)
        fx.add("err_add", target, rng.uniform(0.05, 0.4) * r)
        adapter = [e.caller for e in system.callers(target)]
        plan.also = adapter[:1]
        plan.detail = {"probe_sees_it": bool(rng.random() < 0.5), "host": system.hosts[target]}
        plan.notes = f"family=dependency; third-party {target} timing out; adapter {adapter[0]}"
    elif family == "traffic":
        factor = float(rng.uniform(2.5, 5))
        fx.mul("traffic", target, 1 + (factor - 1) * ramp(n, onset, rng.uniform(3, 10)))
        plan.detail = {"factor": factor, "client": f"partner-{int(rng.integers(100, 999))}"}
        plan.notes = f"family=traffic; x{factor:.1f} requests entering at {target}"
        _scale_events(plan, system, rng, onset)
    elif family == "noisy_neighbour":
        cores = p.node_cores[s.node] * rng.uniform(0.9, 1.4)
        fx.add("cpu_add", target, cores * ramp(n, onset, rng.uniform(2, 6)))
        plan.detail = {"node": s.node, "cores": cores}
        plan.events.append(
            Event(
                onset - 1,
                target,
                "k8s",
                f"Created pod {target}-{int(rng.integers(10**7, 10**8))}-{_suffix(rng)} (CronJob)",
            )
        )
        plan.notes = f"family=noisy_neighbour; {target} burning {cores:.0f} cores on {s.node}"
    return plan


def _resource(
    kind: str,
    plan: Plan,
    system: System,
    p: Params,
    fx: Effects,
    rng: np.random.Generator,
    *,
    ramp_steps: float,
) -> None:
    n, t, onset = fx.n, plan.target, plan.onset
    r = ramp(n, onset, ramp_steps)
    if kind == "cpu":
        factor = rng.uniform(1.0, 2.0)
        fx.add("cpu_add", t, p.cpu_limit[t] * factor * r)
        plan.notes = f"family=cpu; {t} CPU demand +{factor:.0%} of its limit"
    elif kind == "memory":
        head = p.mem_limit[t] - 1.25 * p.mem_base[t]
        fx.add("leak", t, head / ramp_steps * (np.arange(n) >= onset) * rng.uniform(0.8, 1.2))
        plan.notes = f"family=memory; {t} leaking to its limit, OOM kills"
    else:
        host = system.services[t].node
        plan.also = [host]
        if rng.random() < 0.5 or plan.family == "slow_burn":
            fx.add("fill", t, rng.uniform(0.5, 0.6) * r)
            plan.detail["disk"] = "full"
        else:
            fx.add("io_add", t, rng.uniform(0.8, 0.95) * r)
            fx.mul("lat_mult", t, 1 + rng.uniform(2, 6) * r)
            plan.detail["disk"] = "slow"
        plan.notes = f"family=disk; {t} volume {plan.detail['disk']} (host {host})"


def _scale_events(plan: Plan, system: System, rng: np.random.Generator, onset: int) -> None:
    busy = [e.callee for e in system.callees(plan.target)][:3]
    for k, name in enumerate(busy):
        replicas = int(rng.integers(3, 6))
        plan.events.append(
            Event(
                onset + 8 + 3 * k + int(rng.integers(0, 4)),
                name,
                "scale",
                f"HorizontalPodAutoscaler {name}: scaled from {replicas} to "
                f"{replicas + 2} replicas (cpu utilisation above target)",
            )
        )


def _suffix(rng: np.random.Generator) -> str:
    return "".join(str(c) for c in rng.choice(list("bcdfghjklmnpqrstvwxz2456789"), 5))


def control(system: System, fx: Effects, rng: np.random.Generator, onset: int) -> Plan:
    """No fault: a transient that recovers by itself, loud enough to trip an alert."""
    n = fx.n
    mode = _pick(rng, ["latency_blip", "error_blip", "burst"])
    svc = system.services
    width = rng.uniform(14, 26)  # 3.5 to 6.5 minutes
    if mode == "burst":
        focus = _pick(rng, [x for x, s in svc.items() if s.role == "edge"])
        fx.mul("traffic", focus, 1 + rng.uniform(0.8, 1.5) * bump(n, onset, width))
    else:
        focus = _pick(
            rng,
            [
                x
                for x, s in svc.items()
                if (s.role in ("app", "edge", "cache", "db") and system.ancestors(x))
                or s.role == "edge"
            ],
        )
        if mode == "latency_blip":
            fx.mul("lat_mult", focus, 1 + rng.uniform(1.5, 4) * bump(n, onset, width))
        else:
            fx.add("err_add", focus, rng.uniform(0.02, 0.08) * bump(n, onset, width))
    return Plan(
        "control",
        "none",
        "",
        onset,
        focus=focus,
        detail={"mode": mode},
        notes=f"family=control; {mode} at {focus} for {width * DT / 60:.1f} min, "
        f"recovers by itself",
    )


def background(
    system: System, p: Params, fx: Effects, rng: np.random.Generator, onset: int, plan: Plan
) -> list[Event]:
    """Cron jobs, unrelated spikes, benign deploys/flags/restarts, in every case."""
    n, svc, events = fx.n, system.services, []
    for job, store in system.batch_target.items():
        period = int(rng.choice([30, 60])) * 60 / DT
        run, phase = rng.uniform(4, 10) * 60 / DT, rng.uniform(0, period)
        k = np.arange(n)
        on = ((k + phase) % period) < run
        fx.add("cpu_add", job, on * rng.uniform(0.8, 2.5))
        fx.add("io_add", store, on * rng.uniform(0.1, 0.25))
        for start in np.flatnonzero(on[1:] & ~on[:-1]) + 1:
            events.append(
                Event(int(start), job, "k8s", f"Created job {job}-{int(start) * 15 + 28000000}")
            )
    avoid = (
        {plan.target, plan.focus} | set(system.ancestors(plan.target))
        if plan.target
        else {plan.focus}
    )
    quiet = [x for x, s in svc.items() if x not in avoid and s.role in ("app", "worker", "cache")]
    if rng.random() < 0.5 and quiet:
        who, at = _pick(rng, quiet), int(onset + rng.integers(-40, 20))
        if rng.random() < 0.5:
            fx.add(
                "cpu_add",
                who,
                p.cpu_limit[who] * rng.uniform(0.5, 0.9) * bump(n, at, rng.uniform(8, 20)),
            )
        else:
            fx.add("err_add", who, rng.uniform(0.05, 0.25) * bump(n, at, rng.uniform(4, 12)))
    movers = [x for x, s in svc.items() if s.role in APP_ROLES and x != plan.target]
    for _ in range(int(rng.integers(1, 4))):
        who = _pick(rng, movers)
        near = rng.random() < (0.5 if plan.kind == "none" else 0.3)
        at = int(onset - rng.integers(2, 50) if near else rng.integers(5, max(6, onset - 60)))
        old, new = _version(rng)
        events.append(
            Event(
                at,
                who,
                "deploy",
                f"Rolled out {who} {new} (image registry.internal/{system.namespace}/{who}:{new})",
                {
                    "actor": _pick(rng, ["argocd", "spinnaker", "ci-bot"]),
                    "previous": old,
                    "version": new,
                },
            )
        )
    if rng.random() < 0.4:
        who = _pick(rng, movers)
        flags = ["new_checkout_banner", "dark_mode", "beta_search_ranking", "eu_vat_rounding"]
        events.append(
            Event(
                int(rng.integers(5, onset + 10)),
                who,
                "config",
                f"Feature flag {_pick(rng, flags)} set to {int(rng.integers(5, 100))}% for {who}",
                {"actor": "launchdarkly"},
            )
        )
    if rng.random() < 0.3:
        who = _pick(
            rng,
            [x for x, s in svc.items() if s.role in STATEFUL | {"app"} and x not in avoid]
            or movers,
        )
        events.append(
            Event(
                int(rng.integers(5, onset)),
                who,
                "restart",
                f"Container {who} restarted (liveness probe failed, exit code 143)",
            )
        )
    return events
