"""An SQL client's words ("HikariPool-1 - Connection is not available", "QueuePool limit
... reached", "canceling statement due to statement timeout") name no service, yet say the
writer's database is slow or saturated: they blame its one SQL database, which is followed
as any callee its lines name, even when the database exports no latency of its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.scenario_files import investigate_json, write_case_json, write_metrics

T0 = 1_700_000_000
STEP = 30
N = 120
ONSET = 90


def write_case(path: Path, *, store: str = "profiles-mysql") -> Path:
    """web calls profile; profile calls `store` and a cache. From ONSET the database's CPU
    rises by half (its queries scan), profile's latency jumps a sample later and it writes
    connection-pool timeouts; the database exports no latency of its own."""
    rng = np.random.default_rng(17)
    series: dict[tuple[str, str], np.ndarray] = {}
    for service in ("web", "profile"):
        series[(service, "latency_p99_ms")] = 40 + rng.normal(0, 1.5, N)
        series[(service, "cpu")] = 0.3 + rng.normal(0, 0.01, N)
    series[(store, "cpu")] = 0.4 + rng.normal(0, 0.01, N)
    series[("profile-cache", "cache_hits_per_second")] = 900 + rng.normal(0, 20, N)
    series[(store, "cpu")][ONSET:] += 0.2
    series[("profile", "latency_p99_ms")][ONSET + 1:] += 400
    series[("web", "latency_p99_ms")][ONSET + 1:] += 380
    write_metrics(path, series, t0=T0, step=STEP)
    lines = [{"ts": T0 + i * STEP + 5 + k, "service": "profile", "level": "error",
              "message": "HikariPool-1 - Connection is not available, request timed out "
                         f"after 30000ms. ({i}-{k})"}
             for i in range(ONSET + 1, N) for k in range(2)]
    (path / "logs.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    write_case_json(path, t0=T0, step=STEP, samples=N, name="HighLatency", service="web",
                    signal="latency", fired_at=ONSET + 6,
                    topology=(("web", "profile"), ("profile", store),
                              ("profile", "profile-cache")))
    return path


def test_pool_timeouts_blame_the_database(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "pool"), capsys)
    assert report["root_causes"][0]["service"] == "profiles-mysql", report["summary"]
