"""Model state → Prometheus-shaped series, and the Alertmanager rule that fires on them.

Names follow what exporters and client libraries actually emit, and differ by stack and by
team convention (one case's Java services report p99 in seconds and 5xx per second, its Go
services p95 in milliseconds and an error ratio), because a real estate is never uniform.
Counters are written as rates (what a recording rule stores). Scrapes are sometimes missed,
and a pod that is being restarted is not scraped at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evals.synthetic_prod.model import DT, State
from evals.synthetic_prod.systems import System

# per convention: (latency metric, unit, quantile, rps metric, errors metric, errors as)
CONVENTIONS = [
    (
        "http_server_requests_p99_seconds",
        "s",
        0.99,
        "http_requests_per_second",
        "http_5xx_per_second",
        "count",
    ),
    ("request_latency_p95_ms", "ms", 0.95, "requests_per_second", "error_rate", "ratio"),
    (
        "http_request_duration_p99_ms",
        "ms",
        0.99,
        "http_requests_per_second",
        "http_5xx_ratio",
        "ratio",
    ),
]
Z = {0.95: 1.645, 0.99: 2.326}


@dataclass
class Rendered:
    series: dict[tuple[str, str], np.ndarray]  # on the scrape grid, NaN = missed scrape
    step: int  # model steps per scrape
    latency: dict[str, str]  # service -> its latency metric
    errors: dict[str, tuple[str, str]]  # service -> (metric, "count"|"ratio")
    rps: dict[str, str]
    lag: dict[str, str]


def render(
    system: System, st: State, rng: np.random.Generator, step: int, throttle_metrics: bool
) -> Rendered:
    n = len(next(iter(st.rps.values())))
    idx = np.arange(0, n, step)
    secs = step * DT
    conv = {
        stack: CONVENTIONS[int(rng.integers(len(CONVENTIONS)))]
        for stack in ("java", "go", "python", "node")
    }
    out: dict[tuple[str, str], np.ndarray] = {}
    lat_of, err_of, rps_of, lag_of = {}, {}, {}, {}

    def noisy(a: np.ndarray, sd: float) -> np.ndarray:
        return a[idx] * np.exp(rng.normal(0, sd, idx.size))

    def latency(name: str, metric: str, unit: str, q: float) -> None:
        med, p99 = st.med[name][idx], st.p99[name][idx]
        tail = np.maximum(p99 / np.maximum(med, 1e-6), 1.0)
        v = med * tail ** (Z[q] / Z[0.99]) * np.exp(rng.normal(0, 0.1, idx.size))
        out[(name, metric)] = v / 1000 if unit == "s" else v
        lat_of[name] = metric

    def counts(name: str, metric: str, how: str, rps_metric: str) -> None:
        reqs = np.maximum(st.rps[name][idx] * np.exp(rng.normal(0, 0.03, idx.size)), 0)
        bad = rng.poisson(np.clip(reqs * st.err[name][idx], 0, None) * secs) / secs
        out[(name, rps_metric)] = reqs
        out[(name, metric)] = bad if how == "count" else bad / np.maximum(reqs, 1e-9)
        err_of[name], rps_of[name] = (metric, how), rps_metric

    for name, s in system.services.items():
        if s.role == "external":
            # blackbox exporter probing the provider's health endpoint
            out[(name, "probe_duration_seconds")] = noisy(st.own_med[name], 0.15) / 1000
            out[(name, "probe_success")] = (
                rng.random(idx.size) > np.clip(st.own_err[name][idx] * 2, 0, 1)
            ).astype(float)
            continue
        out[(name, "container_cpu_usage_seconds")] = np.maximum(
            st.cpu[name][idx] + rng.normal(0, 0.01, idx.size), 0.001
        )
        out[(name, "container_memory_working_set_bytes")] = st.mem[name][idx]
        if throttle_metrics and s.role in ("app", "edge", "worker"):
            out[(name, "container_cpu_cfs_throttled_seconds")] = st.throttle[name][
                idx
            ] * 0.8 + np.abs(rng.normal(0, 0.002, idx.size))
        if s.role in ("app", "edge"):
            lm, unit, q, rm, em, how = conv[s.stack]
            latency(name, lm, unit, q)
            counts(name, em, how, rm)
        elif s.role == "worker":
            latency(name, "message_processing_p95_ms", "ms", 0.95)
            counts(name, "processing_failures_per_second", "count", "messages_processed_per_second")
            out[(name, "kafka_consumergroup_lag")] = np.round(st.lag[name][idx])
            lag_of[name] = "kafka_consumergroup_lag"
        elif s.role == "db":
            engine = "clickhouse" if "clickhouse" in name else "pg"
            latency(
                name,
                f"{'clickhouse' if engine == 'clickhouse' else 'db'}_query_duration_p95_ms",
                "ms",
                0.95,
            )
            counts(
                name,
                f"{engine}_failed_queries_per_second"
                if engine == "clickhouse"
                else "pg_rollbacks_per_second",
                "count",
                f"{engine}_queries_per_second"
                if engine == "clickhouse"
                else "pg_transactions_per_second",
            )
            if engine == "pg":
                out[(name, "pg_active_connections")] = np.round(
                    st.conns[name][idx] * np.exp(rng.normal(0, 0.05, idx.size))
                )
        elif s.role == "cache":
            latency(name, "redis_command_duration_p99_ms", "ms", 0.99)
            reqs = st.rps[name][idx] * np.exp(rng.normal(0, 0.03, idx.size))
            out[(name, "redis_commands_per_second")] = reqs
            out[(name, "redis_connected_clients")] = np.round(
                40 + 0.02 * reqs + rng.normal(0, 2, idx.size)
            )
        elif s.role == "queue":
            latency(name, "kafka_request_latency_p99_ms", "ms", 0.99)
            out[(name, "kafka_messages_in_per_second")] = noisy(st.rps[name], 0.03)
        elif s.role == "search":
            latency(name, "elasticsearch_search_latency_p95_ms", "ms", 0.95)
            counts(
                name,
                "elasticsearch_search_failures_per_second",
                "count",
                "elasticsearch_search_queries_per_second",
            )
        if name in st.disk_avail:
            out[(name, "kubelet_volume_stats_available_bytes")] = np.round(st.disk_avail[name][idx])
        # a pod being restarted is not scraped
        gone = st.down[name][idx]
        for (svc, _metric), v in out.items():
            if svc == name:
                v[gone] = np.nan
    for node in st.node_cpu:
        out[(node, "node_cpu_utilisation")] = np.clip(
            st.node_cpu[node][idx] + rng.normal(0, 0.01, idx.size), 0, 1
        )
        out[(node, "node_memory_available_bytes")] = st.node_mem[node][idx]
        out[(node, "node_netstat_tcp_retrans_segs_per_second")] = noisy(st.node_retrans[node], 0.1)
        stores = [m for m in system.nodes()[node] if m in st.io_util]
        if stores:
            out[(node, "node_disk_io_time_seconds")] = np.clip(
                np.max([st.io_util[m][idx] for m in stores], axis=0)
                + rng.normal(0, 0.01, idx.size),
                0,
                1,
            )
    # missed scrapes: single samples, and now and then a whole target for a scrape or two
    for v in out.values():
        v[rng.random(idx.size) < 0.004] = np.nan
    names = sorted({s for s, _ in out})
    for _ in range(int(rng.integers(0, 4))):
        who, at = names[int(rng.integers(len(names)))], int(rng.integers(0, idx.size - 2))
        for (svc, _), v in out.items():
            if svc == who:
                v[at : at + int(rng.integers(1, 3))] = np.nan
    return Rendered(out, step, lat_of, err_of, rps_of, lag_of)


def rule_series(r: Rendered, service: str, signal: str) -> np.ndarray | None:
    """What the alert expression evaluates: a 3-minute average, as rate()/histogram
    windows smooth it (gaps skipped)."""
    if signal == "latency" and service in r.latency:
        raw = r.series[(service, r.latency[service])]
    elif signal == "errors" and service in r.errors:
        metric, how = r.errors[service]
        raw = r.series[(service, metric)]
        if how == "count":
            raw = raw / np.maximum(r.series[(service, r.rps[service])], 1e-9)
    elif signal == "saturation" and service in r.lag:
        raw = r.series[(service, r.lag[service])]
    else:
        return None
    width = max(1, round(180 / (r.step * DT)))
    ok = np.isfinite(raw)
    vals = np.where(ok, raw, 0.0)
    kernel = np.ones(width)
    num = np.convolve(vals, kernel)[: raw.size]
    den = np.convolve(ok.astype(float), kernel)[: raw.size]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)
