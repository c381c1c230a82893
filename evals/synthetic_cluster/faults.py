"""The fault families: each turns knobs on the model at `onset` and says what it did (the
truth a human SRE would write, which alerts could plausibly fire, which log lines and
change events the fault itself leaves). Symptoms are not written here: they come out of
the model, so they spread up the call graph with the lags and dilution the model gives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evals.synthetic_cluster.cluster import STEP, Cluster, Pod
from evals.synthetic_cluster.model import Model

MIN = 60 // STEP  # steps per minute


@dataclass
class LogSpec:
    """Lines a fault makes a workload (or some of its pods, or a node) write."""
    service: str
    rate: np.ndarray  # expected lines per step
    level: str
    templates: tuple[str, ...]
    pods: list[Pod] | None = None  # None: any live pod of the workload
    node: bool = False  # the service is a node (journald / node-problem-detector)


@dataclass
class Story:
    family: str
    kind: str
    truth: str
    onset: int
    also: list[str] = field(default_factory=list)
    alerts: list[tuple[str, str]] = field(default_factory=list)  # (workload, signal) wishes
    logs: list[LogSpec] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # step-stamped change events
    hide_errors: set[str] = field(default_factory=set)  # errors the metrics do not see
    gc: dict[str, np.ndarray] = field(default_factory=dict)  # pod -> GC pause s per step
    detail: str = ""


def ramp(T: int, start: int, length: int, shape: float = 1.0) -> np.ndarray:
    """0 before `start`, rising to 1 over `length` steps (power `shape`), 1 after."""
    x = np.clip((np.arange(T) - start) / max(length, 1), 0, 1)
    return x ** shape


def callers(m: Model, name: str) -> list[str]:
    return [a for a, b, _ in m.edges if b == name and not m.consumes(a, b)]


def entry(m: Model) -> str:
    return next(n for n, w in m.wl.items() if w.role == "gateway")


def upstream_alerts(m: Model, name: str, rng: np.random.Generator,
                    signals: tuple[str, ...] = ("latency", "errors")) -> list[tuple[str, str]]:
    """Where a page would come from: the edge (SLO), a user-facing tier, the direct caller,
    in an order shuffled a little so the alerting service is not always the gateway."""
    out: list[tuple[str, str]] = []
    near = callers(m, name)
    front = [n for n, w in m.wl.items() if w.role in ("web", "gateway")]
    pool = [entry(m), *front, *near]
    rng.shuffle(pool)
    for svc in dict.fromkeys(pool):
        if m.wl[svc].role in ("cron", "batch"):
            continue  # nobody pages on a batch job's latency
        for sig in signals:
            out.append((svc, sig))
    return out


def pick(rng: np.random.Generator, items: list[Any]) -> object:
    return items[int(rng.integers(0, len(items)))]


def served(m: Model, role: tuple[str, ...] = ("api",)) -> list[str]:
    """Workloads of `role` that actually take traffic from someone."""
    return [n for n, w in m.wl.items() if w.role in role and callers(m, n)]


# --- families --------------------------------------------------------------------------
def jvm_heap(m: Model, c: Cluster, rng: np.random.Generator, on: int) -> Story:
    name = str(pick(rng, [n for n in served(m, ("api",)) if m.wl[n].jvm]))
    pods = [p for p in c.of(name) if p.died >= c.T]
    hit = pods if rng.random() < 0.4 else [pods[int(rng.integers(0, len(pods)))]]
    s = Story("jvm_heap_gc", "memory", name, on, detail=f"{len(hit)}/{len(pods)} pods")
    limit = 1.5 * 2**30
    for p in hit:
        fill = ramp(c.T, on + int(rng.integers(0, 4 * MIN)), int(rng.integers(12, 35)) * MIN, 1.6)
        heap = fill * limit * 0.55  # the leak on top of the normal live set
        press = np.clip((fill - 0.55) / 0.45, 0, 1)
        p.lat = 1 + 14 * press ** 3
        p.cpu = 1.2 * press
        p.err = np.clip((press - 0.8) * 2, 0, 0.6)
        s.gc[p.name] = 0.02 + 6.0 * press ** 3  # seconds of pause per 10 s step
        full = np.nonzero(fill >= 1)[0]
        if len(full) and full[0] + 6 * MIN < c.T:  # OOMKilled, restarts, leaks again
            k = int(full[0])
            p.restarts.append(k)
            heap[k:] = ramp(c.T - k, 0, 14 * MIN, 1.3) * limit * 0.55
            p.err[k:k + 4] = 1.0
            p.lat[k:] = 1 + 14 * np.clip((heap[k:] / (limit * 0.55) - 0.55) / 0.45, 0, 1) ** 3
            s.events.append({"step": k, "service": p.name, "kind": "restart",
                             "summary": f"Container {name} in pod {p.name} was OOMKilled "
                                        f"(exit code 137); restarting",
                             "reason": "OOMKilled"})
        p.mem = heap
        s.logs.append(LogSpec(name, 0.4 * press, "error", (
            "java.lang.OutOfMemoryError: Java heap space",
            "GC overhead limit exceeded; request {req} aborted",
            "[gc] Pause Full (G1 Compaction Pause) 1498M->1471M(1536M) {ms}ms"), pods=[p]))
        s.logs.append(LogSpec(name, 0.8 * press, "warn", (
            "[gc] Pause Young (Normal) (G1 Evacuation Pause) 1390M->1312M(1536M) {ms}ms",),
            pods=[p]))
    s.alerts = [*upstream_alerts(m, name, rng), (name, "latency")]
    return s


def slow_query(m: Model, c: Cluster, rng: np.random.Generator, on: int) -> Story:
    dbs = [n for n in served(m, ("db",)) if any(x in n for x in ("pg", "postgres", "mysql"))]
    db = str(pick(rng, dbs))
    r = ramp(c.T, on, int(rng.integers(2, 8)) * MIN)
    m.w_lat[db] = 1 + float(rng.uniform(4, 12)) * r
    m.w_cpu[db] = 1 + 1.5 * r
    primary = c.of(db)[0]
    m.node_disk[primary.node] = 0.35 * r  # its reads show on the node, but it is not the node
    s = Story("slow_query_pool", "disk", db, on, detail="sequential scans saturate reads")
    s.logs.append(LogSpec(db, 1.5 * r, "", (
        "LOG:  duration: {ms}.412 ms  execute <unnamed>: SELECT i.* FROM line_items i "
        "WHERE i.account_ref = $1 ORDER BY i.created_at DESC",
        "LOG:  temporary file: path \"base/pgsql_tmp/pgsql_tmp{req}.3\", size 104857600",
        "Slow query: {ms} ms Rows_examined: 4812733 SELECT * FROM stock_moves WHERE sku=?"),
        pods=[primary]))
    for a in callers(m, db):
        s.logs.append(LogSpec(a, 0.6 * r, "error", (
            "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
            "sqlalchemy.exc.TimeoutError: QueuePool limit of size 10 overflow 10 reached, "
            "connection timed out, timeout 30",
            "canceling statement due to statement timeout")))
    s.alerts = [*upstream_alerts(m, db, rng), (db, "saturation")]
    return s


def canary_deploy(m: Model, c: Cluster, rng: np.random.Generator, on: int) -> Story:
    name = str(pick(rng, [n for n in served(m) if m.wl[n].replicas >= 2]))
    old = c.version[name]
    major, minor, _ = old.split(".")
    new_v = f"{major}.{int(minor) + 1}.0"
    canary = rng.random() < 0.6
    new = c.rollout(name, on, new_v, pods=1 if canary else None, gap=int(rng.integers(3, 7)))
    bad = float(rng.uniform(0.25, 0.7))
    for p in new:
        p.err = bad * ramp(c.T, p.born + 3, 1)
        p.lat = 1 + 1.5 * ramp(c.T, p.born + 3, 1)
    how = "argo-rollouts canary step 1/4 (25%)" if canary else "rolling update"
    s = Story("canary_bad_deploy", "deploy", name, on, detail=how)
    s.events.append({"step": on, "service": name, "kind": "deploy",
                     "summary": f"Deployment {name} image tag {old} -> {new_v} ({how})",
                     "version": new_v, "previous": old})
    s.logs.append(LogSpec(name, np.full(c.T, 0.9 * bad), "error", (
        "Unhandled exception: TypeError: Cannot read properties of undefined (reading 'amount')",
        "java.lang.NoSuchMethodError: 'java.util.Optional com.acme.model.Money.currency()'",
        "panic: runtime error: invalid memory address or nil pointer dereference [recovered]"),
        pods=new))
    s.alerts = upstream_alerts(m, name, rng, ("errors", "availability"))
    return s


def config_push(m: Model, c: Cluster, rng: np.random.Generator, on: int) -> Story:
    name = str(pick(rng, served(m)))
    r = ramp(c.T, on, 2)
    if rng.random() < 0.5:
        m.w_err[name] = float(rng.uniform(0.08, 0.35)) * r
        effect = "errors"
    else:
        m.w_lat[name] = 1 + float(rng.uniform(4, 10)) * r
        effect = "latency"
    flag = str(pick(rng, ["new-tax-rounding", "strict-schema-validation", "v2-price-engine",
                          "async-writes", "shadow-traffic", "geo-fencing-v3"]))
    s = Story("config_push", "config", name, on, detail=f"flag {flag}")
    if rng.random() < 0.55:
        s.events.append({"step": on, "service": name, "kind": "config",
                         "summary": f"ConfigMap {name}-config updated: {flag}=true",
                         "source": "flux"})
    s.logs.append(LogSpec(name, (np.arange(c.T) == on + 1).astype(float) * 3, "info", (
        "config reloaded from /etc/app/config.yaml (checksum {req})",
        f"feature flag {flag} changed: false -> true")))
    s.logs.append(LogSpec(name, 0.5 * r, "error" if effect == "errors" else "warn", (
        f"{flag}: validation failed for request {{req}}: field 'region' is required",
        "request {req} exceeded soft deadline after {ms}ms")))
    s.alerts = upstream_alerts(m, name, rng, (effect, "availability"))
    return s


def dns_failure(m: Model, c: Cluster, rng: np.random.Generator, on: int) -> Story:
    name = str(pick(rng, [a for a, b, _ in m.edges if m.wl[b].role == "ext"
                          and m.wl[a].role in ("api", "worker")]))
    r = ramp(c.T, on, 3 * MIN, 0.7)
    m.w_err[name] = float(rng.uniform(0.05, 0.2)) * r
    m.w_tail[name] = 1 + 6 * r  # the 5 s resolver timeout lands in the tail
    m.w_lat[name] = 1 + 0.8 * r
    target = next(b for a, b, _ in m.edges if a == name and m.wl[b].role == "ext")
    host = target if "." in target else f"api.{target.removesuffix('-api')}.com"
    s = Story("dns_failure", "network_loss", name, on, detail=f"lookups of {host} time out")
    s.logs.append(LogSpec(name, 1.2 * r, "error", (
        f"dial tcp: lookup {host} on 10.96.0.10:53: read udp 10.{{req}}->10.96.0.10:53: "
        "i/o timeout",
        f"getaddrinfo EAI_AGAIN {host}",
        f"java.net.UnknownHostException: {host}: Temporary failure in name resolution")))
    s.logs.append(LogSpec("coredns", 0.2 * r, "", (
        f"[INFO] 10.{{req}} - \"A IN {host}.{c.system.namespace}.svc.cluster.local. udp 63 "
        "false 512\" NXDOMAIN qr,aa,rd 156 0.00012s",)))
    s.alerts = [*upstream_alerts(m, name, rng), (name, "errors")]
    return s


def retry_storm(m: Model, c: Cluster, rng: np.random.Generator, on: int) -> Story:
    name = str(pick(rng, [n for n in served(m) if len(callers(m, n)) >= 1
                          and m.wl[n].role == "api"]))
    for a in callers(m, name):
        m.retries[(a, name)] = 3
        for up in callers(m, a):
            m.retries[(up, a)] = max(m.retries[(up, a)], 2)
    m.util0[name] = float(rng.uniform(0.5, 0.62))
    r = ramp(c.T, on, MIN)
    m.w_err[name] = float(rng.uniform(0.04, 0.1)) * r
    s = Story("retry_storm", "code_error", name, on,
              detail="a few percent of 500s, tripled by client retries")
    s.logs.append(LogSpec(name, 0.3 * r, "error", (
        "IllegalStateException: ledger entry {req} has no owner (500)",
        "error handling request: sql: Scan error on column index 3: converting NULL to int")))
    for a in callers(m, name):
        s.logs.append(LogSpec(a, 0.8 * r, "warn", (
            f"retrying call to {name} (attempt {{n}}/3) after 503",
            f"upstream {name} returned 503; backing off {{ms}}ms")))
    s.alerts = upstream_alerts(m, name, rng, ("errors", "latency"))
    return s


def cache_stampede(m: Model, c: Cluster, rng: np.random.Generator, on: int) -> Story:
    def db_behind(cache: str) -> list[tuple[str, str]]:
        return [(a, b) for a in callers(m, cache) for x, b, _ in m.edges
                if x == a and m.wl[b].role in ("db", "proxy")]
    cache = str(pick(rng, [n for n in served(m, ("cache",)) if db_behind(n)]))
    hit0 = m.hit[cache][0]
    restart = rng.random() < 0.5
    warm = int(rng.integers(12, 30)) * MIN
    drop = ramp(c.T, on, 1) - ramp(c.T, on + 2, warm, 0.6)
    hit = hit0 - (hit0 - float(rng.uniform(0.05, 0.35))) * drop
    m.hit[cache] = hit
    for a, b in db_behind(cache):
        m.edge_mult[(a, b)] = (1 - hit) / (1 - hit0) * 0.6 + 0.4
    pod = c.of(cache)[0]
    s = Story("cache_stampede", "memory", cache, on,
              detail="restart empties it" if restart else "maxmemory evictions")
    if restart:
        pod.restarts.append(on)
        s.events.append({"step": on, "service": pod.name, "kind": "restart",
                         "summary": f"Container {cache} in pod {pod.name} was OOMKilled "
                                    "(exit code 137)", "reason": "OOMKilled"})
        s.logs.append(LogSpec(cache, (np.arange(c.T) == on + 1).astype(float) * 4, "", (
            "1:M {req} * Server initialized", "1:M * Ready to accept connections tcp",
            "# WARNING: overcommit_memory is set to 0! Background save may fail"), pods=[pod]))
    else:
        s.logs.append(LogSpec(cache, 0.5 * drop, "warn", (
            "used_memory reached maxmemory (4.00G); evicting keys (allkeys-lru)",
            "evicted_keys grew by {n}k in the last minute"), pods=[pod]))
    s.alerts = upstream_alerts(m, cache, rng)
    for _, b in db_behind(cache):
        s.alerts.append((b, "saturation"))
    return s


def cron_batch(m: Model, c: Cluster, rng: np.random.Generator, on: int) -> Story:
    cron = str(pick(rng, [n for n, w in m.wl.items() if w.role == "cron"]))
    db = max((b for a, b, _ in m.edges if a == cron), key=lambda b: m.wl[b].role == "db")
    base = m._traffic({}, baseline=True)[db]
    k = next(v for a, b, v in m.edges if a == cron and b == db)
    length = int(rng.integers(25, 60)) * MIN
    job = c.job(cron, on, length)
    load = float(np.quantile(base, 0.9)) * float(rng.uniform(1.2, 2.2)) / k
    m.own_load[cron] = load * ramp(c.T, on + 3, 2 * MIN) * job.alive(np.arange(c.T))
    job.cpu = 0.8 * ramp(c.T, on + 3, MIN)
    s = Story("cron_batch_db", "traffic", cron, on, detail=f"job hammers {db}")
    s.events.append({"step": on, "service": cron, "kind": "k8s",
                     "summary": f"Created job {job.name.rsplit('-', 1)[0]}",
                     "reason": "SuccessfulCreate", "object": f"CronJob/{cron}"})
    s.logs.append(LogSpec(cron, 0.3 * job.alive(np.arange(c.T)), "info", (
        "processed batch {n}/412 (5000 rows) in {ms}ms",
        "reconciling accounts page {n}: 5000 rows fetched")))
    s.alerts = [*upstream_alerts(m, db, rng), (db, "saturation")]
    return s


def noisy_neighbour(m: Model, c: Cluster, rng: np.random.Generator, on: int) -> Story:
    batch = str(pick(rng, [n for n, w in m.wl.items() if w.role == "batch"]))
    victim = str(pick(rng, served(m)))
    node = c.of(victim)[0].node
    hog = c.of(batch)[0]
    if hog.node != node:  # rescheduled onto the victim's node (a new pod, a Scheduled event)
        hog = c.replace(hog, on - 3, "rollout")
        hog.node, hog.born = node, on
    hog.cpu = c.node_cores[node] * float(rng.uniform(0.9, 1.3)) * ramp(c.T, on, 2 * MIN)
    s = Story("noisy_neighbour", "cpu", batch, on, also=[node], detail=f"on {node}")
    s.logs.append(LogSpec(batch, 0.2 * ramp(c.T, on, 1), "info", (
        "worker pool started with {n} threads (GOMAXPROCS unset, limits: none)",
        "processing shard {n}: {ms} items/s")))
    s.alerts = [*upstream_alerts(m, victim, rng), (victim, "latency")]
    return s


def node_disk(m: Model, c: Cluster, rng: np.random.Generator, on: int) -> Story:
    heavy = [p for p in c.pods if m.wl[p.workload].role in ("db", "queue") and p.died >= c.T
             and callers(m, p.workload)]
    node = heavy[int(rng.integers(0, len(heavy)))].node
    m.node_disk[node] = float(rng.uniform(0.85, 1.0)) * ramp(c.T, on, int(rng.integers(1, 6)) * MIN)
    s = Story("node_disk_io", "disk", node, on, detail="volume throughput credits exhausted")
    s.logs.append(LogSpec(node, 0.15 * ramp(c.T, on + 2 * MIN, 1), "warn", (
        "INFO: task jbd2/nvme1n1-8:{n} blocked for more than 120 seconds.",
        "kernel: nvme nvme1: I/O {n} QID 3 timeout, completion polled"), node=True))
    victims = {p.workload for p in c.on(node) if m.wl[p.workload].role in ("db", "queue")}
    s.alerts = [a for v in sorted(victims) for a in upstream_alerts(m, v, rng)]
    return s


def node_nic(m: Model, c: Cluster, rng: np.random.Generator, on: int) -> Story:
    busy = [p for p in c.pods if m.wl[p.workload].role in ("api", "web") and callers(m, p.workload)]
    node = busy[int(rng.integers(0, len(busy)))].node
    m.node_loss[node] = float(rng.uniform(0.02, 0.08)) * ramp(c.T, on, int(rng.integers(1, 4)))
    s = Story("node_packet_loss", "network_loss", node, on, detail="ena driver tx hangs")
    if rng.random() < 0.5:
        s.logs.append(LogSpec(node, 0.1 * ramp(c.T, on, 1), "", (
            "kernel: ena 0000:00:06.0 eth0: TX hang detected on queue {n}",
            "kernel: nf_conntrack: table full, dropping packet"), node=True))
    victims = sorted({p.workload for p in c.on(node) if m.wl[p.workload].role in ("api", "web")})
    s.alerts = [a for v in victims for a in upstream_alerts(m, v, rng, ("errors", "latency"))]
    return s


def third_party(m: Model, c: Cluster, rng: np.random.Generator, on: int) -> Story:
    single = [n for n, w in m.wl.items() if w.role == "ext" and len(callers(m, n)) == 1]
    ext = str(pick(rng, single))
    wrapper = callers(m, ext)[0]
    r = ramp(c.T, on, int(rng.integers(1, 10)) * MIN)
    m.w_lat[ext] = 1 + float(rng.uniform(6, 25)) * r
    m.w_err[ext] = float(rng.uniform(0.0, 0.08)) * r
    named = c.system.stack == "datadog"  # Datadog APM shows it as an inferred service
    s = Story("third_party_slow", "dependency", ext if named else wrapper, on,
              also=[wrapper] if named else [], detail=f"{ext} via {wrapper}")
    s.logs.append(LogSpec(wrapper, 0.6 * r, "warn", (
        f"call to {ext} took {{ms}}ms (budget 1500ms)",
        f"{ext}: read timeout after {{ms}}ms; circuit half-open")))
    s.alerts = [*upstream_alerts(m, wrapper, rng), (wrapper, "latency")]
    return s


def code_exception(m: Model, c: Cluster, rng: np.random.Generator, on: int) -> Story:
    name = str(pick(rng, [n for n in served(m) if all(m.wl[a].role != "gateway"
                                                      for a in callers(m, n))]))
    r = ramp(c.T, on, 1)
    m.w_err[name] = float(rng.uniform(0.1, 0.35)) * r
    s = Story("code_exception", "code_error", name, on, hide_errors={name},
              detail="answers 200 with an error body; only logs and spans show it")
    s.logs.append(LogSpec(name, 1.0 * r, "error", (
        "Traceback (most recent call last): ... KeyError: 'tier_discount'",
        "Exception in handler: java.lang.NullPointerException: Cannot invoke "
        "\"java.math.BigDecimal.scale()\" because \"rate\" is null",
        "caught error, returning empty result: unexpected end of JSON input")))
    s.alerts = upstream_alerts(m, name, rng, ("errors",))
    return s


def traffic_growth(m: Model, c: Cluster, rng: np.random.Generator, on: int) -> Story:
    name = str(pick(rng, served(m)))
    for n in m.util0:
        m.util0[n] = min(m.util0[n], 0.4)
    m.util0[name] = float(rng.uniform(0.55, 0.62))
    m.entry = m.entry * (1 + float(rng.uniform(0.6, 1.0)) * ramp(c.T, on, 50 * MIN, 1.2))
    s = Story("traffic_growth", "traffic", name, on, detail="campaign traffic, no headroom")
    if rng.random() < 0.5:
        s.events.append({"step": on + 35 * MIN, "service": name, "kind": "scale",
                         "summary": f"HorizontalPodAutoscaler {name}: desired replicas above "
                                    "maxReplicas; ScalingLimited", "reason": "ScalingLimited"})
    s.alerts = upstream_alerts(m, name, rng, ("latency", "errors"))
    return s


FAMILIES: dict[str, Callable[[Model, Cluster, np.random.Generator, int], Story]] = {
    "jvm_heap_gc": jvm_heap, "slow_query_pool": slow_query, "canary_bad_deploy": canary_deploy,
    "config_push": config_push, "dns_failure": dns_failure, "retry_storm": retry_storm,
    "cache_stampede": cache_stampede, "cron_batch_db": cron_batch,
    "noisy_neighbour": noisy_neighbour, "node_disk_io": node_disk,
    "node_packet_loss": node_nic, "third_party_slow": third_party,
    "code_exception": code_exception, "traffic_growth": traffic_growth,
}
