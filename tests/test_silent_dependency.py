"""A failing dependency with no telemetry of its own (a third-party API the topology lists,
that exports no metrics, writes no lines and answers no spans of ours) is reported at the
caller whose lines name it, kind `dependency`, the API named right behind: the caller is
where the failure shows and where a responder can act. The same API watched by a probe has
telemetry of its own, and is named first, as any callee its caller's lines blame.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.scenario_files import investigate_json, write_case_json, write_metrics

T0 = 1_700_000_000
STEP = 30
N = 160
ONSET = 130


def write_case(path: Path, *, probed: bool = False) -> Path:
    """web calls payments, payments calls stripe-api. From ONSET stripe-api answers 503s:
    payments' latency and new error lines ("upstream stripe-api responded 503") follow, and
    web's errors with them. `probed`: a blackbox probe times stripe-api, and sees it."""
    rng = np.random.default_rng(5)
    series: dict[tuple[str, str], np.ndarray] = {}
    for service in ("web", "payments"):
        series[(service, "http_5xx_per_second")] = 2 + rng.normal(0, 0.3, N)
        series[(service, "latency_p99_ms")] = 80 + rng.normal(0, 3, N)
        series[(service, "cpu_usage_ratio")] = 0.3 + rng.normal(0, 0.01, N)
    series[("payments", "latency_p99_ms")][ONSET:] += 2500
    series[("web", "http_5xx_per_second")][ONSET + 1:] += 20
    if probed:
        series[("stripe-api", "probe_duration_seconds")] = 0.2 + rng.normal(0, 0.01, N)
        series[("stripe-api", "probe_duration_seconds")][ONSET:] += 3
    write_metrics(path, series, t0=T0, step=STEP)
    lines = [{"ts": T0 + i * STEP + 3, "service": "payments", "level": "error",
              "message": f"refund reconciliation slow req={i:05x}"} for i in range(0, ONSET, 9)]
    lines += [{"ts": T0 + i * STEP + 3 + k, "service": "payments", "level": "error",
               "message": f"upstream stripe-api responded 503 Service Unavailable req={i:05x}"}
              for i in range(ONSET, N) for k in range(2)]
    (path / "logs.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    write_case_json(path, t0=T0, step=STEP, samples=N, name="Http5xxRatioHigh",
                    service="web", signal="errors", fired_at=ONSET + 6,
                    topology=(("web", "payments"), ("payments", "stripe-api")))
    return path


def test_a_silent_dependency_is_reported_at_its_caller(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "silent"), capsys)
    causes = report["root_causes"]
    assert [c["service"] for c in causes[:2]] == ["payments", "stripe-api"], report["summary"]
    assert causes[0]["kind"] == "dependency"
    assert "its dependency stripe-api failing" in causes[0]["summary"]
    assert "stripe-api" in report["next_steps"][0]
    # One answer under two names: the caller's confidence is not split with its dependency.
    assert causes[0]["confidence"] >= 0.5
    assert "no telemetry of their own (stripe-api)" in report["summary"]


def test_a_probed_dependency_is_named_itself(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "probed", probed=True), capsys)
    assert report["root_causes"][0]["service"] == "stripe-api", report["summary"]
