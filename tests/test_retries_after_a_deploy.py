"""A deploy that starts failing requests at once draws its callers' retries: the traffic
that then surges into its service from upstream is the deploy's doing, not a cause that
explains it away. A deploy that ran clean until such a surge arrived is still set aside
(see tests/test_bystander_deploy.py for the same rule across branches)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.scenario_files import investigate_json, steady, write_case_json, write_metrics

T0 = 1_700_000_000
STEP = 30
N = 120
SURGE = 92
FIRED = 100


def write_case(path: Path, *, deployed: int, fails: int) -> Path:
    """edge calls api, api calls model. model is deployed at `deployed` and fails a tenth of
    its requests from `fails`; from SURGE the retries double the requests at every hop,
    and model's CPU and latency climb under them. The alert is on edge's errors."""
    rng = np.random.default_rng(11)
    series = steady({"edge": 120.0, "api": 80.0, "model": 40.0}, n=N, rng=rng)
    for service in ("edge", "api", "model"):
        series[(service, "error_rate")] = 0.002 + np.abs(rng.normal(0, 0.0005, N))
        series[(service, "requests")][SURGE:] *= 2.0
    series[("model", "error_rate")][fails:] += 0.10
    series[("api", "error_rate")][fails:] += 0.09
    series[("edge", "error_rate")][fails:] += 0.08
    series[("model", "cpu")][SURGE:] += 0.45
    series[("model", "latency_ms")][SURGE:] += 60
    write_metrics(path, series, t0=T0, step=STEP)
    (path / "events.jsonl").write_text(json.dumps({
        "ts": T0 + deployed * STEP, "service": "model", "kind": "deploy",
        "summary": "Rolled out model 1.12.0"}) + "\n")
    write_case_json(path, t0=T0, step=STEP, samples=N, name="EdgeErrors", service="edge",
                    signal="errors", fired_at=FIRED,
                    topology=(("edge", "api"), ("api", "model")))
    return path


def test_a_deploy_that_failed_at_once_is_not_explained_by_the_retries_it_drew(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "bad", deployed=SURGE - 6, fails=SURGE),
                              capsys)
    assert not report["abstained"], report["summary"]
    top = report["root_causes"][0]
    assert (top["service"], top["kind"]) == ("model", "deploy"), report["summary"]


def test_a_deploy_that_ran_clean_until_the_surge_is_still_set_aside(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "routine", deployed=SURGE - 24,
                                         fails=SURGE), capsys)
    top = report["root_causes"][0]
    assert (top["service"], top["kind"]) != ("model", "deploy"), report["summary"]
    assert top["kind"] == "traffic", report["summary"]
