"""An OOM kill, as Kubernetes reports it (a restart event whose container was `OOMKilled`),
is memory exhaustion at that service: a cause as plain as a deploy, judged by the same rules
(before the damage, within the lookback), and cited as evidence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agents.sre.run import event_cause
from integrations.telemetry.base import ChangeEvent
from tests.scenario_files import investigate_json, write_case_json, write_metrics

T0 = 1_700_000_000
STEP = 30


def test_which_events_are_oom_kills() -> None:
    def kind(kind: str, summary: str) -> str | None:
        return event_cause(ChangeEvent(T0, "cache", kind, summary))

    assert kind("restart", "Container redis in pod redis-0 was OOMKilled (exit code 137)") == \
        "memory"
    assert kind("k8s", "Memory cgroup out of memory: Killed process 4242 (java)") == "memory"
    assert kind("restart", "Back-off restarting failed container") is None
    assert kind("scale", "Scaled up replica set web to 4") is None
    assert kind("deploy", "Rolled out web 1.2.3") == "deploy"


def write_case(path: Path, *, killed_at: int | None) -> Path:
    """web calls sessions (a cache that exports only its latency); sessions slows from
    sample 90. An OOM kill of sessions at `killed_at`, if any."""
    n = 120
    rng = np.random.default_rng(4)
    series = {("web", "latency"): 100 + rng.normal(0, 3, n),
              ("sessions", "latency"): 2 + rng.normal(0, 0.1, n)}
    series[("web", "latency")][90:] += 80
    series[("sessions", "latency")][90:] += 6
    path.mkdir(parents=True)
    write_metrics(path, series, t0=T0, step=STEP)
    if killed_at is not None:
        (path / "events.jsonl").write_text(json.dumps(
            {"ts": T0 + killed_at * STEP, "service": "sessions", "kind": "restart",
             "summary": "Container sessions in pod sessions-0 was OOMKilled (exit code 137)",
             "reason": "OOMKilled"}) + "\n")
    write_case_json(path, t0=T0, step=STEP, samples=n, name="HighLatency", service="web",
                    signal="latency", fired_at=96, topology=(("web", "sessions"),))
    return path


def test_an_oom_kill_before_the_damage_is_the_memory_cause(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "oom", killed_at=89), capsys)
    top = report["root_causes"][0]
    assert (top["service"], top["kind"]) == ("sessions", "memory")
    cited = {e["id"]: e["finding"] for e in report["evidence"]}
    assert any("OOMKilled" in cited[i] for i in top["evidence"])


def test_an_oom_kill_after_the_damage_explains_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "late", killed_at=110), capsys)
    assert all(c["kind"] != "memory" for c in report["root_causes"])
