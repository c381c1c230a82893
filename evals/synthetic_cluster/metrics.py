"""metrics.csv as each stack would have stored it.

The model speaks in canonical quantities (requests/s, ms, cores, bytes, ratios). Each stack
renames them, changes units, and decides what is a running total (Prometheus counters,
reset when a container restarts), a per-interval count (Datadog `count`), a per-second rate
(Datadog `rate`) or a gauge, and how often it is scraped. Names follow the real exporters:
cadvisor and kube-state-metrics, node_exporter and its kube-prometheus recording rules,
Istio/Envoy stats, OpenTelemetry semantic conventions (kubeletstats, hostmetrics, http/rpc/
db/jvm instrumentation), the Datadog agent and APM, and the common database exporters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from evals.synthetic_cluster.cluster import STEP, Pod
from evals.synthetic_cluster.faults import Story
from evals.synthetic_cluster.model import Z99, Model, ncdf

G = 2**30
# canonical -> (name, scale, mode, scrape seconds); mode: gauge | counter | count | rate
Spec = tuple[str, float, str, int]
POD: dict[str, dict[str, Spec]] = {
    "istio": {"cpu": ("container_cpu_usage_seconds_total", 1, "counter", 30),
              "mem": ("container_memory_working_set_bytes", 1, "gauge", 30),
              "restarts": ("kube_pod_container_status_restarts_total", 1, "gauge", 60),
              "throttle": ("container_cpu_cfs_throttled_seconds_total", 1, "counter", 30),
              "gc": ("jvm_gc_pause_seconds_sum", 1, "counter", 30),
              "heap": ("jvm_memory_used_bytes", 1, "gauge", 30),
              "pool_active": ("hikaricp_connections_active", 1, "gauge", 30),
              "pool_pending": ("hikaricp_connections_pending", 1, "gauge", 30)},
    "otel": {"cpu": ("k8s.pod.cpu.usage", 1, "gauge", 30),
             "mem": ("k8s.pod.memory.working_set", 1, "gauge", 30),
             "restarts": ("k8s.container.restarts", 1, "gauge", 60),
             "throttle": ("container_cpu_cfs_throttled_seconds_total", 1, "counter", 30),
             "gc": ("jvm.gc.duration.sum", 1, "counter", 30),
             "heap": ("process.runtime.jvm.memory.usage", 1, "gauge", 30),
             "pool_active": ("db.client.connections.usage", 1, "gauge", 30),
             "pool_pending": ("db.client.connections.pending_requests", 1, "gauge", 30),
             "req": ("http.server.request.duration.count", 1, "counter", 30),
             "err": ("http.server.request.duration.count.5xx", 1, "counter", 30),
             "p99": ("http.server.request.duration.p99", 0.001, "gauge", 30),
             "p50": ("http.server.request.duration.p50", 0.001, "gauge", 30)},
    "datadog": {"cpu": ("kubernetes.cpu.usage.total", 1e9, "gauge", 30),
                "mem": ("kubernetes.memory.usage", 1, "gauge", 30),
                "restarts": ("kubernetes.containers.restarts", 1, "gauge", 30),
                "throttle": ("kubernetes.cpu.cfs.throttled.seconds", 1, "rate", 30),
                "gc": ("jvm.gc.major_collection_time", 1000, "rate", 30),
                "heap": ("jvm.heap_memory", 1, "gauge", 30)},
    "prommix": {"cpu": ("container_cpu_usage_seconds_total", 1, "counter", 30),
                "mem": ("container_memory_rss", 1, "gauge", 60),
                "restarts": ("kube_pod_container_status_restarts_total", 1, "gauge", 60),
                "throttle": ("container_cpu_cfs_throttled_periods_total", 10, "counter", 30),
                "gc": ("jvm_gc_collection_seconds_sum", 1, "counter", 30),
                "heap": ("jvm_memory_bytes_used", 1, "gauge", 60),
                "req": ("grpc_server_handled_total", 1, "counter", 30),
                "err": ("grpc_server_handled_total_unavailable", 1, "counter", 30),
                "p99": ("grpc_server_handling_seconds_p99", 0.001, "gauge", 30)},
}
# The half of adserve already on OpenTelemetry reports RPC durations in milliseconds.
OTEL_RPC = {"req": ("rpc.server.duration.count", 1, "counter", 30),
            "err": ("rpc.server.duration.count.error", 1, "counter", 30),
            "p99": ("rpc.server.duration.p99", 1, "gauge", 30)}
WORKLOAD: dict[str, dict[str, Spec]] = {
    "istio": {"ok": ("istio_requests_total_2xx", 1, "counter", 30),
              "err": ("istio_requests_total_5xx", 1, "counter", 30),
              "p99": ("istio_request_duration_milliseconds_p99", 1, "gauge", 30),
              "p50": ("istio_request_duration_milliseconds_p50", 1, "gauge", 30),
              "timeout": ("envoy_cluster_upstream_rq_timeout", 1, "counter", 30)},
    "otel": {"req": ("kong_http_requests_total", 1, "counter", 15),
             "err": ("kong_http_requests_5xx_total", 1, "counter", 15),
             "p99": ("kong_request_latency_ms_p99", 1, "gauge", 15)},
    "datadog": {"req": ("trace.http.request.hits", 1, "count", 20),
                "err": ("trace.http.request.errors", 1, "count", 20),
                "p99": ("trace.http.request.duration.by.service.99p", 0.001, "gauge", 20),
                "p50": ("trace.http.request.duration.by.service.50p", 0.001, "gauge", 20)},
    "prommix": {"ok": ("envoy_http_downstream_rq_2xx", 1, "counter", 15),
                "err": ("envoy_http_downstream_rq_5xx", 1, "counter", 15),
                "p99": ("envoy_http_downstream_rq_time_p99", 1, "gauge", 15),
                "timeout": ("envoy_cluster_upstream_rq_timeout", 1, "counter", 15)},
}
NODE: dict[str, dict[str, Spec]] = {
    "istio": {"cpu": ("instance:node_cpu_utilisation:rate5m", 1, "gauge", 30),
              "avail": ("node_memory_MemAvailable_bytes", 1, "gauge", 30),
              "disk": ("node_disk_io_time_seconds_total", 1, "counter", 30),
              "drop": ("node_network_receive_drop_total", 1, "counter", 30)},
    "otel": {"cpu": ("system.cpu.utilization", 1, "gauge", 30),
             "memu": ("system.memory.utilization", 1, "gauge", 30),
             "disk": ("system.disk.io_time", 1, "counter", 30),
             "drop": ("system.network.dropped", 1, "counter", 30)},
    "datadog": {"cpu": ("system.cpu.user", 100, "gauge", 15),
                "memu": ("system.mem.pct_usable", -1, "gauge", 15),
                "disk": ("system.io.util", 100, "gauge", 15),
                "drop": ("system.net.packets_in.error", 1, "rate", 15)},
    "prommix": {"cpu": ("node:node_cpu_utilisation:avg1m", 1, "gauge", 60),
                "avail": ("node_memory_MemAvailable_bytes", 1, "gauge", 60),
                "disk": ("node_disk_io_time_weighted_seconds_total", 1, "counter", 60),
                "drop": ("node_network_receive_errs_total", 1, "counter", 60)},
}
_PROM_STORE = {"pg": {"conns": "pg_stat_activity_count", "reads": "pg_stat_database_blks_read",
                      "slow": "pg_stat_activity_max_tx_duration"},
               "mysql": {"conns": "mysql_global_status_threads_connected",
                         "slow": "mysql_global_status_slow_queries"},
               "mongo": {"conns": "mongodb_connections_current",
                         "reads": "mongodb_op_counters_total_query"},
               "search": {"reads": "elasticsearch_indices_search_query_total"},
               "redis": {"hits": "redis_keyspace_hits_total", "miss": "redis_keyspace_misses_total",
                         "evict": "redis_evicted_keys_total", "cmem": "redis_memory_used_bytes"},
               "memcached": {"miss": "memcached_get_misses_total",
                             "evict": "memcached_items_evicted_total",
                             "cmem": "memcached_current_bytes"},
               "rabbitmq": {"depth": "rabbitmq_queue_messages_ready"},
               "pgbouncer": {"wait": "pgbouncer_pools_client_waiting_connections"}}
STORE: dict[str, dict[str, dict[str, str]]] = {
    "istio": _PROM_STORE, "prommix": _PROM_STORE,
    "otel": {"pg": {"conns": "postgresql.backends", "reads": "postgresql.blocks_read"},
             "redis": {"hits": "redis.keyspace.hits", "miss": "redis.keyspace.misses",
                       "evict": "redis.keys.evicted", "cmem": "redis.memory.used"},
             "nats": {"depth": "nats_consumer_num_pending"},
             "search": {"reads": "typesense_search_requests_total"},
             "pgbouncer": {"wait": "pgbouncer_pools_client_waiting_connections"}},
    "datadog": {"pg": {"conns": "postgresql.connections", "reads": "postgresql.disk_read"},
                "mysql": {"conns": "mysql.performance.threads_running",
                          "slow": "mysql.performance.slow_queries"},
                "mongo": {"conns": "mongodb.connections.current",
                          "reads": "mongodb.opcounters.queryps"},
                "redis": {"miss": "redis.stats.keyspace_misses", "evict": "redis.keys.evicted",
                          "cmem": "redis.mem.used"},
                "memcached": {"miss": "memcache.get_misses_rate", "cmem": "memcache.bytes"},
                "nats": {"depth": "nats.jetstream.consumer.num_pending"}},
}
COUNTERISH = {"reads", "hits", "miss", "evict"}  # running totals in Prometheus/OTel, rates in DD


def engine(name: str) -> str:
    for key, eng in (("pgbouncer", "pgbouncer"), ("pg", "pg"), ("postgres", "pg"),
                     ("mysql", "mysql"), ("mongo", "mongo"), ("opensearch", "search"),
                     ("typesense", "search"), ("redis", "redis"), ("memcached", "memcached"),
                     ("rabbitmq", "rabbitmq"), ("nats", "nats")):
        if key in name:
            return eng
    return ""


def fmt(v: float, counter: bool = False) -> str:
    # Counters keep their fractions (cpu seconds), or a rate from two samples is noise.
    if abs(v) >= 1000 and not counter:
        return str(round(v))
    text = f"{v:.3f}" if counter else f"{v:.4f}"
    return text.rstrip("0").rstrip(".") if v else "0"


class Writer:
    """Samples step arrays at a scrape interval over the case window and formats rows."""

    def __init__(self, m: Model, lo: int, hi: int, epoch0: int, rng: np.random.Generator,
                 slow: int = 1) -> None:
        self.m, self.lo, self.hi, self.epoch0, self.rng = m, lo, hi, epoch0, rng
        self.rows: list[str] = []
        # >1 when the case would be too large: as if exported at a coarser query step
        self.slow = slow
        # one outage of a scrape source in some cases: a gap every series of it shares
        self.gap = (0, 0)
        if rng.random() < 0.35:
            g0 = int(rng.integers(lo, hi - 10))
            self.gap = (g0, g0 + int(rng.integers(12, 36)))

    def emit(self, svc: str, spec: Spec, arr: np.ndarray, alive: np.ndarray | None = None,
             resets: Sequence[int] = (), start: float = 0.0) -> None:
        name, scale, mode, every = spec
        every = min(max(every, every * self.slow), max(every, 60))
        phase = int(self.rng.integers(0, every))
        t_first = self.lo * STEP + phase
        ts = np.arange(t_first, self.hi * STEP, every)
        idx = np.minimum(ts // STEP, self.m.T - 1)
        if mode == "counter":
            inc = arr * STEP * scale
            cum = np.cumsum(inc) + start
            for r in resets:  # a new container starts its counters at zero
                if 0 <= r < len(cum):
                    cum[r:] -= cum[r] - inc[r]
            vals = cum[idx]
        elif mode == "count":
            cum = np.concatenate([[0.0], np.cumsum(arr * STEP * scale)])
            vals = cum[idx + 1] - cum[np.maximum(idx + 1 - every // STEP, 0)]
        else:
            vals = arr[idx] * scale if scale > 0 else 1 - arr[idx]
        keep = np.ones(len(ts), bool)
        if alive is not None:
            keep &= alive[idx] > 0
        keep &= ~((idx >= self.gap[0]) & (idx < self.gap[1]))
        keep &= self.rng.random(len(ts)) > 0.004  # the odd missed scrape
        if mode == "counter" and not any(u in name for u in ("seconds", "duration", "io_time")):
            vals = np.floor(vals)  # counts of events are whole numbers
        counter = mode == "counter"
        for t, v in zip(ts[keep], vals[keep], strict=True):
            self.rows.append(f"{self.epoch0 + int(t)},{svc},{name},{fmt(float(v), counter)}\n")


def base_mem(m: Model, w: str) -> float:
    lang, role = m.wl[w].lang, m.wl[w].role
    if role in ("db", "queue"):
        return 3.5 * G
    if role == "cache":
        return 1.6 * G
    return {"jvm": 1.05 * G, "py": 0.33 * G, "node": 0.22 * G}.get(lang, 0.09 * G)


def pods_of(m: Model, w: str) -> tuple[list[Pod], np.ndarray, np.ndarray, np.ndarray]:
    return m.pod_share.get(w, ([], np.zeros((0, m.T)), np.zeros((0, m.T)), np.zeros((0, m.T))))


def write_pods(wr: Writer, story: Story, rng: np.random.Generator) -> None:
    m = wr.m
    stack = m.c.system.stack
    t = np.arange(m.T)
    limited = {w for w in m.wl if rng.random() < 0.4 or w == "coredns"}
    for w, wl in m.wl.items():
        if wl.role == "ext":
            continue
        pods, alive, plat, perr = pods_of(m, w)
        nlive = np.maximum(alive.sum(axis=0), 1e-9)
        mean_perr = (alive / nlive * perr).sum(axis=0)
        app = dict(POD[stack])
        if stack == "prommix" and wl.lang in ("py", "jvm", "native"):
            app.update(OTEL_RPC)
        for i, p in enumerate(pods):
            if p.died <= wr.lo or p.born >= wr.hi:
                continue
            a = alive[i]
            resets = sorted(p.restarts)
            noise = 1 + 0.05 * rng.standard_normal(m.T)
            cpu = (m.pod_cpu.get(w, 0.05) + (p.cpu if p.cpu is not None else 0)) * noise
            mem = base_mem(m, w) * (1 + 0.02 * np.sin(t / 40 + i)) + (
                p.mem if p.mem is not None else 0)
            for r in resets:
                mem[r:] *= np.minimum(1, 0.35 + 0.65 * np.arange(m.T - r) / 60)
            age = max(0, -p.born) * STEP
            wr.emit(p.name, app["cpu"], cpu, a, resets, age * float(cpu[0]))
            wr.emit(p.name, app["mem"], mem, a)
            r0 = float(rng.choice([0, 0, 0, 1, 2]))
            wr.emit(p.name, app["restarts"], r0 + np.searchsorted(resets, t, side="right"), a)
            if w in limited:
                lim = max(float(np.quantile(cpu, 0.5)) * 1.6, 0.1)
                # CFS throttling starts before the average reaches the limit (bursts do)
                share = 1 / (1 + np.exp(-8 * (cpu / lim - 0.9)))
                wr.emit(p.name, app["throttle"], 0.3 * share, a, resets)
            if wl.jvm and wl.role not in ("db",):
                saw = 0.35 + 0.25 * ((t * STEP / float(rng.uniform(90, 300))) % 1)
                heap = 1.5 * G * saw + (p.mem if p.mem is not None else 0)
                gc = (0.004 + story.gc.get(p.name, 0 * t)) / STEP
                wr.emit(p.name, app["gc"], gc, a, resets, age * 0.0004)
                wr.emit(p.name, app["heap"], np.minimum(heap, 1.5 * G), a)
            for (c, _b), (act, pend) in m.pool_use.items():
                if c == w and "pool_active" in app and (wl.jvm or stack == "otel"):
                    wr.emit(p.name, app["pool_active"], act * noise, a)
                    # waiters are bounded by the request threads that can wait
                    wr.emit(p.name, app["pool_pending"], np.minimum(pend, 200), a)
                    break
            if "req" in app and wl.role in ("api", "web") and stack != "istio":
                share = a / nlive
                err = np.clip(m.err[w] - mean_perr + perr[i], 0, 1)
                if w in story.hide_errors:  # it answers 200 while failing inside
                    err = np.clip(perr[i], 0, 1) + 0.0005
                lat = m.p99[w] - m.own99[w] + m.own[w] * plat[i] * math.exp(Z99 * m.sigma[w])
                wr.emit(p.name, app["req"], m.rps[w] * share, a, resets, age * 5)
                wr.emit(p.name, app["err"], m.rps[w] * share * err, a, resets, age * 0.004)
                wr.emit(p.name, app["p99"], lat * np.exp(0.08 * rng.standard_normal(m.T)), a)
                if "p50" in app:
                    wr.emit(p.name, app["p50"], m.p50[w] - m.own[w] + m.own[w] * plat[i], a)


def write_workloads(wr: Writer, story: Story) -> None:
    m = wr.m
    stack = m.c.system.stack
    spec = WORKLOAD[stack]
    for w, wl in m.wl.items():
        mesh = stack == "istio" and wl.role not in ("cron", "batch", "ext", "dns")
        edge = wl.role == "gateway"
        apm = stack == "datadog" and wl.role in ("api", "web", "gateway", "worker", "ext")
        if not (mesh or edge or apm):
            continue
        err = np.full(m.T, 0.0004) if w in story.hide_errors else m.err[w]
        req = m.rps[w]
        jitter = np.exp(0.06 * wr.rng.standard_normal(m.T))  # quantiles from few samples
        for key, arr in (("req", req), ("ok", req * (1 - err)), ("err", req * err),
                         ("p99", m.p99[w] * jitter), ("p50", m.p50[w] * jitter ** 0.5)):
            if key == "p50" and wl.role not in ("gateway", "web") and stack == "istio":
                continue  # the mesh dashboards keep a p50 for the edge only
            if key in spec:
                wr.emit(w, spec[key], arr, start=float(arr[0]) * 86400 * (key != "p99"))
        if "timeout" in spec and any(a == w for a, _, _ in m.edges):
            to = sum((m.rps[w] * k * m.edge_fail.get((a, b), 0) for a, b, k in m.edges
                      if a == w and (a, b) in m.edge_fail), np.zeros(m.T))
            wr.emit(w, spec["timeout"], 0.5 * to, start=float(to[0]) * 4000)


def write_nodes(wr: Writer) -> None:
    m = wr.m
    c = m.c
    spec = NODE[c.system.stack]
    t = np.arange(m.T)
    for n in c.nodes:
        util = np.clip(m.node_util[n] + 0.05 + 0.01 * wr.rng.standard_normal(m.T), 0, 1)
        used = np.full(m.T, 1.5 * G)
        disk = np.full(m.T, 0.03) + m.node_disk.get(n, 0)
        pkts = np.full(m.T, 50.0)
        for p in c.on(n):
            if m.wl[p.workload].role == "ext":
                continue
            a = p.alive(t)
            used += base_mem(m, p.workload) * a + (p.mem if p.mem is not None else 0) * a
            if m.wl[p.workload].role in ("db", "queue"):
                disk += 0.12 * np.minimum(m.util[p.workload], 1.5) * a
            pkts += m.rps[p.workload] / max(m.wl[p.workload].replicas, 1) * 20 * a
        drop = pkts * (m.node_loss.get(n, 0) + 1e-5)
        disk = np.clip(disk, 0, 1)
        vals = {"cpu": util, "avail": c.node_mem[n] - used, "memu": used / c.node_mem[n],
                "disk": disk, "drop": drop}
        for key, s in spec.items():
            wr.emit(n, s, vals[key], start=float(vals[key][0]) * 3e6 if s[2] == "counter" else 0)


def write_stores(wr: Writer) -> None:
    """Exporters scraped through the store's Service, so named by workload, not pod."""
    m = wr.m
    stack = m.c.system.stack
    table = STORE[stack]
    for w, wl in m.wl.items():
        names = table.get(engine(w))
        if not names or wl.role not in ("db", "cache", "queue", "proxy"):
            continue
        rps = m.rps[w]
        hit = m.hit.get(w, np.full(m.T, 0.95))
        s = m.sigma[w]
        slow = rps * (1 - ncdf((math.log(1000) - np.log(np.maximum(m.p50[w], 1e-3))) / s))
        conns = 8 + sum((act * m.c.live_count(a) for (a, b), (act, _) in m.pool_use.items()
                         if b == w), np.zeros(m.T))
        depth = sum((d for wk, d in getattr(m, "depth", {}).items()
                     if any(a == wk and b == w for a, b, _ in m.edges)), np.zeros(m.T))
        wait = np.minimum(sum((p for (a, b), (_, p) in m.pool_use.items() if b == w),
                              np.zeros(m.T)), 1000)  # pgbouncer's max_client_conn
        miss = rps * (1 - hit)
        vals = {"conns": conns, "reads": rps * 40 * m.util[w].clip(0.3, 3), "slow": slow,
                "hits": rps * hit, "miss": miss,
                "evict": np.clip(miss - rps * 0.06, 0, None) * 0.8 + 0.01,
                "cmem": 1.2 * G * np.clip(hit / hit[0], 0.05, 1), "depth": depth, "wait": wait}
        every = 15 if stack == "datadog" else 30
        for key, name in names.items():
            if key in COUNTERISH:
                mode = "rate" if stack == "datadog" else "counter"
            elif key == "slow" and stack != "datadog" and "mysql" in name:
                mode = "counter"
            else:
                mode = "gauge"
            scale = 0.001 if name.endswith("max_tx_duration") else 1
            arr = m.p99[w] * 3 if name.endswith("max_tx_duration") else vals[key]
            wr.emit(w, (name, scale, mode, every), arr, start=float(arr[0]) * 5e5)
