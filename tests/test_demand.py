"""An alert on more requests (a crawler's burst, a campaign) asks whether they did harm. A
rise the service took with its latency and its share of failed requests normal is demand,
not a fault: the run abstains and says so, whatever moved with the load downstream (every
service's CPU follows its requests). The same rise with the service slowing is an incident,
investigated as any other.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from agents.chat.lookups import summary_text
from agents.sre.context import AlertContext
from agents.sre.investigator import Investigator
from agents.sre.report import InvestigationView
from bot.rca import rca_view
from bot.slack.blocks import investigation_blocks, investigation_text
from integrations.telemetry.scenario import ScenarioSource
from tests.scenario_files import investigate_json, write_case_json, write_metrics

T0 = 1_700_000_000
STEP = 30
N = 100
BURST = 80   # the requests double from here to the end of the data
FIRED = 86


def write_case(path: Path, *, harm: bool) -> Path:
    """edge calls api; from BURST both take twice the requests (and fail twice as many, the
    same share) and api's CPU doubles with them. With `harm`, edge's latency triples too."""
    rng = np.random.default_rng(9)
    load = np.where(np.arange(N) >= BURST, 2.0, 1.0)
    series: dict[tuple[str, str], np.ndarray] = {}
    for service, rate in (("edge", 800.0), ("api", 600.0)):
        series[(service, "requests_total")] = rate * load + rng.normal(0, rate * 0.01, N)
        series[(service, "requests_5xx")] = rate * 0.01 * load + rng.normal(0, 0.2, N)
        series[(service, "latency_ms")] = 50 + rng.normal(0, 1.5, N)
        series[(service, "cpu")] = 0.3 * load + rng.normal(0, 0.005, N)
    if harm:
        series[("edge", "latency_ms")][BURST:] *= 3
    write_metrics(path, series, t0=T0, step=STEP)
    write_case_json(path, t0=T0, step=STEP, samples=N, name="HighRequestRate", service="edge",
                    signal="throughput", fired_at=FIRED, topology=(("edge", "api"),))
    return path


def test_more_requests_that_did_no_harm_are_demand(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "burst", harm=False), capsys)
    assert report["abstained"], report["summary"]
    assert "More requests, no harm" in report["summary"], report["summary"]
    assert "demand, not a fault" in report["summary"], report["summary"]


def test_more_requests_that_slowed_the_service_are_an_incident(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "harm", harm=True), capsys)
    assert "More requests, no harm" not in report["summary"], report["summary"]
    assert not report["abstained"], report["summary"]


def test_slack_and_the_chat_say_no_harm(tmp_path: Path) -> None:
    source = ScenarioSource(write_case(tmp_path / "burst", harm=False))
    report = asyncio.run(Investigator(source).investigate(AlertContext.from_case(source.case)))
    view = rca_view(report)
    assert view.demand and view.headline == "More requests, no harm"
    assert view.lead is not None and "What moved most with the load" in view.lead.text
    shown = InvestigationView(investigation_id=1, report=report)
    assert investigation_text(shown) == "More requests, no harm"
    head = investigation_blocks(shown, incident_id=1)[0]["text"]["text"]
    assert head.startswith("✅ *More requests, no harm.*"), head
    assert summary_text(report).startswith("*More requests, no harm:*")
