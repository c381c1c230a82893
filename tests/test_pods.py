"""Telemetry keyed by Kubernetes pod (`carts-7d9f8b6c5-x2kqp`), as Prometheus's `pod` label
and a log shipper write it, is read under the workload a responder knows (`carts`): replicas'
series become one, a rollout's old and new pods join up, and the answer names the workload."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bot.cli import main as cli
from integrations.telemetry.pods import workload, workloads
from integrations.telemetry.scenario import ScenarioSource
from tests.scenario_files import caller_and_slow_callee

T0 = 1_700_000_000


def test_generated_pod_names_read_as_their_workloads_and_nothing_else_does() -> None:
    assert workload("carts-7d9f8b6c5-x2kqp") == "carts"
    assert workload("ts-auth-service-6d9f8b6c5d-bcdfg") == "ts-auth-service"
    assert workload("frontend-579b9bff58-t2dbm") == "frontend"
    assert workload("carts-1234567890-x2kqp") == "carts"       # an older, decimal template hash
    assert workload("node-exporter-x7k2p") == "node-exporter"  # a DaemonSet's pod
    for name in ("ts-order-service", "api-gateway", "user-db", "adservice-0", "redis-master-2",
                 "build-24567", "carts", "Carts-7d9f8b6c5-x2kqp", ""):
        assert workload(name) is None, name


def test_a_statefulsets_pods_fold_only_where_the_set_itself_is_named() -> None:
    # `budgets-pg` exports its database's series beside its pods: one service. Pods of a set
    # the telemetry never names keep their ordinals, and `ads`/`ads-2` (no `-0`) stay two.
    named = workloads(["budgets-pg", "budgets-pg-0", "budgets-pg-1", "kafka-0", "kafka-1",
                       "ads", "ads-2", "node-db-1", "node-db-2"])
    assert named == {"budgets-pg-0": "budgets-pg", "budgets-pg-1": "budgets-pg"}


def write_case(path: Path) -> Path:
    """front-end calls orders-db, whose CPU saturates; every series is keyed by pod: two
    front-end replicas scraped out of step, and an orders-db rollout halfway."""
    n, step = 120, 30
    series = caller_and_slow_callee("front-end", "orders-db", seed=5, n=n, since=90)
    rows = []
    for i in range(n):
        t = T0 + i * step
        for offset, pod in ((0, "front-end-5d8f9c7b6-q2x7z"), (11, "front-end-5d8f9c7b6-k9w4m")):
            rows.append(f"{t + offset},{pod},latency,{series[('front-end', 'latency')][i]:.3f}")
        db = "orders-db-76c6bf8df8-l2wvx" if i < 60 else "orders-db-6b7c9d8f5-p9q2z"
        for metric in ("latency", "cpu"):
            rows.append(f"{t},{db},{metric},{series[('orders-db', metric)][i]:.3f}")
    path.mkdir(parents=True)
    (path / "metrics.csv").write_text("timestamp,service,metric,value\n" + "\n".join(rows))
    (path / "logs.jsonl").write_text(json.dumps(
        {"ts": T0 + 95 * step, "service": "orders-db-6b7c9d8f5-p9q2z", "level": "warn",
         "message": "slow query"}) + "\n")
    (path / "case.json").write_text(json.dumps({
        "id": "c", "window": {"start": T0, "end": T0 + (n - 1) * step},
        "alert": {"name": "HighLatency", "service": "front-end-5d8f9c7b6-q2x7z",
                  "signal": "latency", "fired_at": T0 + 95 * step},
        "topology": [
            {"caller": "front-end-5d8f9c7b6-q2x7z", "callee": "orders-db-76c6bf8df8-l2wvx"},
            {"caller": "front-end-5d8f9c7b6-k9w4m", "callee": "orders-db-6b7c9d8f5-p9q2z"}]}))
    return path


def test_pods_are_folded_into_their_workloads_everywhere(tmp_path: Path) -> None:
    source = ScenarioSource(write_case(tmp_path / "c"))
    assert sorted(source._series) == ["front-end", "orders-db"]
    assert source.case.alert.service == "front-end"
    assert source.case.topology == [("front-end", "orders-db")]
    assert [line.service for line in source._logs["orders-db"]] == ["orders-db"]
    assert any("'front-end-5d8f9c7b6-k9w4m' (+1) as 'front-end'" in n for n in source.notes)
    (latency,) = source._series["front-end"]
    # Two replicas 11 s out of step share one 30 s step: one sample per step, not a sawtooth.
    assert latency.t.size == 120
    assert np.all(np.diff(latency.t) == 30)
    cpu = next(s for s in source._series["orders-db"] if s.metric == "cpu")
    assert cpu.t.size == 120  # the rollout's two pods, one after the other


def test_the_answer_names_the_workload(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli(["investigate", str(write_case(tmp_path / "c")), "--json", "--no-model"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert not report["abstained"]
    assert (report["root_causes"][0]["service"], report["root_causes"][0]["kind"]) == \
        ("orders-db", "cpu")


def test_a_pod_started_minutes_ago_has_its_counter_read_as_a_rate_too(tmp_path: Path) -> None:
    """A rollout replaced web's pod: the old one's CPU counter climbed all window (a rate
    of 0.05 cores), the new one's has 6 samples, too few to be judged by its own shape. It
    is the same metric, so it is a rate too: 0.5 cores, not its running total of hundreds."""
    path = tmp_path / "rollout"
    path.mkdir()
    step, n_old, n_new = 60, 60, 6
    rows = ["timestamp,service,metric,value"]
    rows += [f"{T0 + i * step},web-5d8f9c7b6-q2x7z,container_cpu_usage_seconds_total,"
             f"{1000 + 3.0 * i}" for i in range(n_old)]
    start = T0 + (n_old + 2) * step
    rows += [f"{start + i * step},web-7c9f8d6b5-k2p4w,container_cpu_usage_seconds_total,"
             f"{300 + 30.0 * i}" for i in range(n_new)]
    (path / "metrics.csv").write_text("\n".join(rows) + "\n")
    (path / "case.json").write_text(json.dumps({
        "id": "c", "window": {"start": T0, "end": start + n_new * step},
        "alert": {"name": "HighCPU", "service": "web", "signal": "saturation",
                  "fired_at": start + 3 * step}}))
    (cpu,) = ScenarioSource(path)._series["web"]
    rates = cpu.v[np.isfinite(cpu.v)]
    assert np.allclose(rates[: n_old - 1], 0.05)
    assert np.allclose(rates[-(n_new - 1):], 0.5)
