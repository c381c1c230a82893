"""Shapes of other systems the call-path walk used to get wrong, on small hand-built incidents:
heavy-tailed noise, a saturated service the call graph does not chart, and an exception seen
only in a dependency's logs. Each failed before the change that made it pass."""

from __future__ import annotations

import numpy as np

from agents.sre.stats import analyze, robust_baseline
from tests.test_search_v2 import FAULT, STEP, T0, N, investigate, noisy, write


def test_lone_outliers_do_not_hide_a_sustained_shift() -> None:
    rng = np.random.default_rng(3)
    values = 400 * (1 + rng.normal(0, 0.05, N))
    for k in (10, 35, 60, 85):          # a p95 that spikes to 3x once in a while
        values[k] = 1300
    values[FAULT:] = 1050 * (1 + rng.normal(0, 0.03, N - FAULT))
    t = T0 + STEP * np.arange(N, dtype=float)
    anomaly = analyze(t, values, split=t[FAULT - 2], direction="up")
    assert anomaly is not None and anomaly.score > 10
    # A sparse counter (mostly flat, rare bursts) still takes its bursts as its spread.
    sparse = np.zeros(N)
    sparse[[20, 21, 50, 51, 80, 81]] = 40
    base = robust_baseline(sparse[:FAULT])
    assert base is not None and base.scale >= 10


async def test_an_uncharted_service_saturated_before_its_own_slowdown_is_the_cause(
        tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`ledger` is not in the topology (not traced). Its CPU saturates, then its latency
    rises far more (in z) than its CPU did, and the front slows: its own resource is the
    cause, not "degraded with no visible cause"."""
    front, api, ledger_lat, ledger_cpu = noisy(100, 1), noisy(40, 2), noisy(20, 3, 0.01), \
        noisy(30, 4)
    ledger_cpu[FAULT - 1:] = noisy(95, 5)[FAULT - 1:]
    ledger_lat[FAULT:] += 200
    front[FAULT:] += 150
    report = await investigate(write(
        tmp_path / "c", {("front", "latency_ms"): front, ("api", "latency_ms"): api,
                         ("ledger", "latency_ms"): ledger_lat, ("ledger", "cpu_usage"): ledger_cpu},
        edges=[("front", "api")]))
    top = report.root_causes[0]
    assert (top.service, top.kind) == ("ledger", "cpu")


async def test_an_exception_in_a_dependency_without_an_error_metric(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`db` exports latency only; its new exception floods its logs while its callers' error
    rates rise. The exception, not the loudest caller, is the cause."""
    front_err, api_err, db_lat = noisy(0.01, 1), noisy(0.01, 2), noisy(10, 3)
    front_err[FAULT:] += 0.3
    api_err[FAULT:] += 0.6          # the caller nearer the fault fails louder
    db_lat[FAULT:] += 3
    background = [{"ts": T0 + 60 * m, "service": s, "level": "error",
                   "message": "client closed request"} for m in range(0, N, 9)
                  for s in ("front", "api", "db")]
    burst = [{"ts": T0 + 60 * (FAULT + m / 6), "service": "db", "level": "error",
              "message": f"IndexError: list index out of range in allocate_seat() (req {m})"}
             for m in range(100)]
    report = await investigate(write(
        tmp_path / "c", {("front", "error_rate"): front_err, ("api", "error_rate"): api_err,
                         ("db", "latency_ms"): db_lat},
        edges=[("front", "api"), ("api", "db")], metric="error_rate", signal="errors",
        logs=background + burst))
    top = report.root_causes[0]
    assert (top.service, top.kind) == ("db", "code_error")


async def test_without_a_call_graph_time_orders_cause_and_victim(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """No topology, no traces: only metrics and change events. The alerting service had a
    routine deploy 25 minutes before and slowed two samples after `ledger`, whose deploy
    came just before its own slowdown. The walk saw one service; time says which went
    first."""
    from datetime import UTC, datetime

    front, ledger, other = noisy(100, 1), noisy(40, 2), noisy(60, 3)
    ledger[FAULT:] += 150
    front[FAULT + 2:] += 180
    case = write(tmp_path / "c", {("front", "latency_ms"): front,
                                  ("ledger", "latency_ms"): ledger,
                                  ("other", "latency_ms"): other}, edges=[])

    def iso(minute: float) -> str:
        return datetime.fromtimestamp(T0 + 60 * minute, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    (case / "events.jsonl").write_text(
        f'{{"ts": "{iso(FAULT - 25)}", "service": "front", "kind": "deploy", '
        f'"summary": "routine deploy"}}\n'
        f'{{"ts": "{iso(FAULT - 2)}", "service": "ledger", "kind": "deploy", '
        f'"summary": "ledger v2"}}\n')
    report = await investigate(case)
    top = report.root_causes[0]
    assert (top.service, top.kind) == ("ledger", "deploy")
    assert "no call graph" in report.summary
