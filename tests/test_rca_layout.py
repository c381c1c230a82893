"""The RCA as a responder reads it (phone-sized, plain units, UTC, plurals, the console
faithful to Slack), the lifecycle in the logs, and an abstention left Open."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import httpx
import pytest

from agents.sre.context import AlertContext
from agents.sre.grounding import ground
from agents.sre.investigator import Investigator
from agents.sre.report import Evidence, Hypothesis, InvestigationView, Report, RootCause, Stats
from bot.console import blocks_to_lines, mrkdwn_to_text
from bot.demo.run import SCENARIOS, alertmanager_payload, scenario_telemetry
from bot.rca import amount, plural, rca_view
from bot.report_text import render
from bot.settings import Settings
from bot.slack.blocks import investigation_blocks
from bot.wiring import build
from integrations.telemetry.scenario import ScenarioSource, load_case
from storage.models import Alert, AlertStatus, IncidentStatus, Severity, Signal, utcnow
from storage.repository import Store
from tests.fakes.service import serving


async def _demo_report() -> Report:
    source = ScenarioSource(SCENARIOS / "frontend-latency")
    context = AlertContext.from_case(source.case)
    report = await Investigator(source).investigate(context)
    await ground(report, context, source)
    return report


def _text(blocks: list[dict[str, object]]) -> str:
    return "\n".join(blocks_to_lines(blocks))  # type: ignore[arg-type]


async def test_rca_is_phone_sized_cause_first() -> None:
    report = await _demo_report()
    blocks = investigation_blocks(InvestigationView(investigation_id=7, report=report),
                                  incident_id=3)
    first = blocks[0]["text"]["text"]
    assert first.startswith("🧭 *Likely root cause:* `cart` — CPU saturation")
    # One line of evidence under the cause, in plain words, no z-score, times in UTC.
    lead = first.splitlines()[1]
    assert "z=" not in lead and " UTC" in lead and "→" in lead
    # Before the details: the cause, its evidence and the next step fit one phone screen.
    divider = next(i for i, b in enumerate(blocks) if b["type"] == "divider")
    above = _text(blocks[:divider])
    assert len(above) < 600, above
    details = _text(blocks[divider:])
    assert "Details" in details and "Evidence chain" in details
    assert "Other candidates" in details
    assert "z=" not in _text(blocks)
    footer = next(b["elements"][0]["text"] for b in blocks
                  if b["type"] == "context" and "hypotheses" in json.dumps(b))
    assert "pieces of evidence" in footer and " s · " in footer


def test_plurals_units_and_faithful_console() -> None:
    assert plural(1, "service") == "1 service" and plural(2, "service") == "2 services"
    assert plural(1, "hypothesis", "hypotheses") == "1 hypothesis"
    assert amount(0.934, "share") == "93%" and amount(734003200, "bytes") == "700 MiB"
    assert amount(0.25, "seconds") == "250 ms" and amount(1.5, "seconds") == "1.5 s"
    assert amount(1, "cores") == "1 core" and amount(12.5, "per second") == "12.5/s"
    # Underscores inside names survive, paired marks go, a lone backtick stays as typed.
    assert mrkdwn_to_text("*Likely:* `cpu_busy_share` of _node_") == \
        "Likely: cpu_busy_share of node"
    assert mrkdwn_to_text("a ` b") == "a ` b"


def _abstained_report() -> Report:
    return Report(
        abstained=True,
        hypotheses=[
            Hypothesis(id="h1", statement="api latency is abnormal (HighLatency)",
                       kind="symptom", service="api", status="inconclusive",
                       reason="the alerting signal is within its normal range (z=1.2)"),
            Hypothesis(id="h2", statement="CPU saturation of api caused api latency",
                       kind="cpu", service="api", status="refuted", reason="normal (z=0.4)"),
            Hypothesis(id="h3", statement="db (a dependency of api) is degraded",
                       kind="dependency", service="db", status="inconclusive",
                       reason="no metrics for db")],
        evidence=[Evidence(id="ev-1", query="q", finding="f")],
        stats=Stats(elapsed_s=0.3, queries=1),
        coverage=["logs: not configured (LOKI_URL)"],
        caveats=["confidence capped at 59%: only 11 minutes of history before the alert"],
        root_causes=[RootCause(service="db", kind="dependency", confidence=0.2, summary="")])


def test_abstention_lists_what_was_checked_and_why() -> None:
    view = rca_view(_abstained_report())
    assert view.cause is None and view.lead is not None
    assert view.lead.text.startswith("The alerting signal: the alerting signal is within its "
                                     "normal range")
    checked = dict(view.details)["What I checked"]
    texts = [line.text for line in checked]
    # Inconclusive first, and told apart from ruled out; what could not be checked, too.
    assert texts[0].endswith("inconclusive: the alerting signal is within its normal range")
    assert any("— ruled out: normal" in t for t in texts)
    assert any("inconclusive: no metrics for db" in t for t in texts)
    assert texts[-1] == "logs: not configured (LOKI_URL)"
    text = render(_abstained_report())
    assert "No confident root cause." in text and "⚠ confidence capped at 59%" in text
    assert "1 query · 0.3 s · 1 piece of evidence" in text and "3 hypotheses" in text


def test_an_abstention_with_a_lead_says_what_it_rests_on() -> None:
    """A supported symptom and a lead too weak to call (a CPU alert whose only cause is that
    CPU): no percentage beside "too weak", the lead's numbers instead; the alert's own
    expression first among what was checked; the lead not repeated as another candidate."""
    report = Report(
        abstained=True,
        hypotheses=[Hypothesis(id="h1", statement="node saturation is abnormal",
                               kind="symptom", service="node", status="supported")],
        evidence=[Evidence(id="ev-alert", query="expr > 80", link="http://p/alert",
                           finding="The alert's expression peaked at 97.6 (fires when > 80)"),
                  Evidence(id="ev-1", query="1 - avg(rate(node_cpu_seconds_total[2m]))",
                           link="http://p/cpu", finding="cpu_busy_share of node 0.2 → 0.976",
                           service="node", label="CPU busy", unit="share",
                           numbers={"baseline": 0.2, "peak": 0.976, "onset": "12:02"})],
        root_causes=[RootCause(service="node", kind="cpu", confidence=0.81, summary="",
                               evidence=["ev-1"])])
    view = rca_view(report)
    assert view.lead is not None and view.lead.link == "http://p/cpu"
    assert view.lead.text == ("The strongest lead, node — CPU saturation, is too weak to call: "
                              "CPU busy of node: 20% → 98% (4.9× its usual) from 12:02 UTC.")
    details = dict(view.details)
    assert "Other candidates" not in details
    assert details["What I checked"][0].text.startswith("The alert's expression peaked")
    assert "81%" not in render(report)


async def test_an_abstention_leaves_the_incident_open(store: Store) -> None:
    alert = Alert(source="alertmanager", dedup_key="k1", group_key="g1",
                  status=AlertStatus.FIRING, service="api", signal=Signal.LATENCY,
                  severity=Severity.WARNING, title="api slow", started_at=utcnow(),
                  labels={"alertname": "HighLatency"}, raw={})
    (outcome,) = await store.ingest([alert], lambda _: "#incidents")
    assert outcome.incident_id is not None
    for abstained, expected in ((True, IncidentStatus.OPEN), (False, IncidentStatus.DIAGNOSED)):
        row = await store.start_investigation(outcome.incident_id, "auto")
        assert (await store.incident(outcome.incident_id)).status == "investigating"
        row.status, row.abstained = "done", abstained
        await store.save_investigation(row)
        assert (await store.incident(outcome.incident_id)).status == expected


async def test_lifecycle_is_logged_one_line_each(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/n.db")
    settings.webhooks.allow_unauthenticated = True
    settings.slack.bot_token = settings.slack.signing_secret = None
    out = io.StringIO()
    wiring = build(settings, telemetry_for=scenario_telemetry, console=out)
    case = load_case(SCENARIOS / "frontend-latency")
    caplog.set_level(logging.INFO)
    async with serving(wiring.app) as url, httpx.AsyncClient(base_url=url) as http:
        firing = alertmanager_payload(case, status="firing", scenario="frontend-latency")
        assert (await http.post("/webhooks/alertmanager", json=firing)).status_code == 202
        await wiring.service.idle(timeout=60)
        resolved = alertmanager_payload(case, status="resolved", scenario="frontend-latency")
        assert (await http.post("/webhooks/alertmanager", json=resolved)).status_code == 202
        await wiring.service.idle(timeout=60)
    lines = [r.getMessage() for r in caplog.records
             if r.name in ("bot.service", "bot.investigations")]
    assert any("accepted: alertmanager HighLatency on frontend (firing); incident 1 opened"
               in line for line in lines), lines
    assert any("incident 1: investigation 1 started (auto)" in line for line in lines)
    assert any("incident 1: investigation 1 finished in" in line and "cause cart cpu" in line
               for line in lines), lines
    assert any("incident 1 resolved in #incidents" in line for line in lines), lines
    assert "cpu_busy" not in out.getvalue() and "Likely root cause: cart" in out.getvalue()
    wiring.store.close()


def test_reasons_name_metrics_in_words_and_leave_service_names_alone() -> None:
    from agents.sre.wording import utc_text

    said = utc_text("it moved, but by too little to explain search errors "
                    "(latency_p99_ms against error_rate at z=3.2) at 10:02")
    assert said == ("it moved, but by too little to explain search errors "
                    "(p99 latency against error rate) at 10:02 UTC")
    assert utc_text("order_service called payment_db") == "order_service called payment_db"


def test_a_cause_off_the_confirmed_path_says_so_beside_the_answer() -> None:
    """A noisy neighbour the call graph does not connect to the alert: how (or whether) it
    reaches the alert is said right under the answer, in Slack and on the console alike, not
    only in the JSON summary."""
    report = Report(
        abstained=False,
        evidence=[Evidence(id="ev-1", query="rate(container_cpu_usage_seconds_total[2m])",
                           link="http://p/cpu", finding="cpu of billing-batch 0.02 → 11",
                           service="billing-batch", label="CPU", unit="cores",
                           numbers={"baseline": 0.02, "peak": 11.0, "onset": "15:34"})],
        root_causes=[RootCause(
            service="billing-batch", kind="cpu", confidence=0.84, summary="", evidence=["ev-1"],
            where="began before the alert; connection unknown (not on the alert's call path)")])
    view = rca_view(report)
    assert view.caveats[0] == ("billing-batch: began before the alert; connection unknown "
                               "(not on the alert's call path)")
    blocks = investigation_blocks(InvestigationView(investigation_id=1, report=report),
                                  incident_id=1)
    divider = next(i for i, b in enumerate(blocks) if b["type"] == "divider")
    assert "connection unknown" in _text(blocks[:divider])
    assert "connection unknown" in render(report)
    # On the confirmed path there is nothing to say.
    report.root_causes[0].where = ""
    assert not rca_view(report).caveats
