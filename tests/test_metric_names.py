"""Metric families by name: DESIGN.md's words, and the names other systems' exporters use;
an alert's signal and a change event's kind read the same way."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from integrations.telemetry.base import metric_family, name_words, seconds_per_unit
from integrations.telemetry.dialects import event_kind
from integrations.telemetry.errors import ScenarioError
from integrations.telemetry.scenario import load_case

NAMES = {
    # What a name opens with may be its subject: the measure names it.
    "request_duration_seconds": "latency", "request_latency_ms": "latency",
    "request_errors_total": "errors", "requests_failed_total": "errors",
    "requests_per_s": "throughput", "http_requests_total": "throughput",
    "http_request_duration_seconds": "latency", "response_time_ms": "latency",
    "rt": "latency", "elapsed_ms": "latency",
    # cadvisor's container disk series; "fsm" is no filesystem.
    "container_fs_writes_bytes_total": "disk", "container-fs-reads-bytes-total": "disk",
    "container_blkio_device_usage_total": "disk", "rabbitmq-diskio": "disk",
    "checkout_fsm_state": "other",
    # RCAEval's load columns, transport-level network series, failures by other words.
    "adservice_load": "throughput", "workload": "throughput", "node_load1": "cpu",
    "load_average": "cpu", "system_load_avg": "cpu",
    "tcp_retransmits_rate": "network", "tcp_srtt_seconds": "network",
    "grpc_server_handled_failed": "errors", "exception_count": "errors",
    # Datastores' and brokers' own load; a percentile is a latency's statistic.
    "pg_transactions_per_second": "throughput", "redis_commands_per_second": "throughput",
    "kafka_messages_in_per_second": "throughput", "clickhouse_queries_per_second": "throughput",
    "mongodb_ops": "throughput", "db_tps": "throughput", "disk_ops": "disk",
    "clickhouse_failed_queries_per_second": "errors", "db_query_duration_p95_ms": "latency",
    "redis_command_duration_p99_ms": "latency", "message_processing_p95_ms": "latency",
    "handler_p99": "latency", "grpc_quantile": "latency",
    "kubelet_volume_stats_available_bytes": "disk",
    # Requests in a unit of time are their latency, unless the name counts them.
    "http_server_requests_p99_seconds": "latency", "http_server_requests_seconds_max": "latency",
    "http_server_requests_seconds_count": "throughput", "http_requests_per_second": "throughput",
    "http_server_requests_seconds_bucket": "throughput", "requests_ms": "latency",
    # A histogram's count is how many requests it timed (failures when it counts them).
    "http.server.request.duration.count": "throughput", "rpc.server.duration.count": "throughput",
    "http.server.request.duration.count.5xx": "errors",
    "rpc.server.duration.count.error": "errors", "request_duration_seconds_count": "throughput",
    # Other exporters' words: Envoy's rq, gRPC codes, Datadog's percentiles, GC, evictions,
    # cache misses, slow queries, blocks read.
    "envoy_http_downstream_rq_2xx": "throughput", "envoy_cluster_upstream_rq_timeout": "errors",
    "grpc_server_handled_total_unavailable": "errors", "grpc_server_handled_non_ok": "other",
    "trace.http.request.duration.by.service.99p": "latency",
    "jvm_gc_pause_seconds_sum": "memory", "jvm.gc.duration.sum": "memory",
    "redis_evicted_keys_total": "memory", "memcached_get_misses_total": "errors",
    "redis.keyspace.misses": "errors", "mysql_global_status_slow_queries": "latency",
    "pg_stat_database_blks_read": "disk", "hikaricp_connections_pending": "other",
    # A backlog is not requests arriving: a pool's queue for connections, Envoy's pending.
    "db.client.connections.pending_requests": "other", "http_requests_pending": "other",
    "envoy_cluster_upstream_rq_pending_active": "other",
    # A word that only opens with a family's prefix, a load that is no load average, blocks
    # found in memory, Datadog's JMX percentiles.
    "envoy_cluster_membership_healthy": "other", "envoy_cluster_membership_total": "other",
    "rabbitmq_queue_messages_ready": "other",  # a backlog waiting for a consumer
    "netdata_disk_qops_operations_average": "disk",
    "netdata_system_cpu_percentage_average": "cpu",
    "system.load.norm.1": "cpu", "file_upload_avg_duration_seconds": "latency",
    "pg_stat_database_blks_hit": "other", "kafka.request.produce.time.99percentile": "latency",
    # Unchanged: a resource or measure named first wins.
    "net_rtt_ms": "network", "cpu_fsync_seconds": "cpu", "memory_rss": "memory",
    "latency_commit_ms": "latency", "availability_Average": "availability",
    "requests_Sum": "throughput", "istio-error-total": "errors",
}


# Cloud providers' names say their words by case alone (CloudWatch, Azure Monitor), or in
# the plural (Google Cloud's `request_latencies`).
VENDOR_NAMES = {
    "CPUUtilization": "cpu", "EngineCPUUtilization": "cpu", "FreeableMemory": "memory",
    "SwapUsage": "memory", "ReadIOPS": "disk", "DiskQueueDepth": "disk",
    "ReadLatency": "latency", "SuccessfulRequestLatency": "latency",
    "TargetResponseTime": "latency", "P99Latency": "latency",
    "run.googleapis.com/request_latencies": "latency",
    "loadbalancing.googleapis.com/https/total_latencies": "latency",
    "HTTPCode_Target_5XX_Count": "errors", "5XXError": "errors", "Http5xx": "errors",
    "SystemErrors": "errors", "TargetConnectionErrorCount": "errors", "CacheMisses": "errors",
    "RequestCount": "throughput", "requestCount": "throughput", "Invocations": "throughput",
    "HealthyHostCount": "other", "Http2xx": "other",
}


@pytest.mark.parametrize(("name", "family"), sorted(VENDOR_NAMES.items()))
def test_family_of_a_name_spelled_by_case(name: str, family: str) -> None:
    assert metric_family(name) == family


def test_a_names_words_split_by_separators_and_by_case() -> None:
    assert name_words("HTTPCode_Target_5XX_Count") == ["http", "code", "target", "5xx", "count"]
    assert name_words("node_memory_MemAvailable_bytes") == ["node", "memory", "mem",
                                                            "available", "bytes"]
    assert name_words("instance:node_cpu_utilisation:rate5m") == [
        "instance", "node", "cpu", "utilisation", "rate5m"]
    assert name_words("latencyMs") == ["latency", "ms"] and seconds_per_unit("latencyMs") == 1e-3


@pytest.mark.parametrize(("name", "family"), sorted(NAMES.items()))
def test_family_by_name(name: str, family: str) -> None:
    assert metric_family(name) == family


@pytest.mark.parametrize(("given", "signal"), [
    ("latency", "latency"), ("LATENCY", "latency"), ("p99", "latency"),
    ("p99_latency", "latency"), ("error_rate", "errors"), ("cpu", "saturation"),
    ("availability", "availability"), ("requests_per_s", "throughput"),
    ("ReadLatency", "latency"), ("CPUUtilization", "saturation")])
def test_an_alert_signal_may_be_named_like_a_metric(tmp_path: Path, given: str,
                                                    signal: str) -> None:
    (tmp_path / "case.json").write_text(json.dumps({
        "alert": {"service": "front", "signal": given, "fired_at": 1_700_000_000}}))
    assert load_case(tmp_path).alert.signal == signal


def test_an_alert_signal_that_names_nothing_is_refused_with_the_choices(
        tmp_path: Path) -> None:
    (tmp_path / "case.json").write_text(json.dumps({
        "alert": {"service": "front", "signal": "vibes", "fired_at": 1_700_000_000}}))
    with pytest.raises(ScenarioError, match=r"latency, errors.*got 'vibes'"):
        load_case(tmp_path)


@pytest.mark.parametrize(("given", "kind"), [
    ("deploy", "deploy"), ("Deployment", "deploy"), ("rollout", "deploy"),
    ("ConfigMap update", "config"), ("feature_flag", "config"), ("HPA scaled", "scale"),
    ("OOMKilled", "restart"), ("k8s", "k8s"), ("alert", "other")])
def test_a_change_events_kind_is_read_into_the_vocabulary(given: str, kind: str) -> None:
    assert event_kind(given) == kind


def test_a_resources_headroom_is_bad_when_it_falls() -> None:
    from agents.sre.verdicts import direction_of
    from integrations.telemetry.base import Series

    def direction(metric: str) -> str:
        series = Series("db", metric, np.zeros(2), np.zeros(2))
        return direction_of(series, series.family)

    assert direction("kubelet_volume_stats_available_bytes") == "down"  # a volume filling up
    assert direction("node_memory_MemFree_bytes") == "down"
    assert direction("cpu_idle_percent") == "down"
    assert direction("container_memory_working_set_bytes") == "up"
    assert direction("container_fs_usage_bytes") == "up"
    assert direction("availability_Average") == "down"  # a family of its own: unchanged
    # Memory freed by the runtime is no headroom: these count deallocations.
    assert direction("go_memstats_frees_total") == "up"
    assert direction("go_gc_heap_frees_bytes_total") == "up"
    assert direction("node_memory_SwapFree_bytes") == "down"


def test_network_errors_are_lost_packets() -> None:
    from agents.sre.verdicts import kind_family

    assert kind_family("node_network_receive_errs_total", "network") == "network_loss"
    assert kind_family("system.net.packets_in.error", "network") == "network_loss"
    assert kind_family("net_rtt_ms", "network") == "network_delay"


def test_a_payload_is_told_by_its_words_whatever_separates_them() -> None:
    from agents.sre.verdicts import kind_family

    # OpenTelemetry writes a request's body size with dots: a payload, not traffic.
    for name in ("http.server.request.body.size", "rpc.server.request.size",
                 "http_server_request_body_size_bytes", "istio_request_bytes_sum"):
        assert kind_family(name, metric_family(name)) == "payload"
    assert kind_family("http.server.request.duration", "latency") == "latency"


@pytest.mark.parametrize(("metric", "unit", "seconds"), [
    ("latency_p99_ms", "", 1e-3), ("istio_request_duration_milliseconds_p99", "", 1e-3),
    ("http_server_requests_p99_seconds", "", 1.0), ("grpc_server_handling_seconds_p99", "", 1.0),
    ("sk_smoothed_roundtrip_us", "", 1e-6), ("db.query.duration", "ms", 1e-3),
    ("probe_duration", "s", 1.0),
    # No unit said anywhere: not guessed from the name's other words.
    ("pg_stat_activity_max_tx_duration", "", None), ("rpc.server.duration.p99", "", None),
    ("envoy_http_downstream_rq_time_p99", "", None)])
def test_seconds_per_unit_from_the_source_or_the_name(metric: str, unit: str,
                                                      seconds: float | None) -> None:
    from integrations.telemetry.base import seconds_per_unit

    assert seconds_per_unit(metric, unit) == seconds
