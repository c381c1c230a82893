"""How the metrics people actually run are read: one PromQL recipe per signal.

Given the metric names found under a service's selector, `recipes()` says which queries to
run and what each one means. Exporters' conventions come first, because summing their raw
series is wrong:

- node_exporter: CPU is the busy share (1 − the idle rate averaged over cores, busiest
  instance); memory is 1 − MemAvailable/MemTotal; filesystems their used share; disks their
  busy share; network bytes and drops per second.
- cAdvisor / kubelet: container CPU in cores and, where a limit is known (kube-state-metrics
  or cAdvisor's own spec), as a share of it; the memory working set and its share of the
  limit; CFS throttling.
- kube-state-metrics: restarts, and restarts whose last termination was OOMKilled.
- histograms: p99 from `histogram_quantile` over the `_bucket` rates, the request rate from
  `_count`, and the 5xx rate where a status label exists; summaries: their 0.99 quantile.
- application gauges are averaged and counters (`_total`) turned into per-second rates, as
  before; the rest of an exporter's internals (go_*, process_* ...) is left out.

Every recipe names its unit and a plain label, so a finding can say "CPU busy 93%" instead of
a metric name and a z-score; its own expression is what the evidence link opens.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from integrations.telemetry.base import metric_family

MAX_GENERIC = 40  # application metrics read per service, beyond the recognised ones
STATUS_LABELS = ("code", "status", "status_code", "http_status")
# Exporter internals: numerous, and not what an alert is about.
_INTERNAL = ("go_", "process_", "promhttp_", "scrape_", "prometheus_", "net_conntrack_",
             "node_", "container_", "kube_", "machine_", "kubelet_", "apiserver_", "rest_client_",
             "workqueue_", "storage_operation_")


IDLE = 'mode="idle"'
NOT_LO = 'device!="lo"'
OOM = 'reason="OOMKilled"'
Q99 = 'quantile="0.99"'
Q9X = 'quantile=~"0[.]9.*"'
REAL_FS = 'fstype!~"tmpfs|overlay|squashfs|ramfs"'
_Sel = Callable[..., str]  # builds the service's selector with extra matchers


def _eq(label: str, value: str) -> str:
    return f'{label}="{escape(value)}"'


def _5xx(label: str) -> str:
    return f'{label}=~"5.."'


@dataclass(frozen=True, slots=True)
class Recipe:
    metric: str  # the name the investigator sees; its family is read from it
    expr: str    # PromQL evaluated as a range query over the incident window
    unit: str    # "share" (0–1), "bytes", "seconds", "cores", "per second", ...
    label: str   # what it is, in words


def unit_of(name: str) -> str:
    for suffix, unit in (("_seconds", "seconds"), ("_milliseconds", "ms"), ("_ms", "ms"),
                         ("_bytes", "bytes"), ("_ratio", "share"), ("_percent", "%")):
        if name.removesuffix("_total").endswith(suffix):
            return unit
    return ""


def metric_words(name: str) -> tuple[str, str]:
    """A label and a unit for a metric whose source gave neither (a scenario's
    `latency_p99_ms`, an application gauge): "p99 latency", "ms"."""
    unit = unit_of(name) or next((u for suffix, u in _SUFFIX_UNITS if name.endswith(suffix)),
                                 "")
    stem = name.removesuffix("_total")
    for suffix, _ in (*_SUFFIX_UNITS, ("_seconds", ""), ("_milliseconds", ""), ("_ms", ""),
                      ("_bytes", ""), ("_ratio", ""), ("_percent", "")):
        stem = stem.removesuffix(suffix)
    quantile = re.search(r"(?:^|_)(p\d{2,3})(?:_|$)", stem)
    if quantile:
        stem = re.sub(r"(?:^|_)p\d{2,3}(?=_|$)", "", stem).strip("_")
    text = " ".join(_WORDS.get(w, w) for w in stem.split("_") if w)
    if quantile:
        text = f"{quantile.group(1)} {text}"
    return text or name, unit


_SUFFIX_UNITS = (("_per_s", "per second"), ("_per_second", "per second"), ("_pct", "%"),
                 ("_util", "%"))
_WORDS = {"cpu": "CPU", "rpc": "RPC", "api": "API", "gc": "GC", "mem": "memory", "io": "I/O",
          "rtt": "round-trip time", "net": "network", "db": "database", "http": "HTTP",
          "rps": "requests per second"}


def selector(matchers: dict[str, str], *extra: str) -> str:
    parts = [f'{k}="{escape(v)}"' for k, v in sorted(matchers.items())] + list(extra)
    return "{" + ",".join(parts) + "}"


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def recipes(names: set[str], labels: set[str], matchers: dict[str, str], rate: str
            ) -> list[Recipe]:
    """The queries for one service, given the metric and label names under its selector."""
    def s(*extra: str) -> str:
        return selector(matchers, *extra)

    out: list[Recipe] = []
    out += _node(names, s, rate)
    out += _containers(names, s, rate)
    out += _kube_state(names, s, rate)
    out += _histograms(names, labels, s, rate)
    out += _generic(names, labels, s, rate)
    return out


def _node(names: set[str], s: _Sel, rate: str) -> list[Recipe]:
    out = []
    if "node_cpu_seconds_total" in names:
        out.append(Recipe("cpu_busy_share",
                          f'1 - min(avg by (instance) (rate(node_cpu_seconds_total'
                          f'{s(IDLE)}[{rate}])))', "share",
                          "CPU busy (busiest instance)"))
    if {"node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes"} <= names:
        out.append(Recipe("memory_used_share",
                          f"max(1 - node_memory_MemAvailable_bytes{s()} / "
                          f"node_memory_MemTotal_bytes{s()})", "share",
                          "memory in use (busiest instance)"))
    if {"node_filesystem_avail_bytes", "node_filesystem_size_bytes"} <= names:
        fs = s(REAL_FS)
        out.append(Recipe("disk_used_share",
                          f"max(1 - node_filesystem_avail_bytes{fs} / "
                          f"node_filesystem_size_bytes{fs})", "share",
                          "fullest filesystem's used share"))
    if "node_disk_io_time_seconds_total" in names:
        out.append(Recipe("disk_busy_share",
                          f"max(rate(node_disk_io_time_seconds_total{s()}[{rate}]))", "share",
                          "busiest disk's time spent on I/O"))
    for direction in ("receive", "transmit"):
        name = f"node_network_{direction}_bytes_total"
        if name in names:
            out.append(Recipe(f"network_{direction}_bytes", f'sum(rate({name}'
                              f'{s(NOT_LO)}[{rate}]))', "bytes per second",
                              f"network bytes {direction}d per second"))
    drops = [n for n in ("node_network_receive_drop_total", "node_network_transmit_drop_total")
             if n in names]
    if drops:
        expr = " + ".join(f'sum(rate({n}{s(NOT_LO)}[{rate}]))' for n in drops)
        out.append(Recipe("network_drops", expr, "per second", "network packets dropped"))
    return out


def _containers(names: set[str], s: _Sel, rate: str) -> list[Recipe]:
    out = []
    real = 'container!="",container!="POD"'
    by = "namespace, pod, container"
    if "container_cpu_usage_seconds_total" in names:
        usage = f"rate(container_cpu_usage_seconds_total{s(real)}[{rate}])"
        out.append(Recipe("cpu_usage_cores", f"sum({usage})", "cores", "container CPU in use"))
        limit = _limit(names, s, "cpu")
        if limit:
            out.append(Recipe("cpu_limit_share", f"max(sum by ({by}) ({usage}) / on ({by}) "
                                                 f"{limit})", "share",
                              "container CPU against its limit (highest container)"))
    if {"container_cpu_cfs_throttled_periods_total", "container_cpu_cfs_periods_total"} <= names:
        out.append(Recipe("cpu_throttled_share",
                          f"max(sum by ({by}) (rate(container_cpu_cfs_throttled_periods_total"
                          f"{s(real)}[{rate}])) / on ({by}) sum by ({by}) (rate("
                          f"container_cpu_cfs_periods_total{s(real)}[{rate}])))", "share",
                          "CPU periods throttled by the limit"))
    if "container_memory_working_set_bytes" in names:
        ws = f"max by ({by}) (container_memory_working_set_bytes{s(real)})"
        out.append(Recipe("memory_working_set_bytes", f"sum({ws})", "bytes",
                          "container memory working set"))
        limit = _limit(names, s, "memory")
        if limit:
            out.append(Recipe("memory_limit_share", f"max({ws} / on ({by}) {limit})", "share",
                              "memory working set against its limit (highest container)"))
    return out


def _limit(names: set[str], s: _Sel, resource: str) -> str | None:
    by = "namespace, pod, container"
    if "kube_pod_container_resource_limits" in names:
        return (f'max by ({by}) (kube_pod_container_resource_limits'
                f'{s(_eq("resource", resource))})')
    if resource == "memory" and "container_spec_memory_limit_bytes" in names:
        return f"(max by ({by}) (container_spec_memory_limit_bytes{s()}) > 0)"
    if resource == "cpu" and {"container_spec_cpu_quota", "container_spec_cpu_period"} <= names:
        return (f"(max by ({by}) (container_spec_cpu_quota{s()}) > 0) / on ({by}) "
                f"max by ({by}) (container_spec_cpu_period{s()})")
    return None


def _kube_state(names: set[str], s: _Sel, rate: str) -> list[Recipe]:
    out = []
    by = "namespace, pod, container"
    restarts = "kube_pod_container_status_restarts_total"
    if restarts in names:
        out.append(Recipe("restarts", f"sum(increase({restarts}{s()}[{rate}]))", "restarts",
                          f"container restarts per {rate}"))
        if "kube_pod_container_status_last_terminated_reason" in names:
            out.append(Recipe(
                "memory_oom_kills",
                f"sum(increase({restarts}{s()}[{rate}]) and on ({by}) "
                f'(kube_pod_container_status_last_terminated_reason{s(OOM)}'
                f" == 1)) or 0 * sum(increase({restarts}{s()}[{rate}]))", "restarts",
                f"restarts after an OOMKill per {rate}"))
    return out


def _histograms(names: set[str], labels: set[str], s: _Sel, rate: str) -> list[Recipe]:
    out = []
    status = next((label for label in STATUS_LABELS if label in labels), None)
    for bucket in sorted(n for n in names if n.endswith("_bucket")):
        base = bucket.removesuffix("_bucket")
        if base.startswith(_INTERNAL):
            continue
        unit = unit_of(base)
        out.append(Recipe(_latency_name(base, "p99"),
                          f"histogram_quantile(0.99, sum by (le) (rate({bucket}{s()}[{rate}])))",
                          unit, _p99_label(base)))
        if f"{base}_count" in names:
            out += _requests(f"{base}_count", base, status, s, rate)
    for base in sorted(n for n in names if {f"{n}_sum", f"{n}_count"} <= names
                       and f"{n}_bucket" not in names):
        if base.startswith(_INTERNAL):
            continue
        out.append(Recipe(_latency_name(base, "p99"),
                          f'max({base}{s(Q99)}) or max({base}'
                          f'{s(Q9X)})', unit_of(base),
                          _p99_label(base)))
        out += _requests(f"{base}_count", base, status, s, rate)
    return out


def _p99_label(base: str) -> str:
    said = metric_words(base)[0]
    return f"p99 latency ({said})" if metric_family(base) == "latency" else f"p99 of {said}"


def _latency_name(base: str, quantile: str) -> str:
    if metric_family(base) == "latency":
        return f"{base}_{quantile}"
    return f"latency_{quantile}:{base}"


def _requests(counter: str, base: str, status: str | None, s: _Sel, rate: str
              ) -> list[Recipe]:
    total = f"sum(rate({counter}{s()}[{rate}]))"
    said = metric_words(base)[0]
    out = [Recipe(f"requests:{base}", total, "per second", f"requests per second ({said})")]
    if status:
        out.append(Recipe(f"errors_5xx:{base}",
                          f'sum(rate({counter}{s(_5xx(status))}[{rate}])) or 0 * '
                          f"{total}", "per second", f"5xx answers per second ({said})"))
    return out


def _generic(names: set[str], labels: set[str], s: _Sel, rate: str) -> list[Recipe]:
    """Application metrics without a convention: gauges averaged, counters as rates."""
    histogram_parts = {n for n in names for suffix in ("_bucket", "_sum", "_count", "_created")
                       if n.endswith(suffix)}
    summaries = {n for n in names if {f"{n}_sum", f"{n}_count"} <= names}
    out = []
    status = next((label for label in STATUS_LABELS if label in labels), None)
    interesting = sorted(n for n in names if not n.startswith(_INTERNAL)
                         and n not in histogram_parts and n not in summaries and n != "up")
    for name in interesting[:MAX_GENERIC]:
        if name.endswith("_total"):
            short = name.removesuffix("_total")
            said = metric_words(short)[0]
            out.append(Recipe(short, f"sum(rate({name}{s()}[{rate}]))", "per second",
                              f"{said} per second"))
            if status and re.search(r"request|response|http|rpc", name):
                out.append(Recipe(f"errors_5xx:{short}", f'sum(rate({name}'
                                  f'{s(_5xx(status))}[{rate}])) or 0 * '
                                  f"sum(rate({name}{s()}[{rate}]))", "per second",
                                  f"5xx answers per second ({said})"))
        else:
            out.append(Recipe(name, f"avg({name}{s()})", *reversed(metric_words(name))))
    if "up" in names:
        out.append(Recipe("availability_up", f"avg(up{s()})", "share",
                          "targets up (share of scrapes that succeeded)"))
    return out


