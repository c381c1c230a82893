"""How load and trouble move through the cluster, step by step.

Traffic flows down the call graph (entry traffic times calls per request, plus retries and
cache misses); latency and errors flow back up (own work slowed by queueing, node
contention, disk and packet loss, plus what each dependency costs, capped by timeouts).
A few passes settle the feedback between them (retries raise load, load raises latency).
Per-pod effects are mixed into the workload the way a load balancer mixes them: one bad pod
of four barely moves the median but owns the p99.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from evals.synthetic_cluster.cluster import STEP, Cluster
from evals.synthetic_cluster.systems import Workload

Z99 = 2.326
# tail probability -> normal quantile, for the share of a caller's requests a callee sees
TAIL_LOG = np.log([0.003, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5])
TAIL_Z = np.array([2.748, 2.576, 2.326, 2.054, 1.645, 1.282, 0.842, 0.0])


def ncdf(x: np.ndarray) -> np.ndarray:
    # Abramowitz-Stegun 7.1.26 erf, good to 1e-7: numpy has no erf and scipy is not allowed.
    z = np.abs(x) / math.sqrt(2)
    t = 1.0 / (1.0 + 0.3275911 * z)
    y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
             + 0.254829592) * t * np.exp(-z * z)
    return np.asarray(0.5 * (1 + np.sign(x) * y))


def ema(x: np.ndarray, steps: float) -> np.ndarray:
    """A lag: a dependency's trouble reaches its caller over `steps` steps, not at once
    (an exponential smoothing, as a truncated kernel so numpy can convolve it)."""
    if steps <= 0:
        return x
    a = 1.0 / (1.0 + steps)
    kernel = a * (1 - a) ** np.arange(int(8 * steps) + 2)
    kernel /= kernel.sum()
    padded = np.concatenate([np.full(len(kernel) - 1, x[0]), x])
    return np.convolve(padded, kernel, mode="valid")


def mixture_quantile(med: np.ndarray, share: np.ndarray, sigma: float, q: float) -> np.ndarray:
    """The q-quantile over time of a mix of lognormals (one per pod, weight `share`)."""
    z = {0.5: 0.0, 0.99: Z99}[q]
    hi_med = np.where(share > 0, med, -np.inf).max(axis=0)
    lo_med = np.where(share > 0, med, np.inf).min(axis=0)
    if np.all(hi_med - lo_med <= 1e-9 * max(float(med.max()), 1e-9)):
        # pods alike (or none alive): no mixing needed
        return np.asarray(np.where(np.isfinite(hi_med), hi_med, med.max(axis=0))
                          * np.exp(z * sigma))
    lo = np.log(np.maximum(med.min(axis=0), 1e-3)) - 4 * sigma
    hi = np.log(np.maximum(med.max(axis=0), 1e-3)) + 4 * sigma
    lm = np.log(np.maximum(med, 1e-6))
    for _ in range(16):
        mid = (lo + hi) / 2
        below = (share * ncdf((mid - lm) / sigma)).sum(axis=0)
        lo = np.where(below < q, mid, lo)
        hi = np.where(below < q, hi, mid)
    return np.asarray(np.exp((lo + hi) / 2))


def cpu_per_request(w: Workload) -> float:
    """Cores a request costs a workload: its own service time, a datastore's mostly CPU."""
    return w.base_ms / 1000 * (0.6 if w.role not in ("db", "cache") else 0.8)


class Model:
    def __init__(self, cluster: Cluster, rng: np.random.Generator, hour0: float) -> None:
        self.c = cluster
        self.rng = rng
        sysm = cluster.system
        T = cluster.T
        self.T = T
        self.wl = {w.name: w for w in sysm.workloads}
        self.edges = sysm.edges()
        self.hours = (hour0 + np.arange(T) * STEP / 3600) % 24
        # Diurnal entry load: trough near 04:00, broad afternoon/evening peak, AR(1) wobble.
        shape = (0.5 - 0.5 * np.cos(2 * np.pi * (self.hours - 4) / 24)) ** 1.3
        wobble = np.zeros(T)
        for i in range(1, T):
            wobble[i] = 0.97 * wobble[i - 1] + rng.normal(0, 0.008)
        self.entry = sysm.entry_rps * (0.3 + 0.7 * shape) * (1 + wobble)
        # Knobs a fault (or the noise) turns; each is an array over steps.
        self.own_load: dict[str, np.ndarray] = {}  # extra requests/s into a workload
        self.edge_mult: dict[tuple[str, str], np.ndarray] = {}
        self.w_lat: dict[str, np.ndarray] = {}  # own-latency multiplier
        self.w_tail: dict[str, np.ndarray] = {}  # extra multiplier on the p99 only
        self.w_err: dict[str, np.ndarray] = {}
        self.w_cpu: dict[str, np.ndarray] = {}  # cpu cost per request multiplier
        self.node_hog: dict[str, np.ndarray] = {}  # cores taken on a node by a limitless pod
        self.node_disk: dict[str, np.ndarray] = {}  # 0..1 io saturation
        self.node_loss: dict[str, np.ndarray] = {}  # packet loss ratio
        self.hit: dict[str, np.ndarray] = {}  # cache hit ratio
        self.sigma = {n: float(rng.uniform(0.45, 0.8)) for n in self.wl}
        # every service fails a little all the time (client aborts, bad input, races)
        self.base_err = {n: float(rng.uniform(0.0002, 0.003)) for n in self.wl}
        self.util0 = {n: float(rng.uniform(0.28, 0.55)) for n in self.wl}
        self.par = {e[:2]: float(rng.uniform(0.5, 1.0)) for e in self.edges}  # fan-out overlap
        self.timeout: dict[tuple[str, str], float] = {}
        self.retries: dict[tuple[str, str], int] = {}
        self.pool: dict[tuple[str, str], int] = {}
        self.lag = {e[:2]: 1 + 2 * float(rng.random()) for e in self.edges}
        self.crit: dict[tuple[str, str], float] = {}
        for caller, callee, _ in self.edges:
            role = self.wl[callee].role
            self.timeout[(caller, callee)] = float(rng.choice([1000, 2000, 3000, 5000, 10000]))
            self.retries[(caller, callee)] = int(rng.choice([0, 0, 1, 2]))
            self.crit[(caller, callee)] = 0.05 if role == "cache" else (
                0.25 if callee in ("recommendations", "product-reviews", "search") else 1.0)
            if role in ("db", "proxy") and self.wl[caller].lang in ("jvm", "py", "node"):
                self.pool[(caller, callee)] = int(rng.choice([10, 10, 20, 30]))
        for w in self.wl.values():
            if w.role == "cache":
                self.hit[w.name] = np.full(T, float(rng.uniform(0.9, 0.97)))
        self.order = self._order()
        self.cap: dict[str, float] = {}
        self._size_nodes()

    # -- graph -----------------------------------------------------------------------------
    def consumes(self, caller: str, callee: str) -> bool:
        return self.wl[caller].role == "worker" and self.wl[callee].role == "queue"

    def _order(self) -> list[str]:
        """Callers before callees; a queue before the workers that drain it."""
        succ: dict[str, list[str]] = {n: [] for n in self.wl}
        indeg = dict.fromkeys(self.wl, 0)
        for a, b, _ in self.edges:
            src, dst = (b, a) if self.consumes(a, b) else (a, b)
            succ[src].append(dst)
            indeg[dst] += 1
        ready = [n for n in self.wl if indeg[n] == 0]
        out: list[str] = []
        while ready:
            n = ready.pop(0)
            out.append(n)
            for m in succ[n]:
                indeg[m] -= 1
                if indeg[m] == 0:
                    ready.append(m)
        assert len(out) == len(self.wl), "call graph has a cycle"
        return out

    def _k(self, name: str, table: dict[str, np.ndarray], default: float) -> np.ndarray:
        return table.get(name, np.full(self.T, default))

    def _size_nodes(self, headroom: float = 0.7) -> None:
        """Grow a node (doubling, as instance sizes go) until its pods' normal peak CPU fits
        within `headroom` of its cores, as capacity planning or a cluster autoscaler would.
        Drawn at 8 or 16 cores alone, a node holding a SaaS system's PDF renderers ran at up
        to five times its cores on an ordinary afternoon: every pod on it slowed, pools
        filled, retries multiplied, and the whole system failed every request before any
        fault began. Sized before the story, so that a hog or a batch job is drawn against
        the node it will run on."""
        rps = self._traffic({}, baseline=True)
        t = np.arange(self.T)
        demand = {n: np.zeros(self.T) for n in self.c.nodes}
        for p in self.c.pods:
            w = self.wl[p.workload]
            if p.died <= 0:
                continue
            live = np.maximum(self.c.live_count(p.workload), 1)
            busy = 0.0 if w.role in ("cron", "batch") else \
                rps[p.workload] / live * cpu_per_request(w)
            demand[p.node] += (0.05 + busy) * p.alive(t)
        # Each node's normal peak as a share of its cores, for noise that must leave it room.
        self.node_peak: dict[str, float] = {}
        for n in self.c.nodes:
            peak = float(np.quantile(demand[n], 0.98))
            while self.c.node_cores[n] < peak / headroom:
                self.c.node_cores[n] *= 2
            self.c.node_mem[n] = self.c.node_cores[n] * 4 * 2**30
            self.node_peak[n] = peak / self.c.node_cores[n]

    # -- the passes --------------------------------------------------------------------------
    def run(self) -> None:
        amp: dict[tuple[str, str], np.ndarray] = {}
        self.rps = self._traffic(amp, baseline=True)
        for name, r in self.rps.items():  # size each workload for its normal peak
            live = np.maximum(self.c.live_count(name), 1)
            self.cap[name] = float(np.quantile(r / live, 0.98)) / self.util0[name] + 1e-6
        self.pod_cpu: dict[str, np.ndarray] = {}
        for _ in range(4):
            self.rps = self._traffic(amp)
            self._node_pressure()
            amp = self._latency(amp)

    def _traffic(self, amp: dict[tuple[str, str], Any],
                 baseline: bool = False) -> dict[str, np.ndarray]:
        rps = {n: np.zeros(self.T) for n in self.wl}
        publish = {n: np.zeros(self.T) for n in self.wl}
        for name in self.order:
            w = self.wl[name]
            if w.role == "gateway":
                rps[name] += self.entry
            if not baseline:
                rps[name] += self._k(name, self.own_load, 0.0)
            if w.role == "worker":
                qs = [b for a, b, _ in self.edges if a == name and self.consumes(a, b)]
                arrival = sum((publish[q] for q in qs), np.zeros(self.T))
                rps[name] += self._drain(name, arrival) if not baseline else arrival
            for a, b, k in self.edges:
                if a != name or self.consumes(a, b):
                    continue
                flow = rps[name] * k
                if not baseline:
                    flow = flow * self.edge_mult.get((a, b), 1.0) * (1 + amp.get((a, b), 0.0))
                rps[b] += flow
                publish[b] += flow
        return rps

    def _drain(self, worker: str, arrival: np.ndarray) -> np.ndarray:
        """A worker takes what arrives up to its capacity; the rest waits in the queue."""
        cap = self.cap.get(worker, 1e9) * np.maximum(self.c.live_count(worker), 0)
        cap = cap * self._k(worker, {k: 1 / v for k, v in self.w_lat.items()}, 1.0)
        done = np.zeros(self.T)
        backlog = 0.0
        depth = np.zeros(self.T)
        for i in range(self.T):
            want = arrival[i] + backlog / STEP
            done[i] = min(want, cap[i])
            backlog = max(0.0, backlog + (arrival[i] - done[i]) * STEP)
            depth[i] = backlog
        self.depth = getattr(self, "depth", {})
        self.depth[worker] = depth
        return done

    def _node_pressure(self) -> None:
        """Node CPU contention from the pods' last estimated usage plus any limitless hog."""
        demand = {n: self._k(n, self.node_hog, 0.0).copy() for n in self.c.nodes}
        for p in self.c.pods:
            if p.workload in self.pod_cpu and p.died > 0:
                extra = p.cpu if p.cpu is not None else 0.0
                demand[p.node] += (self.pod_cpu[p.workload] + extra) * p.alive(np.arange(self.T))
        self.node_util = {n: demand[n] / self.c.node_cores[n] for n in self.c.nodes}
        self.contention = {n: np.clip((u - 0.82) / 0.18, 0, None) ** 1.5
                           for n, u in self.node_util.items()}

    def pod_effects(self, name: str) -> tuple[list[Any], np.ndarray, np.ndarray, np.ndarray]:
        """Live pods of a workload, their alive mask, latency multiplier and added errors."""
        t = np.arange(self.T)
        pods = [p for p in self.c.of(name) if p.died > 0]
        if not pods:
            return [], np.ones((1, self.T)), np.ones((1, self.T)), np.zeros((1, self.T))
        disk_sens = 6.0 if self.wl[name].role in ("db", "queue") else 0.4
        alive = np.array([p.alive(t) for p in pods], dtype=float)
        lat = np.ones_like(alive)
        err = np.zeros_like(alive)
        for i, p in enumerate(pods):
            if p.lat is not None:
                lat[i] *= p.lat
            if p.err is not None:
                err[i] += p.err
            lat[i] *= 1 + 2.5 * self.contention.get(p.node, 0)
            lat[i] *= 1 + disk_sens * self._k(p.node, self.node_disk, 0.0) ** 2
            loss = self._k(p.node, self.node_loss, 0.0)
            lat[i] *= 1 + 25 * loss  # retransmission timeouts on a lossy path
            err[i] += np.clip(6 * loss, 0, 1)
        return pods, alive, lat, np.clip(err, 0, 1)

    def _latency(self, amp: dict[tuple[str, str], Any]) -> dict[tuple[str, str], np.ndarray]:
        T = self.T
        self.p50: dict[str, np.ndarray] = {}
        self.p99: dict[str, np.ndarray] = {}
        self.mean: dict[str, np.ndarray] = {}
        self.err: dict[str, np.ndarray] = {}
        self.util: dict[str, np.ndarray] = {}
        self.edge_fail: dict[tuple[str, str], np.ndarray] = {}
        self.pool_use: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self.pod_share: dict[str, tuple[list[Any], np.ndarray, np.ndarray, np.ndarray]] = {}
        self.own: dict[str, np.ndarray] = {}
        self.own99: dict[str, np.ndarray] = {}
        new_amp: dict[tuple[str, str], np.ndarray] = {}
        for name in reversed(self.order):
            w = self.wl[name]
            sig = self.sigma[name]
            if w.role == "ext":
                base = w.base_ms * self._k(name, self.w_lat, 1.0)
                self.p50[name], self.p99[name] = base, base * math.exp(Z99 * sig) * \
                    self._k(name, self.w_tail, 1.0)
                self.mean[name] = base * math.exp(sig * sig / 2)
                self.err[name] = np.clip(self._k(name, self.w_err, 0.0), 0, 1)
                self.util[name] = np.zeros(T)
                continue
            pods, alive, plat, perr = self.pod_effects(name)
            nlive = np.maximum(alive.sum(axis=0), 1e-9)
            share = alive / nlive
            cap = self.cap[name] * (alive / plat ** 0.5).sum(axis=0)
            util = self.rps[name] / np.maximum(cap, 1e-9) * self._k(name, self.w_cpu, 1.0)
            if w.role in ("cron", "batch"):
                util = np.zeros(T)
            self.util[name] = util
            u = np.minimum(util, 0.97)
            queue = 1 + 0.6 * u ** 3 / (1 - u) + 40 * np.clip(util - 0.97, 0, None)
            own = w.base_ms * queue * self._k(name, self.w_lat, 1.0)
            med = own * plat + 1e-9 * (1 - alive)
            own50 = mixture_quantile(med, share, sig, 0.5)
            own99 = mixture_quantile(med, share, sig, 0.99) * self._k(name, self.w_tail, 1.0)
            own_mean = (share * med).sum(axis=0) * math.exp(sig * sig / 2)
            err_own = (share * perr).sum(axis=0) + self._k(name, self.w_err, 0.0) + \
                self.base_err[name] * (1 + 0.3 * np.sin(np.arange(T) / 37.0))
            err_own = err_own + np.clip(1 - 1 / np.maximum(util, 1e-9), 0, 0.9) * (util > 1)
            self.pod_share[name] = (pods, alive, plat, perr)
            self.own[name], self.own99[name] = own, own99
            p50, p99, mean = own50.copy(), own99.copy(), own_mean.copy()
            ok = 1 - np.clip(err_own, 0, 1)
            worst99 = np.zeros(T)
            for a, b, k in self.edges:
                if a != name or self.consumes(a, b) or b not in self.p50:
                    continue
                to = self.timeout[(a, b)]
                lag = self.lag[(a, b)]
                c50, c99, cmean = (ema(x, lag) for x in (self.p50[b], self.p99[b], self.mean[b]))
                s = max(np.log(max(float(np.median(c99 / np.maximum(c50, 1e-6))), 1.01)) / Z99,
                        0.05)
                tof = 1 - ncdf((np.log(to) - np.log(np.maximum(c50, 1e-6))) / s)
                fail = 1 - (1 - ema(self.err[b], lag)) * (1 - tof)
                wait = np.zeros(T)
                if (a, b) in self.pool:
                    conc = self.rps[name] * k / nlive * cmean / 1000
                    use = conc / self.pool[(a, b)]
                    over = np.clip(use - 1, 0, None)
                    wait = over * np.minimum(cmean, to) * 3
                    fail = 1 - (1 - fail) * (1 - np.clip(over / (1 + over), 0, 0.9) * 0.7)
                    self.pool_use[(a, b)] = (np.minimum(use, 1) * self.pool[(a, b)],
                                             over * self.pool[(a, b)])
                r = self.retries[(a, b)]
                seen = fail ** (r + 1)
                new_amp[(a, b)] = sum(fail ** j for j in range(1, r + 1)) if r else np.zeros(T)
                self.edge_fail[(a, b)] = fail
                calls = k * self.par[(a, b)]
                cost = np.minimum(cmean, to) * (1 + fail * r) + wait
                p50 += calls * np.minimum(c50, to) + wait
                mean += calls * cost
                # a callee on a fraction k of requests sets the caller's p99 with its own
                # (1 - 0.01/k) quantile; several calls per request reach deeper into its tail
                z = float(np.interp(np.log(min(0.5, max(0.003, 0.01 / k))), TAIL_LOG, TAIL_Z))
                cq = c50 * np.exp(z / Z99 * np.log(np.maximum(c99 / np.maximum(c50, 1e-6), 1)))
                worst99 = np.maximum(worst99, np.minimum(cq, to * (1 + r)) + wait)
                ok *= 1 - self.crit[(a, b)] * (1 - (1 - seen) ** max(k, 0.2))
            p99 += worst99 + 0.3 * (mean - own_mean)
            self.p50[name], self.p99[name], self.mean[name] = p50, np.maximum(p99, p50), mean
            self.err[name] = np.clip(1 - ok, 0, 1)
            self.pod_cpu[name] = 0.05 + self.rps[name] / nlive * cpu_per_request(w) * \
                self._k(name, self.w_cpu, 1.0)
        # damp the retry feedback so the passes settle instead of oscillating
        return {key: 0.5 * v + 0.5 * amp.get(key, 0.0) for key, v in new_amp.items()}
