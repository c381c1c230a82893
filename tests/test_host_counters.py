"""A host's retransmits rise whenever a pod on it loses packets. With nothing saying where
the services run, a host outside the call graph whose network counters rose with a path
service failing for no visible reason is a view of that failure as much as its cause: the
service is the answer and the host a lead behind it. A host whose trouble began well before
anything on the path failed is still the cause whose connection is unknown."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.scenario_files import investigate_json, steady, write_case_json, write_metrics

T0 = 1_700_000_000
STEP = 30
N = 120
FAULT = 80
FIRED = 90


def write_case(path: Path, *, host_from: int) -> Path:
    """api calls ledger. From FAULT ledger fails a tenth of its calls and answers slower (its
    packets dropped: nothing of its own shows why), and api with it. Host `node-b`, in no
    topology and named by no line, retransmits ten times more from `host_from`."""
    rng = np.random.default_rng(3)
    series = steady({"api": 120.0, "ledger": 40.0}, n=N, rng=rng)
    for service in ("api", "ledger"):
        series[(service, "errors")] = 0.5 + np.abs(rng.normal(0, 0.2, N))
    series[("node-b", "node_netstat_tcp_retrans_segs_per_second")] = 20 + rng.normal(0, 1, N)
    series[("node-b", "node_netstat_tcp_retrans_segs_per_second")][host_from:] += 200
    for service, extra in (("ledger", 30.0), ("api", 32.0)):
        series[(service, "errors")][FAULT:] += extra
        series[(service, "latency_ms")][FAULT:] += 40
    write_metrics(path, series, t0=T0, step=STEP)
    write_case_json(path, t0=T0, step=STEP, samples=N, name="ApiErrors", service="api",
                    signal="errors", fired_at=FIRED, topology=(("api", "ledger"),))
    return path


def test_a_hosts_retransmits_with_a_failing_service_do_not_outrank_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "together", host_from=FAULT), capsys)
    assert not report["abstained"], report["summary"]
    ranked = [c["service"] for c in report["root_causes"]]
    assert ranked[0] == "ledger", report["summary"]
    assert "node-b" in ranked  # still a lead


def test_a_host_whose_trouble_came_first_is_the_cause(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "first", host_from=FAULT - 20), capsys)
    assert not report["abstained"], report["summary"]
    top = report["root_causes"][0]
    assert top["service"] == "node-b", report["summary"]
    assert "connection unknown" in top["summary"]
