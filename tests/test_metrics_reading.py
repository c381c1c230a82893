"""How a scenario's metrics.csv is read: running totals as per-second rates, as Prometheus's
rate() would serve them (every other series as written), Unix time in whatever unit it was
written, one sample per timestamp, and a span's status however its exporter wrote it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from integrations.telemetry.counters import per_second
from integrations.telemetry.dialects import span_status
from integrations.telemetry.scenario import ScenarioSource
from tests.test_search_v2 import FAULT, STEP, T0, N, investigate, noisy, write

T = T0 + STEP * np.arange(N)


def test_a_running_total_becomes_its_rate_and_survives_a_restart() -> None:
    rate = noisy(5.0, 1)
    total = 1000 + np.cumsum(rate * STEP)
    total[60:] -= total[59] - 3.0   # the process restarted: the count starts again near 0
    out = per_second("requests_total", T, total)
    assert out is not None and np.isnan(out[0])
    assert np.allclose(out[1:60], rate[1:60]) and np.allclose(out[61:], rate[61:])
    assert out[60] == total[60] / STEP   # after a reset, the increase is the new value


@pytest.mark.parametrize("name", ["istio_requests_total_2xx", "istio_requests_total_5xx",
                                  "rpc.server.duration.count.error", "http_requests_total_404"])
def test_a_total_with_its_outcome_folded_into_the_name_is_a_total(name: str) -> None:
    # A quiet service's requests do not move in one scrape interval in six: the total
    # stands still there, as no rate and no gauge does for a whole window.
    rate = noisy(0.5, 5, 0.2).clip(0)
    rate[::6] = 0.0
    total = 1.2e6 + np.cumsum(rate * STEP)
    out = per_second(name, T, total)
    assert out is not None and np.allclose(out[1:], rate[1:])


def test_gauges_and_rates_are_left_alone() -> None:
    # A rate exported under a counter's name goes down as often as up.
    assert per_second("container-cpu-usage-seconds-total", T, noisy(0.5, 2)) is None
    # A sparse per-interval count falls back to 0 after every event.
    sparse = np.zeros(N)
    sparse[::7] = 2.0
    assert per_second("errors_total", T, sparse) is None
    # A count that moved twice in the window: too little to tell a total from a gauge.
    steps = np.zeros(N)
    steps[50:], steps[90:] = 1.0, 2.0
    assert per_second("errors_total", T, steps) is None
    # A count of rare failures that kept coming is a total: its rate says when they came.
    failures = np.zeros(N)
    failures[FAULT:] = np.arange(N - FAULT) // 3
    rate = per_second("errors_total", T, failures)
    assert rate is not None and np.nansum(rate[:FAULT]) == 0 and np.nansum(rate[FAULT:]) > 0
    # A leak climbs, but not at nearly every sample over the whole window.
    leak = noisy(100, 3, 0.01)
    leak[FAULT:] += np.arange(N - FAULT) * 5.0
    assert per_second("memory_usage", T, leak) is None
    # Without a counter's name, only a series rising at nearly every sample is a total.
    assert per_second("bytes_sent", T, np.cumsum(noisy(10, 4))) is not None


async def test_an_investigation_over_running_totals_finds_the_cause_and_says_so(
        tmp_path: Path) -> None:
    front, api, hog = noisy(100, 1), noisy(40, 2), noisy(0.3, 3)
    hog[FAULT - 2:] = noisy(1.9, 4)[FAULT - 2:]   # api's CPU seconds per second saturate
    api[FAULT:] += 150
    front[FAULT:] += 140
    metrics = {("front", "latency_ms"): front, ("api", "latency_ms"): api,
               # Every service's CPU counter climbs all window long; only api's rate moves.
               ("api", "cpu_seconds_total"): 5e4 + np.cumsum(hog * STEP),
               ("front", "cpu_seconds_total"): 8e4 + np.cumsum(noisy(0.4, 5) * STEP),
               ("front", "requests_total"): 1e6 + np.cumsum(noisy(50, 6) * STEP)}
    path = write(tmp_path / "c", metrics, edges=[("front", "api")])
    source = ScenarioSource(path)
    assert source.notes and "3 metric series are running totals" in source.notes[0]
    report = await investigate(path)
    top = report.root_causes[0]
    assert (top.service, top.kind) == ("api", "cpu")
    assert "running totals" in report.summary


def test_unix_time_in_any_unit_reads_as_the_same_instant() -> None:
    # Jaeger writes microseconds, many exporters milliseconds or nanoseconds.
    from integrations.telemetry.scenario import parse_ts

    seconds = 1_714_000_000.5
    for scale in (1, 1_000, 1_000_000, 1_000_000_000):
        assert parse_ts(seconds * scale, "t") == seconds
        assert parse_ts(str(int(seconds * scale)), "t") == int(seconds * scale) / scale
    assert parse_ts("2024-04-24T23:06:40.5Z", "t") == seconds



def test_a_timestamp_written_twice_is_one_sample(tmp_path: Path) -> None:
    # Duplicate rows (an overlapping export, a join) would weigh twice in every baseline.
    metrics = {("front", "latency_ms"): noisy(100, 1), ("api", "latency_ms"): noisy(40, 2)}
    path = write(tmp_path / "c", metrics, edges=[("front", "api")])
    lines = (path / "metrics.csv").read_text().splitlines()
    (path / "metrics.csv").write_text("\n".join([lines[0]] + [x for x in lines[1:]
                                                               for _ in (0, 1)]) + "\n")
    source = ScenarioSource(path)
    series = source._series["front"][0]
    assert series.t.size == N and np.allclose(series.v, metrics[("front", "latency_ms")],
                                              rtol=1e-5)
    assert any("repeat timestamps" in w for w in source.warnings)


@pytest.mark.parametrize(("span", "status"), [
    ({"status": "error"}, "error"), ({"status": "ok"}, "ok"),
    ({"status": "STATUS_CODE_ERROR"}, "error"), ({"status": "STATUS_CODE_UNSET"}, "ok"),
    ({"status": 2}, "error"), ({"status": 1}, "ok"), ({"status": 503}, "error"),
    ({"status": 404}, "ok"), ({"http.status_code": 502}, "error"), ({"error": True}, "error"),
    ({}, "ok")])
def test_a_spans_status_is_read_however_the_exporter_wrote_it(span: dict[str, object],
                                                              status: str) -> None:
    # DESIGN.md's ok|error, OpenTelemetry's status codes, HTTP codes, Jaeger's error tag.
    assert span_status(span) == status


def test_other_exporters_field_names_are_read(tmp_path: Path) -> None:
    # A log shipper's and OpenTelemetry's log fields, Jaeger's span fields (start in µs).
    path = write(tmp_path / "c", {("front", "latency_ms"): noisy(100, 1)}, edges=[],
                 logs=[{"@timestamp": T0 + 60, "service.name": "front", "severityText": "ERROR",
                        "body": "payment timed out", "pod": "front-1"}],
                 spans=[{"traceID": "t", "spanID": "a", "serviceName": "front",
                         "operationName": "GET /", "startTime": int(T0 * 1e6),
                         "duration_ms": 12, "status": "STATUS_CODE_ERROR"},
                        {"traceID": "t", "spanID": "b", "parentSpanID": "a",
                         "serviceName": "api", "operationName": "query",
                         "startTime": int(T0 * 1e6) + 1000, "duration_ms": 5}])
    source = ScenarioSource(path)
    line = source._logs["front"][0]
    assert (line.ts, line.level, line.message) == (T0 + 60, "error", "payment timed out")
    assert line.attributes == {"pod": "front-1"}
    root, child = source._spans
    assert (root.service, root.operation, root.start, root.status) == (
        "front", "GET /", T0, "error")
    assert (child.parent_id, child.service, child.status) == ("a", "api", "ok")
    assert not source.warnings
