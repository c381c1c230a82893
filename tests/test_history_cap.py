"""How far a verdict can be trusted follows the baseline it was judged against, counted in
samples: a handful caps the confidence; ten minutes at one sample a second does not. And
`nightowl eval` scores what `nightowl investigate --json` prints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agents.sre.candidates import Candidate
from agents.sre.investigator import cap_by_history
from agents.sre.rules import DEFAULT
from bot.cli import main as cli
from evals.cases import load_suite
from evals.runner import run_case
from tests.scenario_files import write_metrics


def ranked(*confidences: float) -> list[Candidate]:
    out = []
    for k, confidence in enumerate(confidences):
        candidate = Candidate(f"s{k}", "cpu", 50.0, 0.0)
        candidate.confidence = confidence
        out.append(candidate)
    return out


def test_a_few_samples_cap_every_answer_and_say_why() -> None:
    answers = ranked(0.97, 0.6)
    note = cap_by_history(answers, 4, DEFAULT)
    cap = DEFAULT.history_floor + (1 - DEFAULT.history_floor) * 4 / DEFAULT.history_samples
    assert [c.confidence for c in answers] == [pytest.approx(cap), 0.6]
    assert note is not None and "only 4 samples" in note and f"{cap:.0%}" in note


def test_a_long_enough_baseline_leaves_confidence_alone() -> None:
    answers = ranked(0.97)
    assert cap_by_history(answers, int(DEFAULT.history_samples), DEFAULT) is None
    assert answers[0].confidence == 0.97
    assert "unknown" in (cap_by_history(ranked(0.9), None, DEFAULT) or "")


def one_second_case(path: Path) -> Path:
    """Ten minutes of history at one sample a second, then a CPU fault behind a slowdown."""
    rng = np.random.default_rng(5)
    t0, n, fault = 1_700_000_000, 900, 600
    series = {("front", "latency"): 100 + rng.normal(0, 3, n),
              ("api", "latency"): 40 + rng.normal(0, 1.5, n),
              ("api", "cpu"): 30 + rng.normal(0, 1, n)}
    series[("api", "cpu")][fault:] += 60
    series[("api", "latency")][fault + 5:] += 80
    series[("front", "latency")][fault + 6:] += 85
    write_metrics(path, series, t0=t0, step=1)
    (path / "case.json").write_text(json.dumps({
        "id": "c", "window": {"start": t0, "end": t0 + n - 1},
        "alert": {"name": "HighLatency", "service": "front", "signal": "latency",
                  "metric": "latency", "fired_at": t0 + fault + 40},
        "topology": [{"caller": "front", "callee": "api"}]}))
    (path / "truth.json").write_text('{"root_cause": {"service": "api", "kind": "cpu"}}')
    return path


def test_ten_minutes_at_one_sample_a_second_is_a_long_history_and_eval_scores_the_cli(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = one_second_case(tmp_path / "suite" / "case")
    assert cli(["investigate", str(case), "--json", "--no-model"]) == 0
    printed = json.loads(capsys.readouterr().out)
    top = printed["root_causes"][0]
    assert (top["service"], top["kind"]) == ("api", "cpu")
    assert printed["stats"]["baseline_samples"] >= 500 and not printed["caveats"]
    assert top["confidence"] > 0.9
    scored = run_case(load_suite(tmp_path / "suite").cases[0]).outcomes["nightowl"]
    assert scored.ranking[0] == "api" and scored.confidence == top["confidence"]
