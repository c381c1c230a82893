"""Metric families by name: DESIGN.md's words, and the names other systems' exporters use."""

from __future__ import annotations

import pytest

from integrations.telemetry.base import metric_family

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
    "adservice_load": "throughput", "workload": "throughput", "node_load1": "other",
    "tcp_retransmits_rate": "network", "tcp_srtt_seconds": "network",
    "grpc_server_handled_failed": "errors", "exception_count": "errors",
    # Unchanged: a resource or measure named first wins.
    "net_rtt_ms": "network", "cpu_fsync_seconds": "cpu", "memory_rss": "memory",
    "latency_commit_ms": "latency", "availability_Average": "availability",
    "requests_Sum": "throughput", "istio-error-total": "errors",
}


@pytest.mark.parametrize(("name", "family"), sorted(NAMES.items()))
def test_family_by_name(name: str, family: str) -> None:
    assert metric_family(name) == family
