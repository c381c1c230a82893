"""Off the call path, a change is promoted as a cause whose connection is unknown only
where its service's trouble could be: a deploy its service ran clean after for minutes is
judged at that service's degradation (`search.settled`), and a degradation off the path is
no cause of an alert that has a call graph below it. The path's own failing service stays
the answer; a deploy that hurt at once is still a suspect."""

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


def write_case(path: Path, *, deployed: int, damage: int) -> Path:
    """api calls store; from FAULT store's latency adds 40 ms with nothing of its own to
    show why (a network delay), and api slows with it. billing, which no topology links
    to either, was deployed at `deployed` and fails a dozen requests a second from
    `damage`: louder than the path's own trouble."""
    rng = np.random.default_rng(11)
    series = steady({"api": 200.0, "store": 30.0, "billing": 80.0}, n=N, rng=rng)
    series[("store", "latency_ms")][FAULT:] += 40
    series[("api", "latency_ms")][FAULT:] += 50
    errors = np.abs(rng.normal(0.2, 0.05, N))
    errors[damage:] += 12.0
    series[("billing", "errors_per_second")] = errors
    write_metrics(path, series, t0=T0, step=STEP)
    (path / "events.jsonl").write_text(json.dumps({
        "ts": T0 + deployed * STEP, "service": "billing", "kind": "deploy",
        "summary": "Rolled out billing 2.19.11"}) + "\n")
    write_case_json(path, t0=T0, step=STEP, samples=N, name="ApiSlow", service="api",
                    signal="latency", fired_at=FIRED, topology=(("api", "store"),))
    return path


def test_a_deploy_off_the_path_that_ran_clean_for_minutes_is_not_promoted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(
        write_case(tmp_path / "routine", deployed=FAULT - 16, damage=FAULT), capsys)
    ranked = [(c["service"], c["kind"]) for c in report["root_causes"]]
    assert ranked[0][0] == "store", report["summary"]
    assert ("billing", "deploy") not in ranked[:1]


def test_a_deploy_off_the_path_that_hurt_at_once_is_still_weighed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(
        write_case(tmp_path / "sudden", deployed=FAULT - 2, damage=FAULT), capsys)
    top = report["root_causes"][0]
    assert (top["service"], top["kind"]) == ("billing", "deploy"), report["summary"]
