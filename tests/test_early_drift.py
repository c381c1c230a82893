"""A resource that drifted up long before its service degraded (a CPU a little busier for
twenty minutes, with no harm done) did not cause the degradation when it came: what began
with the damage, deeper down, explains it better, as it already did for a change that ran
clean for a while (`candidates._judged_at`). Memory is the exception: a leak fills for a
long while before it hurts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.scenario_files import investigate_json, steady, write_case_json, write_metrics

T0 = 1_700_000_000
STEP = 30
N = 120
DRIFT = 64
FAULT = 104
FIRED = 108


def write_case(path: Path, *, resource: str) -> Path:
    """api calls db and auth. From DRIFT api's `resource` rises and stays up, with nothing
    else moving; from FAULT api's latency jumps, and db's: by 300 ms after a CPU drift
    (db's own trouble), by 40 ms after a leak (api's stalled connections pile up there)."""
    rng = np.random.default_rng(13)
    series = steady({"api": 150.0, "db": 20.0, "auth": 30.0}, n=N, rng=rng)
    if resource == "memory":
        series[("api", "memory_bytes")] = 2e9 + rng.normal(0, 2e7, N)
        series[("api", "memory_bytes")][DRIFT:] += np.linspace(2e8, 6e8, N - DRIFT)
    else:
        series[("api", "cpu")][DRIFT:] += 0.2
    series[("db", "latency_ms")][FAULT:] += 40 if resource == "memory" else 300
    series[("api", "latency_ms")][FAULT:] += 320
    write_metrics(path, series, t0=T0, step=STEP)
    write_case_json(path, t0=T0, step=STEP, samples=N, name="ApiSlow", service="api",
                    signal="latency", fired_at=FIRED,
                    topology=(("api", "db"), ("api", "auth")))
    return path


def test_a_cpu_that_drifted_long_before_the_damage_does_not_explain_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "cpu", resource="cpu"), capsys)
    assert not report["abstained"], report["summary"]
    assert report["root_causes"][0]["service"] == "db", report["summary"]


def test_a_leak_that_filled_for_a_while_before_the_damage_still_explains_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "leak", resource="memory"), capsys)
    assert not report["abstained"], report["summary"]
    top = report["root_causes"][0]
    assert (top["service"], top["kind"]) == ("api", "memory"), report["summary"]
