"""An alert whose signal has been abnormal in one or two samples is a blip, or too young to
tell from one: nightowl investigated the moment it fired, with no data after. It abstains,
says why, and still lists its leads. Five-minute data is exempt: one sample of it is five
minutes of trouble."""

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
from agents.sre.verdicts import FamilyVerdict, blip
from bot.cli import main as cli
from bot.rca import rca_view
from bot.slack.blocks import investigation_blocks, investigation_text
from integrations.telemetry.scenario import ScenarioSource
from tests.scenario_files import caller_and_slow_callee, investigate_json, write_metrics

T0 = 1_700_000_000


def test_analyze_counts_the_abnormal_samples_and_their_span() -> None:
    t = T0 + 30.0 * np.arange(100)
    v = 10 + np.random.default_rng(1).normal(0, 0.5, 100)
    v[97:] += 20  # the last three samples
    anomaly = analyze(t, v, split=float(t[60]), direction="up", smooth=1)
    assert anomaly is not None and anomaly.anomalous
    assert anomaly.abnormal == 3 and anomaly.abnormal_s == 90.0
    quiet = analyze(t, 10 + np.zeros(100) + np.sin(np.arange(100)) * 0.1,
                    split=float(t[60]), direction="up", smooth=1)
    assert quiet is not None and quiet.abnormal is None


def verdict_of(samples: int, step: float) -> FamilyVerdict:
    t = T0 + step * np.arange(100)
    v = 10 + np.random.default_rng(2).normal(0, 0.5, 100)
    v[100 - samples:] += 20
    anomaly = analyze(t, v, split=float(t[60]), direction="up", smooth=1)
    return FamilyVerdict("api", "latency", "latency", anomaly, "ev-1")


def test_a_blip_is_few_samples_over_a_short_span() -> None:
    assert blip(verdict_of(1, 30.0), 3, 120)
    assert blip(verdict_of(2, 30.0), 3, 120)
    assert not blip(verdict_of(3, 30.0), 3, 120)     # three samples: lasting
    assert not blip(verdict_of(1, 300.0), 3, 120)    # one five-minute sample: lasting
    assert not blip(FamilyVerdict("api", "latency", "latency", None, ""), 3, 120)


def write_case(path: Path, abnormal: int) -> Path:
    """`front` calls `api`; api's CPU and both latencies jump `abnormal` samples before the
    data ends, where the alert fires (30 s samples)."""
    n, step = 120, 30
    write_metrics(path, caller_and_slow_callee("front", "api", seed=9, n=n, since=n - abnormal),
                  t0=T0, step=step)
    end = T0 + (n - 1) * step
    (path / "case.json").write_text(json.dumps({
        "id": "c", "window": {"start": T0, "end": end},
        "alert": {"name": "HighLatency", "service": "front", "signal": "latency",
                  "metric": "latency", "fired_at": end},
        "topology": [{"caller": "front", "callee": "api"}]}))
    return path


def test_an_alert_one_sample_old_is_too_early_to_call_and_keeps_its_leads(
        tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    report = investigate_json(write_case(tmp_path / "young", 1), capsys)
    assert report["abstained"]
    assert "too early" in report["summary"]
    assert report["root_causes"] and report["root_causes"][0]["service"] == "api"


def test_three_samples_of_trouble_are_an_answer(
        tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    report = investigate_json(write_case(tmp_path / "lasting", 3), capsys)
    assert not report["abstained"]
    assert (report["root_causes"][0]["service"], report["root_causes"][0]["kind"]) == \
        ("api", "cpu")


def test_the_young_alert_reads_as_young_not_as_weak_leads(
        tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    case = write_case(tmp_path / "young", 2)
    report = investigate_json(case, capsys)
    assert "No root cause yet" in report["summary"] and "too weak" not in report["summary"]
    assert report["next_steps"][0].startswith("Re-investigate in a few minutes")
    assert cli(["investigate", str(case), "--no-model"]) == 0
    text = capsys.readouterr().out
    assert "abnormal in only 2 samples" in text and "Strongest lead so far: api" in text


def test_slack_and_the_chat_say_too_early_not_no_cause(tmp_path: Path) -> None:
    source = ScenarioSource(write_case(tmp_path / "young", 1))
    report = asyncio.run(Investigator(source).investigate(AlertContext.from_case(source.case)))
    view = rca_view(report)
    assert view.young and view.headline == "Too early to call"
    assert view.lead is not None and "Strongest lead so far: api" in view.lead.text
    shown = InvestigationView(investigation_id=1, report=report)
    assert investigation_text(shown) == "Too early to call"  # the phone's notification
    head = investigation_blocks(shown, incident_id=1)[0]["text"]["text"]
    assert head.startswith("⏳ *Too early to call.*") and "api" in head
    # Asked in the thread, the chat agent says the same.
    said = summary_text(report)
    assert said.startswith("*Too early to call:*") and "`api`" in said
    assert "too weak" not in said
