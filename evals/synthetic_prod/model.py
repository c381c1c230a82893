"""A coarse queueing model of one system over time, on a 15 s grid.

Why a model instead of painting symptoms onto series: in production a fault's footprint is
the system's response to it. Latency adds along the call path, errors propagate through
callers but retries and fallbacks hide some, callers' timeouts turn a slow callee into
errors, a saturated CPU queues requests, a node shared with a CPU hog slows its other pods,
a leaking heap ends in OOM kills and restarts. Faults (faults.py) and background activity
only perturb a service's *own* behaviour through `Effects`; everything users and callers
see is derived here, so a case's symptoms are consistent across metrics, logs and traces.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from evals.synthetic_prod.systems import APP_ROLES, System

DT = 15.0  # seconds per model step (the finest scrape interval we write)


def ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    """Autocorrelated noise with stationary std `sd` (load and latency wander, not jitter)."""
    eps = rng.normal(0.0, sd * np.sqrt(1 - phi * phi), n)
    out = np.empty(n)
    x = rng.normal(0.0, sd)
    for k in range(n):
        x = phi * x + eps[k]
        out[k] = x
    return out


def shift(a: np.ndarray, k: int) -> np.ndarray:
    """`a` delayed by k steps: a caller feels its callee's trouble a little later (queues
    fill, retries pile up, connection pools drain)."""
    if k <= 0:
        return a
    return np.concatenate([np.full(k, a[0]), a[:-k]])


@dataclass
class Params:
    """Per-case draws for every service; independent of the fault."""

    lat: dict[str, float] = field(default_factory=dict)
    tail: dict[str, float] = field(default_factory=dict)
    cpu_limit: dict[str, float] = field(default_factory=dict)
    rho0: dict[str, float] = field(default_factory=dict)
    mem_base: dict[str, float] = field(default_factory=dict)
    mem_limit: dict[str, float] = field(default_factory=dict)
    err_base: dict[str, float] = field(default_factory=dict)
    lag: dict[tuple[str, str], int] = field(default_factory=dict)
    timeout_ms: dict[tuple[str, str], float] = field(default_factory=dict)
    node_cores: dict[str, float] = field(default_factory=dict)
    disk_bytes: dict[str, float] = field(default_factory=dict)


def draw_params(system: System, rng: np.random.Generator) -> Params:
    p = Params()
    for name, s in system.services.items():
        p.lat[name] = s.lat_ms * float(rng.lognormal(0, 0.2)) if s.lat_ms else 0.0
        p.tail[name] = float(rng.uniform(*{"db": (4, 8), "external": (3, 6)}.get(s.role, (2.5, 5))))
        p.cpu_limit[name] = float(
            rng.choice([1, 2, 2, 4])
            if s.role in APP_ROLES
            else rng.choice([4, 8])
            if s.role in ("db", "queue", "search")
            else 2
            if s.role == "cache"
            else 16
        )
        p.rho0[name] = float(rng.uniform(0.15, 0.42))
        gb = 2**30
        if s.stack == "java":
            base = rng.uniform(0.6, 1.4) * gb
        elif s.role in ("db", "search", "queue"):
            base = rng.uniform(3, 12) * gb
        else:
            base = rng.uniform(0.12, 0.6) * gb
        p.mem_base[name] = float(base)
        p.mem_limit[name] = float(base * rng.uniform(1.5, 2.2))
        p.err_base[name] = float(
            rng.uniform(
                *{"edge": (0.0008, 0.003), "external": (0.002, 0.01)}.get(s.role, (0.0001, 0.0015))
            )
        )
        if s.role in ("db", "queue", "search"):
            p.disk_bytes[name] = float(rng.choice([200, 500, 1000]) * gb)
    for e in system.edges:
        p.lag[(e.caller, e.callee)] = int(rng.integers(0, 3))
        ext = system.services[e.callee].role == "external"
        p.timeout_ms[(e.caller, e.callee)] = float(
            rng.choice([5000, 10000, 15000]) if ext else rng.choice([800, 1000, 2000, 3000])
        )
    for node in system.nodes():
        p.node_cores[node] = float(rng.choice([8, 16]) if node.startswith("node-db") else 8)
    return p


class Effects:
    """Perturbations of services' own behaviour, arrays on the model grid (defaults: none)."""

    MULT = ("traffic", "lat_mult", "tail_mult")
    ADD = (
        "cpu_add",
        "lat_add",
        "err_add",
        "leak",
        "fill",
        "io_add",
        "net_lat",
        "net_err",
        "gc_cpu",
    )

    def __init__(self, n: int) -> None:
        self.n = n
        self.arrays: dict[tuple[str, str], np.ndarray] = {}

    def get(self, what: str, service: str) -> np.ndarray:
        key = (what, service)
        if key not in self.arrays:
            self.arrays[key] = np.ones(self.n) if what in self.MULT else np.zeros(self.n)
        return self.arrays[key]

    def mul(self, what: str, service: str, factor: np.ndarray) -> None:
        self.arrays[(what, service)] = self.get(what, service) * factor

    def add(self, what: str, service: str, amount: np.ndarray) -> None:
        self.arrays[(what, service)] = self.get(what, service) + amount


@dataclass
class State:
    rps: dict[str, np.ndarray]
    cpu: dict[str, np.ndarray]
    throttle: dict[str, np.ndarray]
    mem: dict[str, np.ndarray]
    own_med: dict[str, np.ndarray]
    own_err: dict[str, np.ndarray]
    med: dict[str, np.ndarray]  # what a caller sees: own + callees, incl. network
    p99: dict[str, np.ndarray]
    err: dict[str, np.ndarray]  # share of requests answered with an error
    tmo: dict[tuple[str, str], np.ndarray]  # share of caller->callee calls timing out
    lag: dict[str, np.ndarray]
    conns: dict[str, np.ndarray]
    disk_avail: dict[str, np.ndarray]
    io_util: dict[str, np.ndarray]
    node_cpu: dict[str, np.ndarray]
    node_mem: dict[str, np.ndarray]
    node_retrans: dict[str, np.ndarray]
    restarts: list[tuple[str, int, str]]  # (service, step, reason)
    down: dict[str, np.ndarray]  # bool: no pod to scrape (between OOM kill and ready)
    net_lat: dict[str, np.ndarray] = field(default_factory=dict)  # added on the wire to it
    net_err: dict[str, np.ndarray] = field(default_factory=dict)  # calls to it lost on the wire


def simulate(
    system: System, p: Params, fx: Effects, rng: np.random.Generator, hour0: float
) -> State:
    n = fx.n
    hours = hour0 + np.arange(n) * DT / 3600
    diurnal = 1 + 0.3 * np.sin(2 * np.pi * (hours - 10) / 24)
    names = list(system.services)
    # -- traffic: entering at edges (bursty, diurnal), flowing down the call graph ---------
    entry: dict[str, np.ndarray] = {}
    for name, s in system.services.items():
        if s.base_rps:
            bursts = np.zeros(n)
            for _ in range(rng.poisson(n * DT / 1800)):
                at, width = int(rng.integers(0, n)), rng.uniform(3, 12)
                bursts += rng.uniform(0.15, 0.5) * np.exp(-0.5 * ((np.arange(n) - at) / width) ** 2)
            entry[name] = s.base_rps * diurnal * np.exp(ar1(rng, n, 0.97, 0.07)) * (1 + bursts)
            entry[name] *= fx.get("traffic", name)
    order = system.order()
    rps = {name: entry.get(name, np.zeros(n)).copy() for name in names}
    for name in reversed(order):  # callers first
        for e in system.callees(name):
            rps[e.callee] = rps[e.callee] + rps[name] * e.mult
    for worker, queue in system.consumes.items():
        rps[worker] = rps[worker] + 0.5 * rps[queue]
        for e in system.callees(worker):
            rps[e.callee] = rps[e.callee] + rps[worker] * e.mult
            for e2 in system.callees(e.callee):  # one more level is all our workers need
                rps[e2.callee] = rps[e2.callee] + rps[worker] * e.mult * e2.mult
    for job, store in system.batch_target.items():
        rps[store] = rps[store] + fx.get("cpu_add", job) * 40  # a job's queries load its store
    # -- CPU: demand from load, faults, GC; node contention from co-located pods -----------
    demand: dict[str, np.ndarray] = {}
    for name, s in system.services.items():
        if s.role == "external":
            demand[name] = np.zeros(n)
            continue
        mean = max(float(rps[name][: max(1, n // 3)].mean()), 1e-6)
        base = 0.05 * p.cpu_limit[name]
        per = max(p.rho0[name] * p.cpu_limit[name] - base, 0.02) / mean
        if s.role == "batch":
            base, per = 0.02, 0.0
        demand[name] = (
            (base + per * rps[name]) * np.exp(ar1(rng, n, 0.8, 0.05))
            + fx.get("cpu_add", name)
            + fx.get("gc_cpu", name)
        )
    contention = {}
    node_cpu, node_retrans = {}, {}
    for node, members in system.nodes().items():
        cores = p.node_cores[node]
        sysload = 0.3 + 0.05 * ar1(rng, n, 0.9, 1.0)
        total = sysload + sum(demand[m] for m in members)
        node_cpu[node] = np.clip(total / cores, 0, 1)
        contention[node] = np.clip(total / cores - 0.75, 0, 1.5)
        node_retrans[node] = np.abs(
            2 + 0.002 * sum(rps[m] for m in members) + ar1(rng, n, 0.6, 1.0)
        ) + sum(fx.get("net_err", m) * rps[m] * 8 for m in members)
    cpu, throttle, rho = {}, {}, {}
    for name, s in system.services.items():
        lim = p.cpu_limit[name]
        cpu[name] = np.minimum(demand[name], lim * 0.98)
        throttle[name] = np.clip(demand[name] / lim - 0.9, 0, None)
        cap = lim * (1 - 0.45 * np.minimum(contention.get(s.node, np.zeros(n)), 1))
        rho[name] = demand[name] / np.maximum(cap, 1e-3)
        if s.node in contention and s.role != "batch":
            cpu[name] = np.minimum(cpu[name], cap)
    # -- memory: working set with GC sawtooth; a leak grows it until the OOM killer -------
    mem: dict[str, np.ndarray] = {}
    restarts: list[tuple[str, int, str]] = []
    down = {name: np.zeros(n, dtype=bool) for name in names}
    warm = {name: np.zeros(n) for name in names}  # 1 right after a restart, decaying
    for name, s in system.services.items():
        mem0 = p.mem_base[name] * (1 + 0.03 * ar1(rng, n, 0.99, 1.0))
        if s.stack == "java":
            period = int(rng.integers(4, 16))
            saw = 0.25 * ((np.arange(n) + rng.integers(0, period)) % period) / period
        elif s.stack in ("go", "node"):
            period = int(rng.integers(2, 8))
            saw = 0.08 * ((np.arange(n) + rng.integers(0, period)) % period) / period
        else:
            saw = 0.0 * np.arange(n) + 0.02 * np.arange(n) / n
        leak = fx.get("leak", name)
        m = mem0 * (1 + saw)
        if leak.any():
            grown, limit = 0.0, p.mem_limit[name]
            for k in range(n):
                grown += leak[k]
                m[k] = mem0[k] * (1 + saw[k]) + grown
                if m[k] > limit:
                    restarts.append((name, k, "OOMKilled"))
                    grown = -0.35 * mem0[k]
                    m[k] = 0.6 * mem0[k]
                    gap = int(rng.integers(1, 3))
                    down[name][k : k + gap] = True
                    warm[name][k:] += np.exp(-np.arange(n - k) / 3.0)
            pressure = np.clip((m / limit - 0.8) / 0.2, 0, 1)
            cpu[name] = np.minimum(
                cpu[name] + pressure * 0.6 * p.cpu_limit[name], p.cpu_limit[name]
            )
            fx.mul("lat_mult", name, 1 + 2.5 * pressure**2)
        mem[name] = m
    # -- disks of stateful services ---------------------------------------------------------
    disk_avail, io_util = {}, {}
    for name in p.disk_bytes:
        size = p.disk_bytes[name]
        used0 = rng.uniform(0.45, 0.7)
        used = used0 + 0.0004 * np.arange(n) * DT / 3600 + fx.get("fill", name)
        disk_avail[name] = np.clip(size * (1 - used), size * 0.0005, None)
        io_util[name] = np.clip(
            0.08
            + 0.15 * rps[name] / max(rps[name].mean(), 1e-6) * 0.5
            + 0.02 * ar1(rng, n, 0.8, 1.0)
            + fx.get("io_add", name),
            0,
            1,
        )
    # -- own latency and errors -------------------------------------------------------------
    own_med, own_p99, own_err = {}, {}, {}
    for name, s in system.services.items():
        r = np.clip(rho[name], 0, 3)
        q = (
            1
            + 0.4 * np.minimum(r, 0.95) ** 2 / (1 - np.minimum(r, 0.95))
            + 12 * np.clip(r - 0.95, 0, None)
        )
        q = q * (1 + 2.0 * contention.get(s.node, np.zeros(n)))
        io = 1 + 6 * np.clip(io_util.get(name, np.zeros(n)) - 0.6, 0, None) ** 1.5 * 4
        full = (
            np.clip(1 - disk_avail[name] / (0.02 * p.disk_bytes[name]), 0, 1)
            if name in disk_avail
            else np.zeros(n)
        )
        jitter = np.exp(ar1(rng, n, 0.7, 0.06))
        own_med[name] = p.lat[name] * q * io * jitter * fx.get("lat_mult", name) * (
            1 + 1.5 * warm[name]
        ) + fx.get("lat_add", name)
        own_p99[name] = own_med[name] * p.tail[name] * fx.get("tail_mult", name)
        sat = np.clip((r - 1.05) * 0.4, 0, 0.4)
        own_err[name] = np.clip(
            p.err_base[name]
            + fx.get("err_add", name)
            + sat
            + 0.5 * full
            + np.where(down[name], 0.3, 0)
            + 0.15 * warm[name] * (warm[name] > 0.5),
            0,
            1,
        )
    # -- compose along the call graph, callees first ---------------------------------------
    med: dict[str, np.ndarray] = {}
    p99: dict[str, np.ndarray] = {}
    err: dict[str, np.ndarray] = {}
    tmo: dict[tuple[str, str], np.ndarray] = {}
    for name in order:
        m, q99 = own_med[name].copy(), own_p99[name].copy()
        ok = 1 - own_err[name]
        for e in system.callees(name):
            key = (name, e.callee)
            lag = p.lag[key]
            cmed = shift(med[e.callee] + fx.get("net_lat", e.callee), lag)
            cp99 = shift(p99[e.callee] + 2.2 * fx.get("net_lat", e.callee), lag)
            limit = p.timeout_ms[key]
            # share of calls slower than the caller's timeout: the callee's latency is about
            # log-normal, median cmed and p99 cp99 (logistic approximation of the normal CDF)
            sigma = np.log(np.maximum(cp99 / np.maximum(cmed, 1e-6), 1.01)) / 2.326
            z = (np.log(limit) - np.log(np.maximum(cmed, 1e-6))) / sigma
            t = 1 / (1 + np.exp(np.clip(1.702 * z, -50, 50)))
            t = t + shift(fx.get("net_err", e.callee), lag)
            tmo[key] = np.clip(t, 0, 1)
            w = min(e.mult, 1.5)
            m = m + w * np.minimum(cmed, limit)
            q99 = q99 + 0.8 * w * np.minimum(cp99, limit)
            bad = shift(err[e.callee], lag) * (1 - e.mask) + tmo[key] * (1 - 0.5 * e.mask)
            ok = ok * (1 - min(e.mult, 1.0) * np.clip(bad, 0, 1))
        med[name], p99[name], err[name] = m, np.maximum(q99, m * 1.2), np.clip(1 - ok, 0, 1)
    # -- Kafka consumer lag and database connections ---------------------------------------
    lag_out: dict[str, np.ndarray] = {}
    for worker in system.consumes:
        inflow = rps[worker]
        slow = med[worker] / max(float(np.median(med[worker][: max(1, n // 3)])), 1e-6)
        capacity = (
            inflow[: max(1, n // 3)].mean()
            * rng.uniform(1.6, 2.5)
            / slow
            * (1 - err[worker])
            * ~down[worker]
        )
        backlog, out = 0.0, np.empty(n)
        for k in range(n):
            backlog = max(0.0, backlog + (inflow[k] - capacity[k]) * DT)
            out[k] = backlog
        lag_out[worker] = out + np.abs(40 * ar1(rng, n, 0.5, 1.0)) + 20
    conns = {}
    for name, s in system.services.items():
        if s.role == "db":
            busy = rps[name] * med[name] / 1000 * 3 + 8
            conns[name] = np.minimum(busy, 400.0)
    return State(
        rps,
        cpu,
        throttle,
        mem,
        own_med,
        own_err,
        med,
        p99,
        err,
        tmo,
        lag_out,
        conns,
        disk_avail,
        io_util,
        node_cpu,
        node_mem_avail(system, p, mem, rng, n),
        node_retrans,
        restarts,
        down,
        {x: fx.get("net_lat", x) for x in names},
        {x: fx.get("net_err", x) for x in names},
    )


def node_mem_avail(
    system: System, p: Params, mem: dict[str, np.ndarray], rng: np.random.Generator, n: int
) -> dict[str, np.ndarray]:
    out = {}
    for node, members in system.nodes().items():
        total = p.node_cores[node] * 4 * 2**30  # 4 GiB per core, as general-purpose VMs have
        used = 1.5 * 2**30 + sum(mem[m] for m in members) * 1.1
        out[node] = np.clip(total - used + 2**28 * ar1(rng, n, 0.95, 1.0), 2**27, None)
    return out
