"""An alert whose own statistic never moved (an error-rate threshold crossed half an hour
after a share of requests began failing, retries hiding most of it) is timed by its
service's error lines: a pattern it never wrote before, written ever since, says when the
episode began, and what the lines name is followed from there. Routine lines written since
the data began time nothing: with only those, the alert is still noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.scenario_files import investigate_json, write_case_json, write_logs, write_metrics

T0 = 1_700_000_000
STEP = 30
N = 100
ONSET = 30   # the fault, 15 minutes into the data
FIRED = 92   # the alert, 31 minutes later


def write_case(path: Path, *, fault: bool = True) -> Path:
    """front calls cart and users. From ONSET cart fails a few percent of requests with a
    new exception; front's retries hide it from every metric, and front writes "upstream
    cart returned 503" from then on. Without `fault` both write only routine lines."""
    rng = np.random.default_rng(3)
    series: dict[tuple[str, str], np.ndarray] = {}
    for service in ("front", "cart", "users"):
        series[(service, "error_rate")] = 0.004 + rng.normal(0, 0.0005, N)
        series[(service, "latency_ms")] = 60 + rng.normal(0, 2, N)
        series[(service, "cpu")] = 0.3 + rng.normal(0, 0.01, N)
    write_metrics(path, series, t0=T0, step=STEP)

    def line(i: int, k: int, service: str, message: str) -> dict[str, object]:
        return {"ts": T0 + i * STEP + 7 * k, "service": service, "level": "error",
                "message": message}

    lines = [line(i, 0, "front", f"client disconnected before response was written {i}")
             for i in range(0, N, 5)]
    lines += [line(i, 1, "cart", f"slow cache refresh took {300 + i}ms")
              for i in range(0, N, 6)]
    if fault:
        lines += [line(i, 2, "front", f"upstream cart returned 503; backing off {900 + i}ms")
                  for i in range(ONSET, N, 2)]
        lines += [line(i, 3, "cart", f"IllegalStateException: ledger entry {i:06x} has no "
                                     "owner (500)") for i in range(ONSET, N, 2)]
    write_logs(path, lines)
    write_case_json(path, t0=T0, step=STEP, samples=N, name="HighErrorRate", service="front",
                    signal="errors", fired_at=FIRED,
                    topology=(("front", "cart"), ("front", "users")))
    return path


def test_a_quiet_alert_is_timed_by_its_new_error_lines(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "retries"), capsys)
    assert not report["abstained"], report["summary"]
    top = report["root_causes"][0]
    assert (top["service"], top["kind"]) == ("cart", "code_error"), report["summary"]


def test_routine_lines_time_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "noise", fault=False), capsys)
    assert report["abstained"], report["summary"]
