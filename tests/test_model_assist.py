"""Model-assisted investigation through the real gateway and SDKs against a scripted model:
extra hypotheses decided by tests, reading flagged logs, citation checking, and every way the
model can fail leaving the statistical result intact."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.citations import check_claims, parse_claims
from agents.sre.assist import ModelAssist
from agents.sre.context import AlertContext
from agents.sre.investigator import Investigator
from agents.sre.report import Claim, Evidence, Report
from benchmarks.context import measure
from evals.synthetic import generate_case
from integrations.llm.gateway import Caps
from integrations.telemetry.scenario import ScenarioSource, load_case
from storage.ledger import Ledger
from storage.repository import Store
from tests.fakes.llm import FakeModelServer, Step, gateway_for, status, text, tool, tools
from tests.fakes.server import ServerThread

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
SCENARIO = Path(__file__).parents[1] / "bot" / "demo" / "scenarios" / "frontend-latency"


@pytest.fixture
def model() -> Iterator[tuple[FakeModelServer, str]]:
    server = FakeModelServer()
    with ServerThread(server.app()) as running:
        yield server, running.url


async def investigate(store: Store, url: str, *, openai: bool = False,
                      caps: Caps | None = None, investigation_id: int | None = None) -> Report:
    gateway = gateway_for(store, caps=caps, **({"openai_url": url} if openai
                                               else {"anthropic_url": url}))
    assist = ModelAssist(gateway, investigation_id=investigation_id)
    investigator = Investigator(ScenarioSource(SCENARIO), assist=assist)
    return await investigator.investigate(AlertContext.from_case(load_case(SCENARIO)))


async def statistical() -> Report:
    return await Investigator(ScenarioSource(SCENARIO)).investigate(
        AlertContext.from_case(load_case(SCENARIO)))


SUMMARY = tool("write_summary", claims=[
    {"text": "cart's CPU saturated at 20:18, before its p99 latency rose", "evidence":
     ["ev-10", "ev-9"]},
    {"text": "frontend p99 latency rose 4.7× because cart slowed down", "evidence": ["ev-1",
                                                                                       "ev-9"]},
    {"text": "A payments deploy caused the outage", "evidence": ["ev-28"]},
    {"text": "The database ran out of connections", "evidence": []},
    {"text": "mongo is slow", "evidence": ["ev-99"]},
])


async def test_model_adds_tested_hypotheses_reads_logs_and_writes_a_cited_summary(
        sqlite_store: Store, model: tuple[FakeModelServer, str]) -> None:
    server, url = model
    server.script = [
        tools(("propose_hypothesis", {"service": "cart", "kind": "other", "family": "cpu",
                                      "check": "metric",
                                      "statement": "a noisy neighbour starved cart of CPU"}),
              ("propose_hypothesis", {"service": "payments", "kind": "deploy",
                                      "check": "changes",
                                      "statement": "a payments deploy broke checkout"}),
              ("propose_hypothesis", {"service": "cart", "kind": "memory", "check": "metric",
                                      "statement": "cart is swapping"}),
              ("propose_hypothesis", {"service": "warp-core", "kind": "other",
                                      "check": "metric", "family": "cpu",
                                      "statement": "the warp core overheated"})),
        tools(("read_logs", {"service": "cart"}), ("read_traces", {"service": "cart"}),
              ("read_logs", {"service": "kafka"})),
        tool("finish"),
        SUMMARY,
    ]
    baseline = await statistical()
    row = await sqlite_store.start_investigation(None, "cli")
    report = await investigate(sqlite_store, url, investigation_id=row.id)

    # The ranking is the engine's: the model cannot move the root cause by saying so.
    assert report.root_causes[0].service == baseline.root_causes[0].service == "cart"
    proposed = [h for h in report.hypotheses if h.origin == "model"]
    assert [(h.service, h.status) for h in proposed] == [("cart", "supported"),
                                                         ("payments", "refuted")]
    assert proposed[0].evidence and proposed[1].reason.startswith("no change events")
    assert report.model is not None and report.model.proposed == 2

    # The tool results told the model what happened, including its mistakes.
    results = [block for message in server.requests[1]["messages"] if message["role"] == "user"
               for block in message["content"] if isinstance(block, dict)
               and block.get("type") == "tool_result"]
    contents = [r["content"] if isinstance(r["content"], str) else r["content"][0]["text"]
                for r in results]
    assert contents[0].startswith("h") and "supported" in contents[0]
    assert "already tested as h10: refuted" in contents[2]
    assert "unknown service 'warp-core'" in contents[3] and results[3]["is_error"] is True
    read = [r for r in server.requests[2]["messages"] if r["role"] == "user"][-1]["content"]
    read_texts = [b["content"] if isinstance(b["content"], str) else b["content"][0]["text"]
                  for b in read]
    assert read_texts[0].startswith("ev-") and "kafka was not flagged" in read_texts[2]
    assert any(e.signal == "traces" and e.service == "cart" for e in report.evidence)

    # Two claims survive; the uncited, invented and unsupported ones are removed and noted.
    assert [c.evidence for c in report.claims] == [["ev-10", "ev-9"], ["ev-1", "ev-9"]]
    assert report.summary.startswith("cart's CPU saturated at 20:18")
    assert "[ev-10, ev-9]" in report.summary and "payments" not in report.summary
    problems = " | ".join(report.model.problems)
    assert "blaming payments" in problems and "uncited claim" in problems
    assert "ev-99" in problems and "unknown service 'warp-core'" in problems

    # What it cost, per call, in the ledger; the model saw a brief, never raw telemetry.
    assert report.stats.llm_calls == 4 == report.model.calls
    calls = await Ledger.beside(sqlite_store).calls(EPOCH)
    assert len(calls) == 4 and {c.investigation_id for c in calls} == {row.id}
    assert {c.agent for c in calls} == {"sre"} and all(c.status == "ok" for c in calls)
    first_prompt = json.dumps(server.requests[0]["messages"], ensure_ascii=False)
    assert "cpu_usage of cart 47.34 → 94.04" in first_prompt
    assert len(first_prompt) < 8000


async def test_openai_compatible_model_works_the_same(
        sqlite_store: Store, model: tuple[FakeModelServer, str]) -> None:
    server, url = model
    server.script = [tool("finish"), SUMMARY]
    report = await investigate(sqlite_store, url, openai=True)
    assert report.model is not None and report.model.models == ["openai:gpt-5-mini"]
    assert len(report.claims) == 2


@pytest.mark.parametrize("script", [
    # Malformed tool calls, then no summary at all (text that is not JSON).
    [tools(("propose_hypothesis", {"service": "cart"}), ("drop_database", {})),
     text(""), text("I think it is the network.")],
    # A summary whose every citation is invented.
    [tool("finish"), tool("write_summary", claims=[{"text": "cart is out of CPU",
                                                    "evidence": ["ev-404"]}])],
    # Claims that are not even a list.
    [tool("finish"), tool("write_summary", claims="cart")],
    # Every call fails with 500s.
    [status(500)] * 6,
], ids=["malformed-calls", "invented-ids", "not-a-list", "server-errors"])
async def test_a_misbehaving_model_leaves_the_statistical_result(
        sqlite_store: Store, model: tuple[FakeModelServer, str], script: list[Step]) -> None:
    server, url = model
    server.script = list(script)
    baseline = await statistical()
    report = await investigate(sqlite_store, url)
    assert report.root_causes[0].model_dump() == baseline.root_causes[0].model_dump()
    assert report.summary.startswith(baseline.summary[:60])
    assert report.claims == []
    assert report.model is not None
    assert report.model.problems or report.model.unavailable


async def test_over_the_cap_or_paused_it_continues_without_a_model_and_says_so(
        sqlite_store: Store, model: tuple[FakeModelServer, str]) -> None:
    server, url = model
    await Ledger.beside(sqlite_store).set_control("models_paused", "true", by="U1")
    report = await investigate(sqlite_store, url)
    assert report.root_causes[0].service == "cart" and server.requests == []
    assert "Continued without a model: paused" in report.summary
    await Ledger.beside(sqlite_store).set_control("models_paused", "false", by="U1")

    capped = await investigate(sqlite_store, url, caps=Caps(per_agent_daily_usd={"sre": 0.0}))
    assert capped.model is not None and capped.model.unavailable is not None
    assert capped.model.unavailable.startswith("cap") and server.requests == []
    statuses = [c.status for c in await Ledger.beside(sqlite_store).calls(EPOCH)]
    assert statuses == ["refused_paused", "refused_cap"]  # refused once each, then not asked


def test_citation_check_rules() -> None:
    evidence = {
        "ev-1": Evidence(id="ev-1", query="q", finding="cpu of cart high", service="cart"),
        "ev-2": Evidence(id="ev-2", query="q", finding="db normal", service="postgres"),
    }
    claims, problems = parse_claims([
        {"text": "cart ran out of CPU (ev-1)"},                     # inline id counts
        {"text": "postgres was fine", "evidence": ["ev-2"]},        # not blaming: kept
        {"text": "postgres caused the latency", "evidence": ["ev-2"]},
        {"text": "cart slowed down", "evidence": ["ev-2"]},         # evidence is not about cart
        "just a string",
    ])
    assert problems == ["claim 5 is malformed (needs text and evidence)"]
    checked = check_claims(claims, evidence, services={"cart", "postgres"},
                           supported={"cart"})
    assert checked.claims == [Claim(text="cart ran out of CPU", evidence=["ev-1"]),
                              Claim(text="postgres was fine", evidence=["ev-2"])]
    assert len(checked.problems) == 2


async def test_model_context_stays_bounded_as_the_system_grows(
        sqlite_store: Store, tmp_path: Path) -> None:
    """What the context benchmark prints, asserted on one incident per size."""
    server = FakeModelServer(input_tokens=None)
    with ServerThread(server.app()) as running:
        sizes = {}
        for size in (10, 200):
            case = generate_case(4242, 0, "cpu", tmp_path / str(size), services=size)
            sizes[size] = await measure(case, sqlite_store, server, running.url)
    (ours10, naive10, _), (ours200, naive200, _) = sizes[10], sizes[200]
    assert ours200 <= 1.5 * ours10
    assert naive200 >= 10 * naive10 and naive200 > 20 * ours200


def test_the_cli_uses_the_configured_model_unless_told_not_to(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: tuple[FakeModelServer, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main as cli

    server, url = model
    server.script = [tool("finish"), SUMMARY]
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
    monkeypatch.setenv("NIGHTOWL_DATABASE_URL", f"sqlite:///{tmp_path / 'n.db'}")
    assert cli(["investigate", str(SCENARIO), "--json"]) == 0
    with_model = json.loads(capsys.readouterr().out)
    assert with_model["stats"]["llm_calls"] >= 1 and server.requests
    asked = len(server.requests)
    assert cli(["investigate", str(SCENARIO), "--json", "--no-model"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert alone["stats"]["llm_calls"] == 0 and len(server.requests) == asked
    assert alone["root_causes"][0]["service"] == with_model["root_causes"][0]["service"]
