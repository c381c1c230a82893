"""A routine deploy that ran clean for eight minutes, whose service degraded only when a
service in another branch of the call graph began to fail, is a bystander: the failure
that had begun by then is the answer, in a sibling branch as in a deeper one. A deploy
its service degraded right after is not set aside that way."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.scenario_files import investigate_json, steady, write_case_json, write_metrics

T0 = 1_700_000_000
STEP = 30
N = 120
FAULT = 90
FIRED = 98


def write_case(path: Path, *, deployed: int) -> Path:
    """api calls router and fraud; fraud calls store. From FAULT store's network adds
    400 ms (nothing of its own shows why), fraud and api slow with it, and router a sample
    later (api's deadline presses its calls). router was deployed at `deployed`."""
    rng = np.random.default_rng(7)
    series = steady({"api": 200.0, "router": 60.0, "fraud": 120.0, "store": 30.0}, n=N,
                    rng=rng)
    for service, extra in (("store", 400.0), ("fraud", 410.0), ("api", 420.0)):
        series[(service, "latency_ms")][FAULT:] += extra
    series[("router", "latency_ms")][FAULT + 1:] += 300
    write_metrics(path, series, t0=T0, step=STEP)
    (path / "events.jsonl").write_text(json.dumps({
        "ts": T0 + deployed * STEP, "service": "router", "kind": "deploy",
        "summary": "Rolled out router 3.34.6"}) + "\n")
    write_case_json(path, t0=T0, step=STEP, samples=N, name="ApiSlow", service="api",
                    signal="latency", fired_at=FIRED,
                    topology=(("api", "router"), ("api", "fraud"), ("fraud", "store")))
    return path


def test_a_deploy_that_ran_clean_until_a_sibling_failed_is_a_bystander(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "routine", deployed=FAULT - 16), capsys)
    assert not report["abstained"], report["summary"]
    ranked = [c["service"] for c in report["root_causes"]]
    assert ranked[0] == "store", report["summary"]
    assert "router" in ranked  # still a lead


def test_a_deploy_its_service_degraded_right_after_is_not_set_aside(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "bad", deployed=FAULT - 2), capsys)
    assert not report["abstained"], report["summary"]
    top = {c["service"]: c["kind"] for c in report["root_causes"][:2]}
    assert top.get("router") == "deploy", report["summary"]
