"""Failed requests counted, not as a share: under twice the load a service fails twice as
many requests at the same error rate, which is no degradation (a crawler's burst put every
service's 5xx count up, and each looked broken). The errors family is then judged by the
share of requests that fail; a service whose share rose is degraded, whatever its load did.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from agents.sre.error_share import is_share
from agents.sre.toolbox import Toolbox
from integrations.telemetry.base import Window
from integrations.telemetry.scenario import ScenarioSource
from tests.scenario_files import write_case_json, write_metrics

T0 = 1_700_000_000
STEP = 60
N = 90
SURGE = 60


def write_case(path: Path) -> Path:
    rng = np.random.default_rng(11)
    load = np.where(np.arange(N) >= SURGE, 2.0, 1.0)
    series = {
        # `busy`: twice the requests from SURGE, and twice the failures: the same 1%.
        ("busy", "http_requests_total"): 500 * load + rng.normal(0, 5, N),
        ("busy", "http_requests_5xx"): 5 * load + rng.normal(0, 0.3, N),
        # `broken`: the same requests, and ten times the failures.
        ("broken", "http_requests_total"): 500 + rng.normal(0, 5, N),
        ("broken", "http_requests_5xx"): 5 * np.where(np.arange(N) >= SURGE, 10.0, 1.0)
        + rng.normal(0, 0.3, N),
        # `otel`: OpenTelemetry's names, where "duration" holds "ratio": still a count.
        ("otel", "http.server.request.duration.count"): 500 * load + rng.normal(0, 5, N),
        ("otel", "http.server.request.duration.count.5xx"): 5 * load + rng.normal(0, 0.3, N),
        # `ratio`: an error rate already, judged as it is.
        ("ratio", "http_requests_total"): 500 * load + rng.normal(0, 5, N),
        ("ratio", "http_error_rate"): 0.01 * np.where(np.arange(N) >= SURGE, 3.0, 1.0)
        + rng.normal(0, 0.0005, N),
    }
    write_metrics(path, series, t0=T0, step=STEP)
    write_case_json(path, t0=T0, step=STEP, samples=N, name="HighErrorRate", service="busy",
                    signal="errors", fired_at=SURGE + 10)
    return path


def profiles(path: Path) -> dict[str, object]:
    source = ScenarioSource(path)
    window = Window(datetime.fromtimestamp(T0, UTC),
                    datetime.fromtimestamp(T0 + (N - 1) * STEP, UTC))
    tools = Toolbox(source, window, split=T0 + (SURGE - 2) * STEP, max_queries=100)

    async def read() -> dict[str, object]:
        return {s: (await tools.profile(s)).families["errors"] for s in ("busy", "broken",
                                                                          "ratio", "otel")}
    return asyncio.run(read())


def test_failures_that_rose_with_the_load_are_the_same_error_rate(tmp_path: Path) -> None:
    errors = profiles(write_case(tmp_path / "case"))
    busy = errors["busy"]
    assert not busy.anomalous, busy  # type: ignore[attr-defined]
    assert busy.metric == "http_requests_5xx per request"  # type: ignore[attr-defined]


def test_a_count_named_after_its_duration_histogram_is_still_a_count(tmp_path: Path) -> None:
    otel = profiles(write_case(tmp_path / "case"))["otel"]
    assert not otel.anomalous, otel  # type: ignore[attr-defined]
    assert otel.metric.endswith("per request")  # type: ignore[attr-defined]


def test_a_share_is_told_by_a_word_of_its_name() -> None:
    assert all(is_share(m) for m in ("error_rate", "errorRate", "http_5xx_ratio", "ErrorPct"))
    assert not any(is_share(m) for m in ("http.server.request.duration.count.5xx",
                                         "rpc.server.duration.count.error",
                                         "http_5xx_per_second", "generated_errors_total"))


def test_a_share_of_failures_that_rose_is_a_degradation(tmp_path: Path) -> None:
    errors = profiles(write_case(tmp_path / "case"))
    broken, ratio = errors["broken"], errors["ratio"]
    assert broken.anomalous and broken.metric == "http_requests_5xx"  # type: ignore[attr-defined]
    assert ratio.anomalous and ratio.metric == "http_error_rate"  # type: ignore[attr-defined]
