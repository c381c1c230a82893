"""A throughput alert whose own statistic never moved, fired during a burst that broke its
service for a few minutes: the errors beside the alert and the error lines both stopped well
before the data ends. The episode is over by itself, as when the alert's own statistic
recovers: nightowl abstains and says so, its leads kept. Lines still being written when the
data ends are a service still failing, and get an answer, unless the service's own metrics
show the failures over since the alert (lines trickle in after the counters settle)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.scenario_files import investigate_json, write_case_json, write_logs, write_metrics

T0 = 1_700_000_000
STEP = 30
N = 100
BURST = 70   # the burst begins 35 minutes into the data...
FIRED = 74   # ...the alert fires two minutes later


def write_case(path: Path, *, until: int, lines_until: int | None = None,
               since: int = BURST) -> Path:
    """front calls api. From BURST to `until` api fails a fifth of its requests and front's
    errors follow; both write new error lines for as long (or until `lines_until`). front's
    requests never move."""
    rng = np.random.default_rng(5)
    series: dict[tuple[str, str], np.ndarray] = {}
    for service in ("front", "api"):
        series[(service, "requests")] = 200 + rng.normal(0, 4, N)
        series[(service, "error_rate")] = 0.002 + rng.normal(0, 0.0003, N)
        series[(service, "latency_ms")] = 40 + rng.normal(0, 1.5, N)
    series[("api", "error_rate")][since:until] += 0.2
    series[("front", "error_rate")][since:until] += 0.19
    write_metrics(path, series, t0=T0, step=STEP)

    def line(i: int, k: int, service: str, message: str) -> dict[str, object]:
        return {"ts": T0 + i * STEP + 5 * k, "service": service, "level": "error",
                "message": message}

    lines = [line(i, 0, "front", f"upstream api returned 503 for request {i:05x}")
             for i in range(since, lines_until or until)]
    lines += [line(i, 1, "api", f"IllegalStateException: ledger entry {i:06x} has no owner")
              for i in range(since, lines_until or until)]
    write_logs(path, lines)
    write_case_json(path, t0=T0, step=STEP, samples=N, name="HighRequestRate",
                    service="front", signal="throughput", fired_at=FIRED,
                    topology=(("front", "api"),))
    return path


def test_errors_and_lines_that_stopped_are_an_episode_over_by_itself(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "over", until=86), capsys)
    assert report["abstained"], report["summary"]
    assert "recovered by itself" in report["summary"]
    assert report["root_causes"][0]["service"] == "api"  # kept as the lead


def test_lines_still_written_are_a_service_still_failing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "going", until=N), capsys)
    assert not report["abstained"], report["summary"]
    assert report["root_causes"][0]["service"] == "api"


def test_lines_trickling_after_the_counters_settled_do_not_keep_it_going(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # front's errors back to normal for seven minutes; the lines went on until a minute ago.
    report = investigate_json(write_case(tmp_path / "trickle", until=86, lines_until=N - 2),
                              capsys)
    assert report["abstained"], report["summary"]
    assert "recovered by itself" in report["summary"]
    assert report["root_causes"][0]["service"] == "api"


def test_counters_that_settled_before_the_alert_do_not_silence_its_lines(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The errors counted were over ten minutes before the alert fired: they do not measure
    # what it fired on, and the lines written to the end say the service is failing still.
    report = investigate_json(write_case(tmp_path / "before", since=40, until=54,
                                         lines_until=N), capsys)
    assert not report["abstained"], report["summary"]
    assert report["root_causes"][0]["service"] == "api"
