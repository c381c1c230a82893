"""One run of a system under load, second by second, with at most one injected fault.

The state is what a request sees: each service's own processing time, its own error
probability and its resource use. Latency and errors are then composed up the call graph
(`settle`): a caller's mean latency is its own time plus, for each callee, the calls it makes
per request times that callee's latency, so a callee's extra delay reaches a caller in
proportion to the share of its requests that touch the callee. Errors propagate the same
way, damped where a caller tolerates a failed callee (a page rendered without ads).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evals.synthetic_public.systems import System, language


@dataclass(frozen=True)
class Fault:
    label: str      # the benchmark's own name: cpu, mem, disk, delay, loss, socket, f1..f5
    kind: str       # the scenario contract's kind
    service: str
    at: float       # inject_time, Unix seconds


KINDS = {"cpu": "cpu", "mem": "memory", "disk": "disk", "delay": "network_delay",
         # A socket fault exhausts sockets (stress-ng --sock style): connections fail or
         # queue, which the contract's vocabulary can only call a network fault.
         "loss": "network_loss", "socket": "network_loss",
         "f1": "code_error", "f2": "code_error", "f3": "code_error", "f4": "code_error",
         "f5": "code_error"}


class World:
    def __init__(self, system: System, rng: np.random.Generator, t: np.ndarray) -> None:
        self.system, self.rng, self.t = system, rng, t
        self.step = float(t[1] - t[0])
        n = t.size
        services = system.services
        reach = system.reach()
        # Locust load: a base rate, a slow drift (part of a daily curve), occasional bursts.
        base = float(rng.uniform(8, 60))
        period = float(rng.uniform(3600, 6 * 3600))
        phase = float(rng.uniform(0, 2 * np.pi))
        drift = float(rng.uniform(0.03, 0.25))
        load = base * (1 + drift * np.sin(2 * np.pi * (t - t[0]) / period + phase))
        for _ in range(int(rng.poisson(1.2))):  # user bursts, not faults
            at = float(rng.uniform(t[0], t[-1]))
            width = float(rng.uniform(10, 90))
            load = load * (1 + float(rng.uniform(0.2, 0.9)) * ((t >= at) & (t < at + width)))
        self.load = load
        self.work: dict[str, np.ndarray] = {}
        self.own: dict[str, np.ndarray] = {}
        self.own_err: dict[str, np.ndarray] = {}
        self.cpu: dict[str, np.ndarray] = {}
        self.limit: dict[str, float] = {}
        self.mem: dict[str, np.ndarray] = {}
        self.disk: dict[str, np.ndarray] = {}
        self.sockets: dict[str, np.ndarray] = {}
        self.retrans: dict[str, np.ndarray] = {}
        self.skipped: set[tuple[str, str]] = set()   # calls a code fault removed
        for s in services:
            lang = language(system, s)
            share = reach.get(s, 0.0)
            if s == "queue-master":
                share = reach.get("shipping", 0.05)
            self.work[s] = load * share
            store = s in system.stores
            own = float(rng.uniform(0.0005, 0.004) if store else rng.uniform(0.002, 0.03))
            self.own[s] = np.full(n, own)
            self.own_err[s] = np.full(n, float(rng.uniform(0, 0.002)))
            self.limit[s] = float(rng.choice([50.0, 100.0, 100.0, 200.0]))
            per_req = float(rng.uniform(0.05, 0.6)) * (2.5 if lang == "java" else 1.0)
            idle = float(rng.uniform(0.3, 4.0)) * (3 if lang == "java" else 1)
            self.cpu[s] = np.minimum(idle + per_req * self.work[s], 0.6 * self.limit[s])
            heap = {"java": (4e8, 9e8), "csharp": (1.5e8, 3e8), "mongo": (1.5e8, 4e8),
                    "mysql": (3e8, 5e8), "erlang": (1e8, 1.6e8)}.get(lang, (2e7, 9e7))
            mem = np.full(n, float(rng.uniform(*heap)))
            if lang in ("java", "csharp"):  # GC sawtooth: the heap grows, then collects
                cycle = float(rng.uniform(40, 240))
                mem = mem * (1 + 0.12 * (((t - t[0]) / cycle) % 1.0))
            self.mem[s] = mem
            self.disk[s] = np.full(n, float(rng.uniform(2e4, 4e5) if store else rng.uniform(
                0, 2e4)))
            self.sockets[s] = np.full(n, float(rng.integers(8, 80)))
            self.retrans[s] = np.zeros(n)
        self.lat: dict[str, np.ndarray] = {}
        self.err: dict[str, np.ndarray] = {}

    def ramp(self, at: float, seconds: float) -> np.ndarray:
        return np.clip((self.t - at) / max(seconds, 1.0), 0.0, 1.0)

    # ---- faults ------------------------------------------------------------------------

    def inject(self, fault: Fault) -> str:
        """Apply a fault; return a note on its size for truth.json."""
        rng, s, on = self.rng, fault.service, self.ramp(fault.at, float(self.rng.uniform(3, 20)))
        if fault.label == "cpu":
            # stress-ng in the container: CPU pinned near its limit; the app's own threads
            # compete, which costs anything from almost nothing to double its service time.
            level = self.limit[s] * float(rng.uniform(0.85, 0.99))
            self.cpu[s] = self.cpu[s] + on * np.maximum(level - self.cpu[s], 0)
            slow = float(rng.choice([rng.uniform(0.02, 0.15), rng.uniform(0.2, 1.5)]))
            self.own[s] = self.own[s] * (1 + slow * on)
            return f"cpu to {level:.0f}/{self.limit[s]:.0f}; own time x{1 + slow:.2f}"
        if fault.label == "mem":
            # A leak (or stress-ng --vm): memory climbs, sometimes to a plateau.
            grow = float(rng.uniform(1.0, 4.0)) * float(np.median(self.mem[s]))
            climb = self.ramp(fault.at, float(rng.uniform(60, 400)))
            self.mem[s] = self.mem[s] + grow * climb
            self.own[s] = self.own[s] * (1 + float(rng.uniform(0, 0.2)) * climb)
            return f"memory +{grow / 2**20:.0f} MiB"
        if fault.label == "disk":
            rate = float(rng.uniform(2e7, 2e8))
            self.disk[s] = self.disk[s] + on * rate * rng.uniform(0.7, 1.3, self.t.size)
            self.cpu[s] = self.cpu[s] + on * float(rng.uniform(2, 15))  # iowait, fs work
            # Written pages land in the page cache, which cAdvisor counts as the
            # container's memory: the only trace a disk fault leaves where no disk series
            # is shipped (RE1 Online Boutique).
            cache = float(rng.uniform(0.3, 1.5)) * float(np.median(self.mem[s]))
            self.mem[s] = self.mem[s] + cache * self.ramp(fault.at, float(rng.uniform(20, 120)))
            self.own[s] = self.own[s] * (1 + float(rng.uniform(0, 0.4)) * on)
            return f"disk io {rate / 2**20:.0f} MiB/s"
        if fault.label == "delay":
            delay = float(rng.choice([0.05, 0.1, 0.2, 0.3, 0.5]))
            self.own[s] = self.own[s] + delay * on
            return f"delay {delay * 1000:.0f} ms"
        if fault.label == "loss":
            # tc netem loss: retransmits after a ~200 ms RTO; a call that loses its
            # retransmits too fails.
            p = float(rng.uniform(0.1, 0.5))
            self.own[s] = self.own[s] + on * p * float(rng.uniform(0.2, 0.6))
            self.own_err[s] = self.own_err[s] + on * p**2 * float(rng.uniform(0.2, 0.6))
            self.retrans[s] = self.retrans[s] + on * p
            self.work[s] = self.work[s] * (1 - 0.3 * p * on)
            return f"loss {p:.0%}"
        if fault.label == "socket":
            extra = float(rng.uniform(400, 3000))
            self.sockets[s] = self.sockets[s] + on * extra
            self.cpu[s] = self.cpu[s] + on * float(rng.uniform(3, 20))
            self.own[s] = self.own[s] * (1 + float(rng.uniform(0.05, 0.6)) * on)
            self.own_err[s] = self.own_err[s] + on * float(rng.uniform(0.0, 0.08))
            return f"+{extra:.0f} sockets"
        return self._code(fault)

    def _code(self, fault: Fault) -> str:
        """RE3's code-level faults: resources barely move; requests fail or slow."""
        rng, s = self.rng, fault.service
        on = (self.t >= fault.at).astype(float)
        share = float(rng.uniform(0.15, 0.8))  # of requests taking the faulty code path
        if fault.label in ("f1", "f3"):
            self.own_err[s] = self.own_err[s] + on * share
            return f"{share:.0%} of requests fail"
        if fault.label == "f2":
            callees = self.system.callees(s)
            if callees:
                callee = str(callees[int(rng.integers(len(callees)))][0])
                self.skipped.add((s, callee))
            self.own_err[s] = self.own_err[s] + on * share * 0.6
            return f"missing call; {share * 0.6:.0%} of requests fail"
        if fault.label == "f4":
            # A wrong return value: the service answers fast and "ok"; its callers fail.
            self.own[s] = self.own[s] * (1 - 0.3 * on)
            self.own_err[s] = self.own_err[s] + on * share * 0.15
            return f"wrong value on {share:.0%} of responses"
        slow = float(rng.uniform(0.05, 0.6))
        self.own[s] = self.own[s] + on * share * slow
        self.cpu[s] = self.cpu[s] + on * float(rng.uniform(0, 3))
        return f"slow code path +{slow * 1000:.0f} ms on {share:.0%} of requests"

    # ---- composition -------------------------------------------------------------------

    def settle(self, fault: Fault | None) -> None:
        bad_return = fault.service if fault is not None and fault.label == "f4" else None
        for s in self.system.order():
            lat = self.own[s].copy()
            err = self.own_err[s].copy()
            for callee, m in self.system.callees(s):
                if (s, callee) in self.skipped and fault is not None:
                    gone = self.t >= fault.at
                    self.work[callee] = np.where(gone, self.work[callee] * 0.6,
                                                 self.work[callee])
                    lat = lat + np.where(gone, 0.0, m * self.lat[callee])
                else:
                    lat = lat + m * self.lat[callee]
                carry = 0.15 if (s, callee) in self.system.tolerant else 0.9
                child = self.err[callee]
                if callee == bad_return and fault is not None:
                    child = child + (self.t >= fault.at) * float(self.rng.uniform(0.1, 0.5))
                err = err + min(m, 1.0) * carry * child
            self.lat[s] = lat
            self.err[s] = np.clip(err, 0.0, 1.0)
        for s in self.system.services:  # busier services burn a little more CPU
            self.cpu[s] = np.minimum(self.cpu[s], self.limit[s])
