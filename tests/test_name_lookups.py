"""A service whose error lines say its name lookups fail ("dial tcp: lookup
maps.googleapis.com on 10.96.0.10:53: i/o timeout") is failing at its own resolver, not at
the host it looks up, which it never reached: nightowl names the service, says its name
lookups fail (DNS), and asks to check name resolution from it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from agents.chat.lookups import summary_text
from agents.sre.context import AlertContext
from agents.sre.investigator import Investigator
from agents.sre.report import InvestigationView
from bot.slack.blocks import investigation_blocks
from integrations.telemetry.scenario import ScenarioSource
from tests.scenario_files import investigate_json, write_case_json, write_metrics

T0 = 1_700_000_000
STEP = 30
N = 120
ONSET = 90
LOOKUPS = ("dial tcp: lookup maps.googleapis.com on 10.96.0.10:53: read udp "
           "10.0.3.{i}:4431->10.96.0.10:53: i/o timeout",
           "getaddrinfo EAI_AGAIN maps.googleapis.com")


def write_case(path: Path) -> Path:
    """rider calls eta; eta calls maps.googleapis.com, a third party with telemetry of its
    own (a probe). From ONSET eta's lookups of it time out: eta's errors and latency rise,
    and rider's with them; the provider itself answers as before."""
    rng = np.random.default_rng(23)
    series: dict[tuple[str, str], np.ndarray] = {}
    for service, base in (("rider", 120.0), ("eta", 80.0), ("maps.googleapis.com", 60.0)):
        series[(service, "latency_ms")] = base + rng.normal(0, base * 0.02, N)
        series[(service, "error_rate")] = 0.002 + rng.normal(0, 0.0003, N)
    for service in ("rider", "eta"):
        series[(service, "latency_ms")][ONSET:] += 900
        series[(service, "error_rate")][ONSET:] += 0.12
    write_metrics(path, series, t0=T0, step=STEP)
    lines = [{"ts": T0 + i * STEP + 4 + k, "service": "eta", "level": "error",
              "message": LOOKUPS[k].format(i=i)} for i in range(ONSET, N) for k in range(2)]
    (path / "logs.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    write_case_json(path, t0=T0, step=STEP, samples=N, name="RiderErrors", service="rider",
                    signal="errors", fired_at=ONSET + 6,
                    topology=(("rider", "eta"), ("eta", "maps.googleapis.com")))
    return path


def test_failed_lookups_name_the_service_and_its_resolver(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "dns"), capsys)
    top = report["root_causes"][0]
    assert (top["service"], top["kind"]) == ("eta", "network_loss"), report["summary"]
    assert "name lookups failing (DNS)" in top["summary"]
    assert report["next_steps"][0].startswith("Check name resolution from eta")
    assert all(c["service"] != "maps.googleapis.com" for c in report["root_causes"][:1])


def test_slack_and_the_chat_name_the_lookups_not_packet_loss(tmp_path: Path) -> None:
    source = ScenarioSource(write_case(tmp_path / "dns"))
    report = asyncio.run(Investigator(source).investigate(AlertContext.from_case(source.case)))
    head = investigation_blocks(InvestigationView(investigation_id=1, report=report),
                                incident_id=1)[0]["text"]["text"]
    assert "`eta` — failed name lookups (DNS)" in head and "packet loss" not in head
    assert "`eta` — failed name lookups (DNS)" in summary_text(report)
