"""Synthetic incident generator: realistic microservice telemetry with labelled faults.

Deterministic by seed. Each case is a scenario directory (DESIGN.md) with metrics, logs,
traces, change events and `truth.json`. Topologies are layered call graphs of 10–60 services
with datastores and a Kafka broker at the bottom; faults start at a root service and propagate
to every transitive caller with small lags, on top of noise, daily seasonality, unrelated
periodic spikes (cron jobs) and, in some families, loud but unrelated errors elsewhere.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

STEP_S = 30
WINDOW_MIN = 60
NAMES = ["frontend", "checkout", "cart", "catalog", "payments", "orders", "shipping", "users",
         "auth", "search", "recommendations", "inventory", "pricing", "notifications",
         "reviews", "ads", "currency", "email", "fraud", "ledger", "profile", "media",
         "geo", "tax", "loyalty", "billing", "quotes", "sessions", "wishlist", "returns"]
DATASTORES = ["postgres", "redis", "mongo", "elasticsearch"]
FAMILIES = ["cpu", "memory", "disk", "network_delay", "network_loss", "deploy", "config",
            "traffic", "code_error", "payload", "kafka_lag", "db_pool", "cascade"]
BASE_METRICS = ["latency_p99_ms", "error_rate", "requests_per_s", "cpu_usage", "mem_usage",
                "disk_io_util", "net_rtt_ms", "net_retransmits"]


@dataclass
class Topology:
    services: list[str]
    edges: list[tuple[str, str]]
    layer: dict[str, int]
    kind: dict[str, str]  # service | datastore | broker | edge

    def callees(self, s: str) -> list[str]:
        return [b for a, b in self.edges if a == s]

    def callers(self, s: str) -> list[str]:
        return [a for a, b in self.edges if b == s]

    def ancestors(self, s: str) -> dict[str, int]:
        """Transitive callers with their distance."""
        out: dict[str, int] = {}
        frontier = [(s, 0)]
        while frontier:
            node, d = frontier.pop(0)
            for caller in self.callers(node):
                if caller not in out:
                    out[caller] = d + 1
                    frontier.append((caller, d + 1))
        return out

    def descendants(self, s: str) -> set[str]:
        out: set[str] = set()
        stack = [s]
        while stack:
            for callee in self.callees(stack.pop()):
                if callee not in out:
                    out.add(callee)
                    stack.append(callee)
        return out


def make_topology(rng: np.random.Generator, n: int) -> Topology:
    n_store = 3 if n < 25 else 5
    n_svc = n - n_store - 1  # minus the kafka broker
    names: list[str] = []
    for i in range(n_svc):
        base = NAMES[i % len(NAMES)]
        names.append(base if i < len(NAMES) else f"{base}-{i // len(NAMES) + 1}")
    layers = max(3, min(6, n_svc // 5))
    layer = {names[0]: 0}
    for name in names[1:]:
        layer[name] = int(rng.integers(1, layers))
    stores = [DATASTORES[i % len(DATASTORES)] + ("" if i < len(DATASTORES) else f"-{i}")
              for i in range(n_store)]
    kind = {s: "service" for s in names} | {s: "datastore" for s in stores} | {"kafka": "broker"}
    kind[names[0]] = "edge"
    for s in stores:
        layer[s] = layers
    layer["kafka"] = layers
    edges: set[tuple[str, str]] = set()
    by_layer: dict[int, list[str]] = {}
    for s, layer_no in layer.items():
        by_layer.setdefault(layer_no, []).append(s)
    for s in names:
        deeper = [c for c in layer if layer[c] > layer[s] and kind[c] == "service"]
        k = int(rng.integers(1, 4))
        for c in rng.choice(deeper, size=min(k, len(deeper)), replace=False) if deeper else []:
            edges.add((s, str(c)))
        if kind[s] == "service" and rng.random() < 0.45:
            edges.add((s, str(rng.choice(stores))))
    # Everyone below the edge is reachable: attach orphans to a shallower service.
    for s in [*names[1:], *stores]:
        if not any(b == s for _, b in edges):
            shallower = [c for c in names if layer[c] < layer[s]]
            edges.add((str(rng.choice(shallower)), s))
    producers = [s for s in names[1:] if layer[s] <= 2][:2] or names[1:2]
    consumers = [s for s in names[1:] if layer[s] >= 2 and s not in producers][:2] or names[-1:]
    for s in producers + consumers:
        edges.add((s, "kafka"))
    return Topology(names + stores + ["kafka"], sorted(edges), layer, kind)


@dataclass
class Signals:
    """Per-service metric arrays under construction, plus logs and events."""

    t: np.ndarray
    values: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    logs: list[dict[str, object]] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)

    def ramp(self, start: float, seconds: float = 60.0) -> np.ndarray:
        """0 before `start`, rising to 1 over `seconds`."""
        return np.clip((self.t - start) / max(seconds, 1.0), 0.0, 1.0)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CaseBuilder:
    def __init__(self, seed: int, index: int, *, services: int | None = None,
                 window_min: int = WINDOW_MIN) -> None:
        self.rng = np.random.default_rng([seed, index])
        self.index = index
        drawn = int(self.rng.integers(10, 61))
        self.n = services or drawn
        self.window_min = window_min
        self.topo = make_topology(self.rng, self.n)
        day = int(self.rng.integers(0, 300))
        self.t0 = datetime(2025, 1, 1, tzinfo=UTC).timestamp() + day * 86400 + int(
            self.rng.integers(0, 86400 - 3600 * 2))
        self.t = self.t0 + np.arange(0, window_min * 60, STEP_S, dtype=float)
        self.sig = Signals(self.t)
        self.levels: dict[str, dict[str, float]] = {}
        self._baseline()

    # ---- normal operation ---------------------------------------------------------------------

    def _baseline(self) -> None:
        rng, t = self.rng, self.t
        season = np.sin(2 * math.pi * (t % 86400) / 86400 + rng.uniform(0, 2 * math.pi))
        for s in self.topo.services:
            lv = {"latency_p99_ms": rng.uniform(20, 300), "error_rate": rng.uniform(0.0005, 0.01),
                  "requests_per_s": rng.uniform(20, 800), "cpu_usage": rng.uniform(10, 55),
                  "mem_usage": rng.uniform(25, 65), "disk_io_util": rng.uniform(3, 30),
                  "net_rtt_ms": rng.uniform(0.3, 2.0), "net_retransmits": rng.uniform(0.5, 5)}
            self.levels[s] = lv
            amp = rng.uniform(0.03, 0.12)
            for metric, level in lv.items():
                noise = rng.normal(0, rng.uniform(0.03, 0.07) * level, t.size)
                seasonal = 1 + amp * season if metric in ("requests_per_s", "cpu_usage",
                                                          "latency_p99_ms") else 1
                self.sig.values[(s, metric)] = np.maximum(level * seasonal + noise, 0)
            if self.topo.kind[s] == "broker":
                self.sig.values[(s, "latency_commit_ms")] = np.maximum(
                    rng.normal(8, 0.8, t.size), 0)
        # Unrelated periodic spikes: cron jobs burning CPU on a few services.
        for s in rng.choice(self.topo.services, size=min(3, len(self.topo.services)),
                            replace=False):
            period = int(rng.integers(16, 30))
            phase = int(rng.integers(0, period))
            spikes = np.zeros(t.size)
            spikes[phase::period] = 1
            self.sig.values[(str(s), "cpu_usage")] += spikes * rng.uniform(25, 40)
        # Background error logs: a few known, recurring messages.
        for s in self.topo.services:
            if self.topo.kind[s] != "service" or rng.random() < 0.5:
                continue
            for ts in self._poisson(t[0], t[-1], rate_per_min=rng.uniform(0.1, 0.6)):
                self.log(ts, s, "error", str(rng.choice([
                    f"upstream connect error to {s}-backend: timeout after 1500ms",
                    "request cancelled by client", "cache miss storm for key user:4411",
                    "retrying idempotent request attempt=2"])))

    def _poisson(self, start: float, end: float, *, rate_per_min: float) -> list[float]:
        count = int(self.rng.poisson(rate_per_min * (end - start) / 60))
        return sorted(float(x) for x in self.rng.uniform(start, end, count))

    def log(self, ts: float, service: str, level: str, message: str, **attrs: object) -> None:
        self.sig.logs.append({"ts": _iso(ts), "service": service, "level": level,
                              "message": message, **attrs})

    def bump(self, service: str, metric: str, delta: np.ndarray) -> None:
        key = (service, metric)
        if key in self.sig.values:
            self.sig.values[key] = np.maximum(self.sig.values[key] + delta, 0)

    def scale(self, service: str, metric: str, factor: np.ndarray) -> None:
        key = (service, metric)
        if key in self.sig.values:
            self.sig.values[key] = self.sig.values[key] * factor

    # ---- propagation --------------------------------------------------------------------------

    def propagate(self, root: str, onset: float, *, latency_x: float, errors: float = 0.0,
                  attenuation: tuple[float, float] = (0.5, 0.9)) -> dict[str, float]:
        """Every transitive caller of `root` slows down (and fails) a little later."""
        onsets = {root: onset}
        frontier = [root]
        extra_latency = {root: self.levels[root]["latency_p99_ms"] * (latency_x - 1)}
        while frontier:
            node = frontier.pop(0)
            for caller in self.topo.callers(node):
                if caller in onsets:
                    continue
                lag = float(self.rng.uniform(0, 60))
                onsets[caller] = onsets[node] + lag
                extra = extra_latency[node] * self.rng.uniform(*attenuation)
                extra_latency[caller] = extra
                ramp = self.sig.ramp(onsets[caller], 60)
                self.bump(caller, "latency_p99_ms", ramp * extra)
                if errors:
                    self.bump(caller, "error_rate", ramp * errors * self.rng.uniform(0.3, 0.8))
                frontier.append(caller)
        return onsets

    # ---- the case -----------------------------------------------------------------------------

    def build(self, family: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        rng = self.rng
        # The fault lands in the second half of the window, as an alert would find it.
        fault_at = float(self.t0 + (self.window_min - rng.uniform(20, 32)) * 60)
        if family is None:
            return self._control(fault_at)
        inject: Callable[[float], tuple[str, str, str, str, list[str]]] = getattr(
            self, f"_fault_{family}")
        root, kind, alert_service, signal, also = inject(fault_at)
        fired = fault_at + float(rng.uniform(3, 7)) * 60
        name = {"latency": "HighLatency", "errors": "HighErrorRate",
                "availability": "ServiceUnavailable", "saturation": "KafkaConsumerLag",
                "throughput": "TrafficAnomaly"}[signal]
        case = self._case(alert_service, signal, name, fired)
        truth = {"root_cause": {"service": root, "kind": kind}, "also_correct": also,
                 "notes": f"family={family}; fault injected at {_iso(fault_at)}"}
        return case, truth

    def _case(self, service: str, signal: str, name: str, fired: float) -> dict[str, object]:
        metric = {"latency": "p99 latency", "errors": "error rate",
                  "availability": "availability", "saturation": "consumer lag",
                  "throughput": "request rate"}[signal]
        show_topology = self.rng.random() < 0.7
        return {
            "id": f"syn-{self.index:04d}-{int(self.rng.integers(10**9)):09d}",
            "alert": {"name": name, "service": service, "signal": signal,
                      "severity": str(self.rng.choice(["critical", "high", "warning"])),
                      "fired_at": _iso(fired), "summary": f"{metric} of {service} is abnormal",
                      "labels": {"service": service}},
            "window": {"start": _iso(self.t[0]), "end": _iso(min(fired + 600, self.t[-1]))},
            "topology": ([{"caller": a, "callee": b} for a, b in self.topo.edges]
                         if show_topology else []),
        }

    def _alert_on(self, root: str, max_hops: int = 3) -> str:
        ancestors = [a for a, d in self.topo.ancestors(root).items() if d <= max_hops]
        if not ancestors or self.rng.random() < 0.15:
            return root
        return str(self.rng.choice(sorted(ancestors)))

    def _pick_service(self, *, min_layer: int = 1) -> str:
        pool = [s for s in self.topo.services if self.topo.kind[s] == "service"
                and self.topo.layer[s] >= min_layer and self.topo.callers(s)]
        return str(self.rng.choice(pool))

    def _control(self, fired: float) -> tuple[dict[str, Any], dict[str, Any]]:
        service = self._pick_service(min_layer=0)
        signal = str(self.rng.choice(["latency", "errors"]))
        metric = "latency_p99_ms" if signal == "latency" else "error_rate"
        # A noisy alert: one or two samples over a threshold, nothing behind them.
        i = int(np.searchsorted(self.t, fired)) - 1
        width = int(self.rng.integers(1, 3))
        self.sig.values[(service, metric)][i - width + 1: i + 1] *= self.rng.uniform(1.6, 2.2)
        case = self._case(service, signal, "HighLatency" if signal == "latency" else
                          "HighErrorRate", fired)
        return case, {"root_cause": {"service": "", "kind": "none"}, "also_correct": [],
                      "notes": "control: noisy alert, no fault"}

    def _resource(self, at: float, metric: str, target: float, kind: str,
                  latency_x: float) -> tuple[str, str, str, str, list[str]]:
        root = self._pick_service()
        ramp = self.sig.ramp(at, float(self.rng.uniform(30, 120)))
        level = self.levels[root][metric]
        self.bump(root, metric, ramp * (target - level))
        self.bump(root, "latency_p99_ms", self.sig.ramp(at + 30, 60)
                  * self.levels[root]["latency_p99_ms"] * (latency_x - 1))
        self.propagate(root, at + 30, latency_x=latency_x)
        return root, kind, self._alert_on(root), "latency", []

    def _fault_cpu(self, at: float) -> tuple[str, str, str, str, list[str]]:
        return self._resource(at, "cpu_usage", float(self.rng.uniform(88, 99)), "cpu",
                              float(self.rng.uniform(2.5, 5)))

    def _fault_disk(self, at: float) -> tuple[str, str, str, str, list[str]]:
        return self._resource(at, "disk_io_util", float(self.rng.uniform(92, 100)), "disk",
                              float(self.rng.uniform(2.5, 5)))

    def _fault_memory(self, at: float) -> tuple[str, str, str, str, list[str]]:
        root = self._pick_service()
        leak_start = at - float(self.rng.uniform(6, 15)) * 60
        level = self.levels[root]["mem_usage"]
        self.bump(root, "mem_usage", self.sig.ramp(leak_start, at - leak_start + 120)
                  * (97 - level))
        self.bump(root, "cpu_usage", self.sig.ramp(at, 60) * 12)  # GC
        self.bump(root, "latency_p99_ms", self.sig.ramp(at, 60)
                  * self.levels[root]["latency_p99_ms"] * 3)
        self.propagate(root, at, latency_x=4)
        return root, "memory", self._alert_on(root), "latency", []

    def _fault_network_delay(self, at: float) -> tuple[str, str, str, str, list[str]]:
        root = self._pick_service()
        self.bump(root, "net_rtt_ms", self.sig.ramp(at, 30) * float(self.rng.uniform(40, 150)))
        self.bump(root, "latency_p99_ms", self.sig.ramp(at, 30) * float(self.rng.uniform(
            80, 200)))
        self.propagate(root, at + 15, latency_x=float(self.rng.uniform(2.5, 4)))
        return root, "network_delay", self._alert_on(root), "latency", []

    def _fault_network_loss(self, at: float) -> tuple[str, str, str, str, list[str]]:
        root = self._pick_service()
        self.bump(root, "net_retransmits", self.sig.ramp(at, 30) * float(self.rng.uniform(
            60, 200)))
        self.bump(root, "error_rate", self.sig.ramp(at, 30) * 0.05)
        self.propagate(root, at + 15, latency_x=2.5, errors=0.08)
        return root, "network_loss", self._alert_on(root), "errors", []

    def _change(self, at: float, kind: str) -> tuple[str, str, str, str, list[str]]:
        root = self._pick_service()
        version = f"v{self.rng.integers(1, 9)}.{self.rng.integers(0, 40)}.{self.rng.integers(0, 9)}"
        summary = (f"deployed {root} {version}" if kind == "deploy"
                   else f"changed {root} config: max_connections 200 -> 20")
        self.sig.events.append({"ts": _iso(at - float(self.rng.uniform(30, 150))),
                                "service": root, "kind": kind, "summary": summary})
        self.bump(root, "error_rate", self.sig.ramp(at, 60) * float(self.rng.uniform(0.08, 0.3)))
        self.bump(root, "latency_p99_ms", self.sig.ramp(at, 60) * self.levels[root][
            "latency_p99_ms"] * 0.8)
        message = ("NullPointerException in OrderMapper.toDto line 88" if kind == "deploy"
                   else "connection pool exhausted: max_connections=20")
        for ts in self._poisson(at, self.t[-1], rate_per_min=float(self.rng.uniform(8, 25))):
            self.log(ts, root, "error", message, trace_id=f"{self.rng.integers(10**12):x}")
        self.propagate(root, at + 20, latency_x=1.8, errors=0.1)
        # Unrelated noise: another service deployed quietly an hour earlier.
        other = self._pick_service(min_layer=0)
        self.sig.events.append({"ts": _iso(self.t[0] + 300), "service": other, "kind": "deploy",
                                "summary": f"deployed {other} (routine)"})
        return root, kind, self._alert_on(root), "errors", []

    def _fault_deploy(self, at: float) -> tuple[str, str, str, str, list[str]]:
        return self._change(at, "deploy")

    def _fault_config(self, at: float) -> tuple[str, str, str, str, list[str]]:
        return self._change(at, "config")

    def _fault_code_error(self, at: float) -> tuple[str, str, str, str, list[str]]:
        root = self._pick_service()
        self.bump(root, "error_rate", self.sig.ramp(at, 60) * float(self.rng.uniform(0.05, 0.25)))
        for ts in self._poisson(at, self.t[-1], rate_per_min=float(self.rng.uniform(10, 30))):
            self.log(ts, root, "error", f"KeyError: 'currency' in PriceFormatter.render "
                     f"(order {int(self.rng.integers(10**6))})")
        self.propagate(root, at + 20, latency_x=1.3, errors=0.08)
        return root, "code_error", self._alert_on(root), "errors", []

    def _fault_traffic(self, at: float) -> tuple[str, str, str, str, list[str]]:
        edge = self.topo.services[0]
        factor = float(self.rng.uniform(2.5, 4.0))
        ramp = self.sig.ramp(at, 90)
        self.scale(edge, "requests_per_s", 1 + ramp * (factor - 1))
        hot = None
        for s in sorted(self.topo.descendants(edge)):
            share = float(self.rng.uniform(0.4, 0.9))
            lag_ramp = self.sig.ramp(at + float(self.rng.uniform(0, 40)), 90)
            self.scale(s, "requests_per_s", 1 + lag_ramp * (factor - 1) * share)
            self.bump(s, "cpu_usage", lag_ramp * min(40.0, self.levels[s]["cpu_usage"]
                                                     * (factor - 1) * share * 0.5))
            if hot is None and self.topo.kind[s] == "service" and self.topo.layer[s] >= 1:
                hot = s
        hot = hot or edge
        self.bump(hot, "latency_p99_ms", self.sig.ramp(at + 60, 60) * self.levels[hot][
            "latency_p99_ms"] * 2)
        self.propagate(hot, at + 60, latency_x=2.5)
        alert = str(self.rng.choice([edge, hot]))
        return edge, "traffic", alert, "latency", []

    def _fault_payload(self, at: float) -> tuple[str, str, str, str, list[str]]:
        root = self._pick_service()
        self.sig.values[(root, "request_payload_bytes")] = np.maximum(
            self.rng.normal(2048, 150, self.t.size), 0)
        start = at - float(self.rng.uniform(2, 5)) * 60
        self.bump(root, "request_payload_bytes", self.sig.ramp(start, 60)
                  * float(self.rng.uniform(40_000, 400_000)))
        # Memory climbs with every large payload until the pod is OOM-killed, again and again.
        level = self.levels[root]["mem_usage"]
        saw = ((self.t - at) % 240) / 240
        self.bump(root, "mem_usage", (self.t >= at) * saw * (99 - level))
        for k, ts in enumerate(np.arange(at + 240, self.t[-1], 240)):
            self.sig.events.append({"ts": _iso(float(ts)), "service": root, "kind": "restart",
                                    "summary": f"pod {root}-7d9f-{k} OOMKilled (exit 137)"})
        self.bump(root, "error_rate", self.sig.ramp(at + 240, 30) * 0.2)
        for ts in self._poisson(at + 240, self.t[-1], rate_per_min=6):
            self.log(ts, root, "error", "upstream prematurely closed connection while reading")
        self.propagate(root, at + 240, latency_x=2.0, errors=0.1)
        return root, "payload", self._alert_on(root, 1), "errors", []

    def _fault_kafka_lag(self, at: float) -> tuple[str, str, str, str, list[str]]:
        consumers = [s for s in self.topo.callers("kafka") if self.topo.layer[s] >= 2]
        consumer = consumers[0] if consumers else self.topo.callers("kafka")[-1]
        self.bump("kafka", "latency_commit_ms", self.sig.ramp(at, 60) * float(self.rng.uniform(
            80, 300)))
        self.bump("kafka", "disk_io_util", self.sig.ramp(at - 30, 60) * 70)
        lag = np.maximum(self.rng.normal(120, 15, self.t.size), 0)
        lag += self.sig.ramp(at + 90, 600) * float(self.rng.uniform(20_000, 80_000))
        self.sig.values[(consumer, "consumer_lag")] = lag
        # Loud but unrelated: an upstream service throws errors at the same time.
        loud = self.topo.services[0]
        self.bump(loud, "error_rate", self.sig.ramp(at - 60, 30) * 0.4)
        for ts in self._poisson(at - 60, self.t[-1], rate_per_min=60):
            self.log(ts, loud, "error", "HTTP 502 from partner API /v2/quotes")
        return "kafka", "disk", consumer, "saturation", []

    def _fault_db_pool(self, at: float) -> tuple[str, str, str, str, list[str]]:
        users = [a for a, b in self.topo.edges if b == "postgres" and self.topo.callers(a)]
        service = users[0] if users else self._pick_service()
        if not users:
            self.topo.edges.append((service, "postgres"))
        self.bump("postgres", "latency_p99_ms", self.sig.ramp(at, 60) * float(self.rng.uniform(
            400, 1500)))
        pool = np.minimum(np.maximum(self.rng.normal(12, 2, self.t.size), 0)
                          + self.sig.ramp(at + 30, 90) * 60, 64)
        self.sig.values[(service, "db_pool_in_use")] = pool
        for ts in self._poisson(at + 60, self.t[-1], rate_per_min=12):
            self.log(ts, service, "error", "timeout acquiring connection from pool after 5000ms")
        self.bump(service, "error_rate", self.sig.ramp(at + 60, 60) * 0.1)
        self.propagate("postgres", at, latency_x=4, errors=0.05)
        return "postgres", "dependency", self._alert_on(service, 2), "latency", []

    def _fault_cascade(self, at: float) -> tuple[str, str, str, str, list[str]]:
        deep = [s for s in self.topo.services if self.topo.kind[s] == "service"
                and max(self.topo.ancestors(s).values(), default=0) >= 3]
        root = str(self.rng.choice(deep)) if deep else self._pick_service()
        self.bump(root, "latency_p99_ms", self.sig.ramp(at, 60) * self.levels[root][
            "latency_p99_ms"] * float(self.rng.uniform(6, 12)))
        self.propagate(root, at, latency_x=8, errors=0.12, attenuation=(0.7, 0.95))
        far = [a for a, d in self.topo.ancestors(root).items() if d >= 3]
        alert = str(self.rng.choice(sorted(far))) if far else self._alert_on(root)
        return root, "dependency", alert, "errors", []


def _traces(builder: CaseBuilder, count: int) -> list[dict[str, object]]:
    """Sampled request traces down the call graph (so topology can be learned from them)."""
    rng, topo = builder.rng, builder.topo
    spans: list[dict[str, object]] = []
    for n in range(count):
        ts = float(rng.uniform(builder.t[0], builder.t[-1]))
        i = min(int((ts - builder.t[0]) // STEP_S), builder.t.size - 1)
        trace_id = f"{n:04x}{int(rng.integers(10**12)):012x}"
        stack: list[tuple[str, str | None, float]] = [(topo.services[0], None, ts)]
        counter = 0
        while stack and counter < 40:
            service, parent, start = stack.pop()
            counter += 1
            span_id = f"{counter:08x}"
            latency = float(builder.sig.values[(service, "latency_p99_ms")][i]) * 0.6
            errors = float(builder.sig.values[(service, "error_rate")][i])
            spans.append({"trace_id": trace_id, "span_id": span_id, "parent_id": parent,
                          "service": service, "operation": f"{service}.handle",
                          "start": _iso(start), "duration_ms": round(latency, 2),
                          "status": "error" if rng.random() < errors else "ok"})
            for callee in topo.callees(service):
                if rng.random() < 0.6:
                    stack.append((callee, span_id, start + 0.001))
    return spans


def generate_case(seed: int, index: int, family: str | None, out: Path, *,
                  services: int | None = None, window_min: int = WINDOW_MIN,
                  traces: int = 60) -> Path:
    builder = CaseBuilder(seed, index, services=services, window_min=window_min)
    case, truth = builder.build(family)
    out.mkdir(parents=True, exist_ok=True)
    (out / "case.json").write_text(json.dumps(case, indent=1))
    (out / "truth.json").write_text(json.dumps(truth, indent=1))
    stamps = [_iso(x) for x in builder.t]
    with (out / "metrics.csv").open("w") as handle:
        handle.write("timestamp,service,metric,value\n")
        for (service, metric), values in sorted(builder.sig.values.items()):
            gaps = builder.rng.random(values.size) < 0.01  # scrape gaps
            handle.writelines(f"{stamp},{service},{metric},{'' if gap else f'{value:.4g}'}\n"
                              for stamp, value, gap in zip(stamps, values, gaps, strict=True))
    logs = sorted(builder.sig.logs, key=lambda item: str(item["ts"]))
    (out / "logs.jsonl").write_text("".join(json.dumps(line) + "\n" for line in logs))
    (out / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in builder.sig.events))
    (out / "traces.jsonl").write_text("".join(json.dumps(s) + "\n"
                                              for s in _traces(builder, traces)))
    return out


def plan(count: int) -> list[str | None]:
    """Fault families in round-robin, with at least 10% control cases (None)."""
    controls = max(1, math.ceil(count * 0.12))
    faults = count - controls
    order: list[str | None] = [FAMILIES[i % len(FAMILIES)] for i in range(faults)]
    step = count / controls
    for k in range(controls):
        order.insert(min(int(k * step), len(order)), None)
    return order[:count]


def generate_suite(out: Path, *, seed: int = 7, count: int = 130) -> list[Path]:
    """Write `count` cases under `out` (reused if already generated with the same seed)."""
    stamp = out / ".generated"
    wanted = json.dumps({"seed": seed, "count": count, "version": 2})
    if stamp.is_file() and stamp.read_text() == wanted:
        return sorted(p for p in out.iterdir() if p.is_dir())
    paths = [generate_case(seed, i, family, out / f"case-{i:04d}")
             for i, family in enumerate(plan(count))]
    stamp.write_text(wanted)
    return paths
