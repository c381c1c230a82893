"""An alert the data cannot judge as it was written: a metric the alerting service does not
report is set aside (its series of the alert's kind are read instead, as when an alert names
none), and an alert that fired outside the service's data says so, with its date."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.scenario_files import (
    caller_and_slow_callee,
    investigate_json,
    write_case_json,
    write_metrics,
)

T0 = 1_700_000_000
STEP = 30
N = 120


def write(path: Path, *, metric: str | None = None, fired_at: int = 95) -> Path:
    """front calls db; db's CPU saturates from sample 88 and both latencies jump."""
    path.mkdir(parents=True)
    write_metrics(path, caller_and_slow_callee("front", "db", seed=3, n=N, since=88),
                  t0=T0, step=STEP)
    write_case_json(path, t0=T0, step=STEP, samples=N, name="HighLatency", service="front",
                    signal="latency", fired_at=fired_at, topology=(("front", "db"),))
    if metric is not None:
        case = json.loads((path / "case.json").read_text())
        case["alert"]["metric"] = metric
        (path / "case.json").write_text(json.dumps(case))
    return path


def test_a_metric_the_service_does_not_report_is_set_aside_and_said(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = investigate_json(write(tmp_path / "plain"), capsys)
    named = investigate_json(write(tmp_path / "named", metric="http_p99_seconds"), capsys)
    assert named["root_causes"][0]["service"] == plain["root_causes"][0]["service"] == "db"
    assert "'http_p99_seconds', which front does not report" in named["summary"]
    assert "does not report" not in plain["summary"]


def test_an_alert_after_the_data_ended_says_so_with_its_date(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write(tmp_path / "late", fired_at=N + 2 * 24 * 120), capsys)
    assert "min after front's last sample" in report["summary"]
    assert "2023-11-16" in report["summary"]  # the alert's day, not only its clock time


def test_an_alert_before_the_data_began_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write(tmp_path / "early", fired_at=-20), capsys)
    assert "before front's first sample" in report["summary"]
