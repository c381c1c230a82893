"""An alert whose signal was back to normal for the last minutes before the data ended is
over by itself: a transient incident, not a fault still to mend. nightowl abstains, says it
recovered, and keeps what it found while it lasted as leads. A signal back for only a sample
or two may be a lull inside a fault, and still gets an answer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np

from agents.chat.lookups import summary_text
from agents.sre.context import AlertContext
from agents.sre.investigator import Investigator
from agents.sre.report import InvestigationView
from agents.sre.stats import analyze
from agents.sre.verdicts import FamilyVerdict, recovered
from bot.rca import rca_view
from bot.slack.blocks import investigation_blocks, investigation_text
from integrations.telemetry.scenario import ScenarioSource
from tests.scenario_files import caller_and_slow_callee, investigate_json, write_metrics

T0 = 1_700_000_000
N, STEP = 120, 30


def test_analyze_measures_how_long_an_excursion_has_been_over() -> None:
    t = T0 + 30.0 * np.arange(100)
    v = 10 + np.random.default_rng(1).normal(0, 0.5, 100)
    v[80:92] += 20  # abnormal for 12 samples, then 8 normal ones
    anomaly = analyze(t, v, split=float(t[60]), direction="up", smooth=1)
    assert anomaly is not None and anomaly.anomalous
    assert anomaly.recovered == 8 and anomaly.recovered_s == 240.0
    verdict = FamilyVerdict("api", "latency", "latency", anomaly, "ev-1")
    assert recovered(verdict, 3, 180)
    assert not recovered(verdict, 9, 180)   # fewer samples back than asked
    assert not recovered(verdict, 3, 300)   # a shorter time back than asked


def test_an_excursion_ends_where_it_began_not_at_a_wobble_of_its_aftermath() -> None:
    # A latency blip to 30 times its usual rise over the noise, then an aftermath that is
    # noisier than the baseline (a sample now and then a few sigmas up): the episode ended
    # with the blip, as it began, at a tenth of its peak.
    t = T0 + 30.0 * np.arange(100)
    v = 10 + np.random.default_rng(1).normal(0, 0.5, 100)
    v[70:80] += 30
    v[[84, 90, 96]] += 2.5  # z of about 5, against a peak of about 60
    anomaly = analyze(t, v, split=float(t[60]), direction="up", smooth=1)
    assert anomaly is not None and anomaly.anomalous
    assert anomaly.recovered == 20 and anomaly.recovered_s == 600.0
    assert anomaly.abnormal is not None and anomaly.abnormal >= 10  # the wobbles still count


def write_case(path: Path, back: int) -> Path:
    """`front` calls `api`; api's CPU and both latencies jump for 12 samples (30 s each) and
    are back to normal for the last `back` samples before the data ends."""
    series = caller_and_slow_callee("front", "api", seed=9, n=N, since=N - 12 - back)
    for key, jump in ((("api", "cpu"), 60), (("api", "latency"), 80),
                      (("front", "latency"), 85)):
        series[key][N - back:] -= jump
    write_metrics(path, series, t0=T0, step=STEP)
    (path / "case.json").write_text(json.dumps({
        "id": "c", "window": {"start": T0, "end": T0 + (N - 1) * STEP},
        "alert": {"name": "HighLatency", "service": "front", "signal": "latency",
                  "metric": "latency", "fired_at": T0 + (N - 8 - back) * STEP},
        "topology": [{"caller": "front", "callee": "api"}]}))
    return path


def test_an_alert_over_for_five_minutes_abstains_and_keeps_its_lead(
        tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    report = investigate_json(write_case(tmp_path / "over", 10), capsys)
    assert report["abstained"]
    assert "recovered by itself" in report["summary"]
    assert "too weak" not in report["summary"]
    assert report["next_steps"][0].startswith("Nothing to mend now")
    assert report["root_causes"][0]["service"] == "api"


def test_a_lull_of_two_samples_is_not_a_recovery(
        tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    report = investigate_json(write_case(tmp_path / "lull", 2), capsys)
    assert not report["abstained"]
    assert (report["root_causes"][0]["service"], report["root_causes"][0]["kind"]) == \
        ("api", "cpu")


def test_slack_and_the_chat_say_it_recovered(tmp_path: Path) -> None:
    source = ScenarioSource(write_case(tmp_path / "over", 10))
    report = asyncio.run(Investigator(source).investigate(AlertContext.from_case(source.case)))
    view = rca_view(report)
    assert view.recovered and view.headline == "Recovered by itself"
    assert view.lead is not None and "Strongest lead while it lasted: api" in view.lead.text
    shown = InvestigationView(investigation_id=1, report=report)
    assert investigation_text(shown) == "Recovered by itself"
    head = investigation_blocks(shown, incident_id=1)[0]["text"]["text"]
    assert head.startswith("✅ *Recovered by itself.*") and "back to normal" in head
    said = summary_text(report)
    assert said.startswith("*Recovered by itself:*") and "`api`" in said
