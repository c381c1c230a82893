"""The investigator end to end on scenario directories, including bad data and bad sources."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agents.sre.context import AlertContext
from agents.sre.investigator import Budget, Investigator
from bot.cli import main as cli
from evals.synthetic import generate_case
from integrations.telemetry.base import MetricsResult, QueryInfo, Window
from integrations.telemetry.errors import ScenarioError
from integrations.telemetry.scenario import ScenarioSource

DEMO = Path(__file__).parents[1] / "bot" / "demo" / "scenarios"


async def investigate(path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    source = ScenarioSource(path)
    return await Investigator(source, **kwargs).investigate(  # type: ignore[arg-type]
        AlertContext.from_case(source.case))


@pytest.mark.parametrize(("family", "index"), [("cpu", 0), ("memory", 1), ("deploy", 5),
                                               ("traffic", 7), ("payload", 9),
                                               ("kafka_lag", 10)])
async def test_finds_injected_faults(tmp_path: Path, family: str, index: int) -> None:
    case = generate_case(1, index, family, tmp_path / family)
    truth = json.loads((case / "truth.json").read_text())["root_cause"]
    report = await investigate(case)
    assert not report.abstained
    top = report.root_causes[0]
    assert (top.service, top.kind) == (truth["service"], truth["kind"])
    # Every claim cites evidence that exists, and evidence carries numbers, not raw series.
    ids = {e.id for e in report.evidence}
    assert top.evidence and set(top.evidence) <= ids
    assert all(len(e.finding) < 400 for e in report.evidence)
    assert 0.5 < top.confidence <= 1.0


async def test_control_case_abstains(tmp_path: Path) -> None:
    case = generate_case(3, 0, None, tmp_path / "control")
    report = await investigate(case)
    assert report.abstained
    assert "No confident root cause" in report.summary


async def test_output_contract_shape() -> None:
    report = (await investigate(DEMO / "frontend-latency")).contract()
    assert set(report) >= {"root_causes", "abstained", "summary", "hypotheses", "evidence",
                           "stats"}
    assert set(report["root_causes"][0]) >= {"service", "kind", "confidence", "summary",
                                             "evidence"}
    assert set(report["hypotheses"][0]) >= {"id", "statement", "status", "children"}
    assert set(report["evidence"][0]) >= {"id", "query", "finding"}
    assert set(report["stats"]) >= {"elapsed_s", "queries", "llm_calls", "llm_input_tokens"}
    statuses = {h["status"] for h in report["hypotheses"]}
    assert statuses <= {"pending", "supported", "refuted", "inconclusive"}


class FailingSource(ScenarioSource):
    """The demo scenario, but every metrics query of one service fails remotely."""

    async def metrics(self, service: str, window: Window) -> MetricsResult:
        if service == "cart":
            return MetricsResult(QueryInfo(f"metrics of {service}", "error",
                                           "HTTP 503 from the metrics backend"))
        if service == "checkout":
            raise ConnectionError("connection reset by peer")
        return await super().metrics(service, window)


async def test_failing_queries_become_error_evidence() -> None:
    source = FailingSource(DEMO / "frontend-latency")
    report = await Investigator(source).investigate(AlertContext.from_case(source.case))
    errors = [e for e in report.evidence if e.status == "error"]
    assert {e.service for e in errors} >= {"cart", "checkout"}
    assert any("HTTP 503" in e.finding for e in errors)
    assert "queries failed" in report.summary


async def test_budget_stops_early_and_says_so() -> None:
    report = await investigate(DEMO / "frontend-errors", budget=Budget(max_queries=4))
    assert report.stats.queries <= 4
    assert "query budget of 4 reached" in report.summary


def copy_demo(tmp_path: Path) -> Path:
    target = tmp_path / "case"
    shutil.copytree(DEMO / "frontend-latency", target)
    return target


async def test_bad_data_completes_with_insufficient_data(tmp_path: Path) -> None:
    case = copy_demo(tmp_path)
    lines = (case / "metrics.csv").read_text().splitlines()
    mangled = [lines[0]]
    for i, line in enumerate(lines[1:]):
        ts, service, metric, _ = line.split(",")
        if service == "cart":
            continue  # a service with no metrics at all
        if service == "frontend" and metric == "cpu_usage":
            mangled.append(f"{ts},{service},{metric},NaN")  # a series of NaNs
        elif i % 17 == 0:
            mangled.append(f"not-a-time,{service},{metric},1")  # malformed rows
        else:
            mangled.append(line)
    (case / "metrics.csv").write_text("\n".join(mangled) + "\n")
    (case / "logs.jsonl").write_text('{"ts": "2025-08-25T20:00:00Z", "service": "x"}\nnot json\n')
    source = ScenarioSource(case)
    assert any("malformed row" in w for w in source.warnings)
    assert any("logs.jsonl:2" in w for w in source.warnings)
    report = await Investigator(source).investigate(AlertContext.from_case(source.case))
    assert report.summary
    cart = [h for h in report.hypotheses if h.service == "cart"]
    traces = {e.id for e in report.evidence if e.signal == "traces"}
    # With its metrics gone, cart can be supported only by what its spans show.
    assert cart and all(h.status != "supported" or set(h.evidence) & traces for h in cart)
    assert "no usable metrics" in report.summary and "cart" in report.summary


async def test_clock_skew_between_logs_and_metrics(tmp_path: Path) -> None:
    case = generate_case(1, 8, "code_error", tmp_path / "skew")
    logs = [json.loads(line) for line in (case / "logs.jsonl").read_text().splitlines()]
    from datetime import datetime, timedelta

    for item in logs:  # the log shipper's clock runs 90 s late
        when = datetime.fromisoformat(item["ts"].replace("Z", "+00:00")) + timedelta(seconds=90)
        item["ts"] = when.isoformat()
    (case / "logs.jsonl").write_text("".join(json.dumps(i) + "\n" for i in logs))
    truth = json.loads((case / "truth.json").read_text())["root_cause"]
    report = await investigate(case)
    assert report.root_causes[0].service == truth["service"]


@pytest.mark.parametrize(("setup", "message"), [
    (lambda p: None, "missing (every scenario needs case.json)"),
    (lambda p: (p / "case.json").write_text("{not json"), "case.json: not valid JSON"),
    (lambda p: (p / "case.json").write_text('{"alert": {"service": "a"}}'), "alert.fired_at"),
    (lambda p: (p / "case.json").write_text(
        '{"alert": {"service": "a", "fired_at": "2025-01-01T00:00:00Z"}}'),
     "metrics.csv: missing"),
])
def test_unusable_scenarios_name_the_file(tmp_path: Path, setup, message: str,  # type: ignore[no-untyped-def]
                                          capsys: pytest.CaptureFixture[str]) -> None:
    setup(tmp_path)
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ScenarioSource(tmp_path)
    assert cli(["investigate", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_json_and_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["investigate", str(DEMO / "frontend-latency"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["root_causes"][0]["service"] == "cart"
    assert cli(["investigate", str(DEMO / "frontend-latency")]) == 0
    text = capsys.readouterr().out
    assert "Likely root cause: cart — CPU saturation" in text and "Evidence chain:" in text


def test_cli_help_for_every_command() -> None:
    for command in ([], ["serve"], ["demo"], ["investigate"], ["db", "upgrade"], ["eval"]):
        result = subprocess.run([sys.executable, "-m", "bot.cli", *command, "--help"],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and "usage:" in result.stdout
