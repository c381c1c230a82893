"""A routine deploy of the entry proxy, half an hour before a callee's network slowed, ran
clean until the proxy degraded with everything else: off the call path it is a bystander,
and it explains away no service of the path. The callee that degraded first, with no cause
of its own in sight, is the answer; the deploy stays a lead behind it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.scenario_files import investigate_json, write_case_json, write_metrics

T0 = 1_700_000_000
STEP = 30
N = 120
DEPLOY = 20  # the proxy's routine deploy...
FAULT = 80   # ...half an hour before drm's network began adding 400 ms
FIRED = 90


def write_case(path: Path) -> Path:
    """edge calls playback, which calls drm. From FAULT drm answers 400 ms slower (its
    network: no CPU, memory or error lines of its own move), and playback and edge slow
    down with it. edge was deployed at DEPLOY."""
    rng = np.random.default_rng(11)
    series: dict[tuple[str, str], np.ndarray] = {}
    for service, base in (("edge", 180.0), ("playback", 150.0), ("drm", 40.0)):
        series[(service, "latency_ms")] = base + rng.normal(0, base * 0.03, N)
        series[(service, "requests")] = 300 + rng.normal(0, 6, N)
        series[(service, "cpu")] = 0.4 + rng.normal(0, 0.01, N)
    for service in ("edge", "playback", "drm"):
        series[(service, "latency_ms")][FAULT:] += 400
    write_metrics(path, series, t0=T0, step=STEP)
    (path / "events.jsonl").write_text(json.dumps({
        "ts": T0 + DEPLOY * STEP, "service": "edge", "kind": "deploy",
        "summary": "Rolled out edge v2.14.1"}) + "\n")
    write_case_json(path, t0=T0, step=STEP, samples=N, name="PlaybackSlow",
                    service="playback", signal="latency", fired_at=FIRED,
                    topology=(("playback", "drm"),))
    return path


def test_a_settled_deploy_off_the_path_explains_no_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "routine"), capsys)
    assert not report["abstained"], report["summary"]
    ranked = [c["service"] for c in report["root_causes"]]
    assert ranked[0] == "drm", report["summary"]
    assert "edge" in ranked  # still a lead
