"""Pods and nodes: the names Kubernetes gives them, where the scheduler puts them, and how a
rollout replaces them. Everything is indexed by 10-second step over the simulated span."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from evals.synthetic_cluster.systems import System

STEP = 10  # seconds per simulated step
# The alphabet Kubernetes uses for generated name suffixes (no vowels, no look-alikes).
K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(slots=True)
class Pod:
    name: str
    workload: str
    node: str
    born: int  # first step alive
    died: int  # first step gone (T when it outlives the span)
    version: str
    # Per-pod effects a fault may set; None means "as its siblings".
    lat: np.ndarray | None = None  # multiplier on own latency
    err: np.ndarray | None = None  # added error ratio
    cpu: np.ndarray | None = None  # added cores
    mem: np.ndarray | None = None  # added bytes
    restarts: list[int] = field(default_factory=list)  # steps where the container restarted
    reason: str = ""  # why it died early (Evicted, OOMKilled, rollout)

    def alive(self, t: np.ndarray) -> np.ndarray:
        return (t >= self.born) & (t < self.died)


def suffix(rng: np.random.Generator, n: int) -> str:
    return "".join(K8S_ALPHABET[i] for i in rng.integers(0, len(K8S_ALPHABET), n))


def node_names(system: System, rng: np.random.Generator) -> list[str]:
    """Names in the style of the managed offering the system runs on (what kubelet reports)."""
    n = system.nodes
    if system.node_style == "gke":
        pool = "".join("0123456789abcdef"[i] for i in rng.integers(0, 16, 8))
        return [f"gke-{system.name}-prod-default-pool-{pool}-{suffix(rng, 4)}" for _ in range(n)]
    if system.node_style == "eks":
        ips = rng.choice(np.arange(10, 250), size=n, replace=False)
        return [f"ip-10-0-{int(rng.integers(1, 4)) * 16 + i}-{int(ip)}.eu-west-1.compute.internal"
                for i, ip in enumerate(ips)]
    if system.node_style == "aks":
        vmss = int(rng.integers(10_000_000, 99_999_999))
        return [f"aks-userpool-{vmss}-vmss{i:06x}" for i in range(n)]
    return [f"k8s-worker-{i + 1:02d}" for i in range(n)]


class Cluster:
    def __init__(self, system: System, steps: int, rng: np.random.Generator) -> None:
        self.system = system
        self.T = steps
        self.rng = rng
        self.nodes = node_names(system, rng)
        # Node sizes differ within a pool less often than across; keep two sizes.
        self.node_cores = {n: float(rng.choice([8.0, 16.0])) for n in self.nodes}
        self.node_mem = {n: self.node_cores[n] * 4 * 2**30 for n in self.nodes}
        self.pods: list[Pod] = []
        self.rs_hash: dict[str, str] = {}
        self.version: dict[str, str] = {}
        for w in system.workloads:
            if w.kind in ("ext", "cron") or w.replicas == 0:
                continue
            self.rs_hash[w.name] = suffix(rng, 10)
            self.version[w.name] = f"{int(rng.integers(1, 4))}.{int(rng.integers(0, 40))}." \
                                   f"{int(rng.integers(0, 12))}"
            for i in range(w.replicas):
                born = -int(rng.integers(200, 40_000))  # started hours or days ago
                self.pods.append(Pod(self._name(w.name, w.kind, i), w.name, self.place(w.name),
                                     born, steps, self.version[w.name]))

    def _name(self, workload: str, kind: str, ordinal: int) -> str:
        if kind == "sts":
            return f"{workload}-{ordinal}"
        return f"{workload}-{self.rs_hash[workload]}-{suffix(self.rng, 5)}"

    def place(self, workload: str, avoid: str = "") -> str:
        """Spread replicas (soft anti-affinity), then the least busy node, ties at random."""
        same = {n: 0 for n in self.nodes}
        busy = {n: 0 for n in self.nodes}
        for p in self.pods:
            if p.died >= self.T:
                busy[p.node] += 1
                same[p.node] += p.workload == workload
        order = sorted(self.nodes, key=lambda n: (n == avoid, same[n], busy[n] + self.rng.random()))
        return order[0]

    def of(self, workload: str) -> list[Pod]:
        return [p for p in self.pods if p.workload == workload]

    def on(self, node: str) -> list[Pod]:
        return [p for p in self.pods if p.node == node]

    def live_count(self, workload: str) -> np.ndarray:
        t = np.arange(self.T)
        out = np.zeros(self.T)
        for p in self.of(workload):
            out += p.alive(t)
        return out

    def rollout(self, workload: str, at: int, version: str, *, pods: int | None = None,
                gap: int = 4) -> list[Pod]:
        """A Deployment rollout from step `at`: a new ReplicaSet hash, new pods one at a time
        (maxSurge 1, maxUnavailable 0), each old pod killed once its successor is ready.
        `pods` stops early (a paused canary: only that many new pods)."""
        old = [p for p in self.of(workload) if p.died >= self.T and p.born <= at]
        self.rs_hash[workload] = suffix(self.rng, 10)
        self.version[workload] = version
        new: list[Pod] = []
        for i, victim in enumerate(old[: pods if pods is not None else len(old)]):
            start = at + i * gap
            if start >= self.T:
                break
            pod = Pod(self._name(workload, "deploy", 0), workload, self.place(workload),
                      start, self.T, version)
            self.pods.append(pod)
            new.append(pod)
            if pods is None:  # a canary adds beside the old pods; a rollout replaces them
                victim.died = min(self.T, start + 3)
                victim.reason = "rollout"
        return new

    def job(self, cronjob: str, at: int, length: int) -> Pod:
        """A CronJob's Job pod: `<cronjob>-<scheduled minute>-<5>`, as the controller names it."""
        minute = 28_000_000 + int(self.rng.integers(0, 900_000))
        pod = Pod(f"{cronjob}-{minute}-{suffix(self.rng, 5)}", cronjob, self.place(cronjob),
                  at, min(self.T, at + length), "job")
        self.pods.append(pod)
        return pod

    def replace(self, pod: Pod, at: int, reason: str) -> Pod:
        """A pod that is gone (evicted) and recreated by its controller elsewhere."""
        pod.died, pod.reason = at, reason
        kind = self.system.get(pod.workload).kind
        name = pod.name if kind == "sts" else self._name(pod.workload, kind, 0)
        new = Pod(name, pod.workload, self.place(pod.workload, avoid=pod.node), at + 3, self.T,
                  pod.version)
        self.pods.append(new)
        return new
