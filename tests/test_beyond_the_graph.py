"""A decisive-looking cause on the call path does not end the search: a batch job the
topology does not know, whose CPU soared just before the path degraded, is a noisy
neighbour, and it is weighed beside the path's answer ("connection unknown") rather than
never looked at. The same job starting after the alert stays out of the answer, and a
caller's deploy is not a cause of its callee's trouble (a caller reaches its callee only
through the requests it sends, which the traffic rules judge)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.scenario_files import investigate_json, steady, write_case_json, write_metrics

T0 = 1_700_000_000
STEP = 30
N = 120
FAULT = 80
FIRED = 90


def write_case(path: Path, *, hog_from: int) -> Path:
    """checkout calls payments. From FAULT payments' CPU (throttled by a neighbour) and its
    latency rise a little, and checkout slows with it. `ledger-export`, in no topology, burns eight
    cores from `hog_from`. The entry proxy, checkout's caller, was deployed just before."""
    rng = np.random.default_rng(5)
    series = steady({"edge": 120.0, "checkout": 100.0, "payments": 40.0}, n=N, rng=rng)
    series[("ledger-export", "cpu")] = 0.2 + rng.normal(0, 0.02, N)
    series[("ledger-export", "cpu")][hog_from:] += 8.0
    series[("payments", "cpu")][FAULT:] += 0.1
    for service, extra in (("payments", 12.0), ("checkout", 30.0), ("edge", 30.0)):
        series[(service, "latency_ms")][FAULT:] += extra
    write_metrics(path, series, t0=T0, step=STEP)
    (path / "events.jsonl").write_text(json.dumps({
        "ts": T0 + (FAULT - 3) * STEP, "service": "edge", "kind": "deploy",
        "summary": "Rolled out edge v3.2.0"}) + "\n")
    write_case_json(path, t0=T0, step=STEP, samples=N, name="CheckoutSlow",
                    service="checkout", signal="latency", fired_at=FIRED,
                    topology=(("edge", "checkout"), ("checkout", "payments")))
    return path


def test_a_hog_off_the_graph_outranks_the_victim_it_throttles(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "hog", hog_from=FAULT - 2), capsys)
    assert not report["abstained"], report["summary"]
    ranked = [c["service"] for c in report["root_causes"]]
    assert ranked[:2] == ["ledger-export", "payments"], report["summary"]
    assert "connection unknown" in report["root_causes"][0]["summary"]
    assert "edge" not in ranked  # the caller's deploy is not its callee's cause


def test_a_job_that_began_after_the_alert_is_not_promoted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "late", hog_from=FIRED + 10), capsys)
    assert not report["abstained"], report["summary"]
    ranked = [c["service"] for c in report["root_causes"]]
    assert ranked[0] == "payments", report["summary"]
    assert "edge" not in ranked
