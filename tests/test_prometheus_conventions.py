"""Metrics as exporters shape them, read by the real Prometheus (backfilled with promtool).

node_exporter (per-core, per-mode CPU counters; MemAvailable/MemTotal), cAdvisor (container
CPU and working set) with kube-state-metrics (limits, restarts, OOMKilled), a histogram and a
summary. The fault: host1's CPU goes from 20% to 90% busy; the cart container's working set
climbs to its limit and it is OOM-killed; checkout's p99 goes from ~0.1 s to ~0.8 s.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest
from pydantic import SecretStr

from agents.sre.context import AlertContext
from agents.sre.grounding import ground
from agents.sre.investigator import Investigator
from bot.settings import Settings, SlackSettings, TelemetrySettings, WebhookSettings
from bot.wiring import build
from integrations.telemetry.base import Window
from integrations.telemetry.prometheus import PrometheusSource, expression_of
from tests.fakes.service import serving
from tests.fakes.slack import FakeSlack

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
START = NOW - timedelta(hours=2)
FAULT = NOW - timedelta(minutes=30)
STEP = 15
LIMIT = 512 * 2**20
BOUNDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def _families() -> dict[str, list[str]]:
    rng = np.random.default_rng(3)
    times = np.arange(START.timestamp(), (NOW - timedelta(minutes=1)).timestamp(), STEP)
    f: dict[str, list[str]] = {}

    def add(name: str, labels: str, value: float, ts: float) -> None:
        f.setdefault(name, []).append(f"{name}{{{labels}}} {value:.6f} {ts:.0f}")

    cpu = {(c, m): 0.0 for c in range(4) for m in ("idle", "user", "system")}
    cadvisor_cpu = restarts = 0.0
    buckets = dict.fromkeys(BOUNDS, 0.0)
    count = total = errors = 0.0
    node = 'job="node",instance="host1:9100"'
    pod = 'namespace="shop",pod="cart-7d9",container="cart"'
    for ts in times:
        faulty = ts >= FAULT.timestamp()
        busy = (0.9 if faulty else 0.2) + rng.normal(0, 0.01)
        for c in range(4):
            cpu[(c, "idle")] += STEP * (1 - busy)
            cpu[(c, "user")] += STEP * busy * 0.8
            cpu[(c, "system")] += STEP * busy * 0.2
            for mode in ("idle", "user", "system"):
                add("node_cpu_seconds_total", f'{node},cpu="{c}",mode="{mode}"', cpu[(c, mode)],
                    ts)
        add("node_memory_MemTotal_bytes", node, 16e9, ts)
        add("node_memory_MemAvailable_bytes", node, 9e9 + rng.normal(0, 1e7), ts)
        # cart: steady memory, then a climb to the limit and an OOM kill 20 minutes in.
        grown = min(1.0, max(0.0, (ts - FAULT.timestamp()) / 1200))
        oomed = ts >= FAULT.timestamp() + 1200
        cadvisor_cpu += STEP * (0.3 + rng.normal(0, 0.01))
        add("container_cpu_usage_seconds_total", f'job="kubelet",{pod}', cadvisor_cpu, ts)
        working_set = (0.4 + 0.58 * grown) * LIMIT + rng.normal(0, 2e5)
        add("container_memory_working_set_bytes", f'job="kubelet",{pod}', working_set, ts)
        add("kube_pod_container_resource_limits",
            f'job="kube-state-metrics",{pod},resource="memory",unit="byte"', LIMIT, ts)
        add("kube_pod_container_resource_limits",
            f'job="kube-state-metrics",{pod},resource="cpu",unit="core"', 1.0, ts)
        if oomed and restarts == 0:
            restarts = 1
        add("kube_pod_container_status_restarts_total", f'job="kube-state-metrics",{pod}',
            restarts, ts)
        add("kube_pod_container_status_last_terminated_reason",
            f'job="kube-state-metrics",{pod},reason="OOMKilled"', 1.0 if oomed else 0.0, ts)
        # checkout: 20 requests a second, p99 from ~0.1 s to ~0.8 s, 5xx from 0 to 2 a second.
        slow = 0.8 if faulty else 0.09
        for _ in range(20 * STEP // 10):
            latency = abs(rng.normal(slow * 0.6, slow * 0.2))
            for bound in BOUNDS:
                buckets[bound] += 10 if latency <= bound else 0
            count += 10
            total += 10 * latency
        svc = 'service="checkout"'
        for bound in BOUNDS:
            add("http_request_duration_seconds_bucket", f'{svc},le="{bound}"', buckets[bound], ts)
        add("http_request_duration_seconds_bucket", f'{svc},le="+Inf"', count, ts)
        add("http_request_duration_seconds_count", svc, count, ts)
        add("http_request_duration_seconds_sum", svc, total, ts)
        errors += 2 * STEP if faulty else 0
        add("http_requests_total", f'{svc},code="500"', errors, ts)
        add("http_requests_total", f'{svc},code="200"', count - errors, ts)
        add("rpc_duration_seconds", f'{svc},quantile="0.99"', slow + rng.normal(0, 0.005), ts)
        add("rpc_duration_seconds", f'{svc},quantile="0.5"', slow / 2, ts)
        add("rpc_duration_seconds_sum", svc, total, ts)
        add("rpc_duration_seconds_count", svc, count, ts)
    return f


def openmetrics() -> str:
    lines: list[str] = []
    for name, samples in _families().items():
        lines.append(f"# TYPE {name} gauge")
        lines.extend(samples)
    return "\n".join(lines) + "\n# EOF\n"


WINDOW = Window(START, NOW)
AFTER = FAULT.timestamp() + 300


def _after(values: np.ndarray, times: np.ndarray) -> float:
    return float(np.nanmedian(values[times > AFTER]))


def _before(values: np.ndarray, times: np.ndarray) -> float:
    return float(np.nanmedian(values[times < FAULT.timestamp() - 300]))


async def test_node_exporter_cpu_is_a_busy_share_and_memory_a_used_share(prometheus: str) -> None:
    source, service = PrometheusSource(prometheus).for_alert(
        {"alertname": "HostHighCpuLoad", "job": "node", "instance": "host1:9100"})
    assert (source.service_label, service) == ("job", "node")
    result = await source.metrics("node", WINDOW)
    by = {s.metric: s for s in result.series}
    cpu = by["cpu_busy_share"]
    # Not the core count (every mode summed), but the busy share: 0.2 before, 0.9 after.
    assert _before(cpu.v, cpu.t) == pytest.approx(0.2, abs=0.03)
    assert _after(cpu.v, cpu.t) == pytest.approx(0.9, abs=0.03)
    assert cpu.unit == "share" and 'mode="idle"' in cpu.query
    assert cpu.link and "node_cpu_seconds_total" in cpu.link
    memory = by["memory_used_share"]
    assert _after(memory.v, memory.t) == pytest.approx(1 - 9 / 16, abs=0.01)
    await source.aclose()


async def test_cadvisor_and_kube_state_metrics(prometheus: str) -> None:
    source, service = PrometheusSource(prometheus).for_alert(
        {"alertname": "KubeContainerOOMKilled", "job": "kube-state-metrics",
         "namespace": "shop", "pod": "cart-7d9", "container": "cart"})
    assert (source.service_label, service) == ("container", "cart")  # past the exporter's job
    result = await source.metrics("cart", WINDOW)
    by = {s.metric: s for s in result.series}
    share = by["memory_limit_share"]
    assert _before(share.v, share.t) == pytest.approx(0.4, abs=0.02)
    assert float(np.nanmax(share.v)) > 0.95
    assert by["memory_working_set_bytes"].unit == "bytes"
    cores = by["cpu_usage_cores"]
    assert _after(cores.v, cores.t) == pytest.approx(0.3, abs=0.03)
    assert by["cpu_limit_share"].unit == "share"
    assert float(np.nanmax(by["restarts"].v)) >= 1
    assert float(np.nanmax(by["memory_oom_kills"].v)) >= 1
    events = await source.events(WINDOW, service="cart")
    assert [e.kind for e in events.events] == ["restart"]
    assert "OOMKilled" in events.events[0].summary
    await source.aclose()


async def test_histogram_and_summary_quantiles_with_units(prometheus: str) -> None:
    source = PrometheusSource(prometheus)
    result = await source.metrics("checkout", WINDOW)
    by = {s.metric: s for s in result.series}
    p99 = by["http_request_duration_seconds_p99"]
    assert p99.unit == "seconds" and "histogram_quantile(0.99" in p99.query
    assert _before(p99.v, p99.t) < 0.25 < 0.5 < _after(p99.v, p99.t)
    summary = by["rpc_duration_seconds_p99"]
    assert _after(summary.v, summary.t) == pytest.approx(0.8, abs=0.02)
    requests = by["requests:http_request_duration_seconds"]
    assert _after(requests.v, requests.t) == pytest.approx(20, rel=0.1)
    errors = by["errors_5xx:http_requests"]
    assert _before(errors.v, errors.t) == 0 and _after(errors.v, errors.t) == pytest.approx(2)
    # The histogram's raw parts are not read as signals of their own.
    assert not any(name.endswith(("_bucket", "_sum")) for name in by)
    await source.aclose()


async def test_no_series_is_said_with_the_selector(prometheus: str) -> None:
    source, service = PrometheusSource(prometheus).for_alert({"alertname": "X", "app": "ghost"})
    assert service == "ghost"
    result = await source.metrics("ghost", WINDOW)
    assert result.info.status == "empty"
    assert result.info.error == 'no series for ghost under {app="ghost"} in the window'


async def test_alert_expression_is_the_first_evidence_and_links_are_per_query(
        prometheus: str) -> None:
    expr = ("1 - avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[2m])) > 0.8")
    generator = (f"{prometheus}/graph?g0.expr="
                 + __import__("urllib.parse").parse.quote(expr) + "&g0.tab=1")
    assert expression_of(generator) == expr
    source, service = PrometheusSource(prometheus).for_alert(
        {"alertname": "HostHighCpuLoad", "job": "node", "instance": "host1:9100"})
    assert service is not None
    context = AlertContext(service=service, signal="saturation",
                           fired_at_s=(FAULT + timedelta(minutes=5)).timestamp(),
                           name="HostHighCpuLoad", summary="CPU above 80%", window=WINDOW)
    report = await Investigator(source).investigate(context)
    # Each metric evidence carries its own series' query, and its link opens exactly that
    # query over the incident window, as the toolbox made it (no pass patches them later).
    cited = [e for e in report.evidence if e.link and e.signal not in ("logs", "traces")]
    assert cited
    for item in cited:
        params = parse_qs(urlsplit(item.link or "").query)
        assert params["g0.expr"] == [item.query] and "metric=" not in item.query, item
        assert params["g0.range_input"] == [f"{int(WINDOW.end_s - WINDOW.start_s)}s"]
        assert params["g0.end_input"] == [WINDOW.end.strftime("%Y-%m-%d %H:%M:%S")]
        assert item.unit and item.label, item
    assert len({e.query for e in cited}) == len(cited)
    await ground(report, context, source, expression=expr)
    first = report.evidence[0]
    assert first.id == "ev-alert" and first.query == expr
    assert "0.9" in first.finding or "90%" in first.finding
    assert first.link and "g0.expr=" in first.link
    metric_links = [e.link for e in report.evidence if e.signal == "cpu" and e.link]
    assert metric_links and all("node_cpu_seconds_total" in link for link in metric_links)
    await source.aclose()


@pytest.mark.parametrize(("labels", "named"), [
    # kube-state-metrics' own job is passed over for the container the alert is about.
    ({"alertname": "KubeContainerOOMKilled", "job": "kube-state-metrics", "namespace": "shop",
      "pod": "cart-7d9", "container": "cart"}, "cart"),
    ({"alertname": "HostHighCpuLoad", "job": "node", "instance": "host1:9100"}, "node"),
    # The usual rule (`avg by (instance)`) drops the job: named through the instance's series.
    ({"alertname": "HostHighCpuLoad", "instance": "host1:9100"}, "node"),
], ids=["kube", "node", "node-by-instance"])
async def test_the_root_message_names_the_resolved_service(
        prometheus: str, labels: dict[str, str], named: str, tmp_path: Path,
        fake_slack: tuple[FakeSlack, str]) -> None:
    """The Slack root names the service as NIGHTOWL_SERVICE_LABELS resolves it (the one the
    RCA reads), not the webhook normaliser's guess."""
    slack, url = fake_slack
    settings = Settings(database_url=f"sqlite:///{tmp_path}/n.db").model_copy(update={
        "slack": SlackSettings(bot_token=SecretStr("xoxb-t"), signing_secret=SecretStr("s"),
                               app_token=None, api_url=f"{url}/api/"),
        "webhooks": WebhookSettings(token=SecretStr("hook-token")),
        "telemetry": TelemetrySettings(prometheus_url=prometheus)})
    wiring = build(settings)
    fired = (FAULT + timedelta(minutes=5)).isoformat()
    payload = {"version": "4", "status": "firing", "groupKey": labels["alertname"],
               "alerts": [{"status": "firing", "labels": labels, "startsAt": fired,
                           "annotations": {"summary": labels["alertname"]},
                           "generatorURL": f"{prometheus}/graph?g0.expr=up"}]}
    async with serving(wiring.app) as base, httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(f"{base}/webhooks/alertmanager", json=payload,
                                 headers={"Authorization": "Bearer hook-token"})
        assert answer.status_code == 202, answer.text
        await wiring.service.idle(timeout=120)
    wiring.store.close()
    roots = slack.roots()
    assert len(roots) == 1
    # The root as it stands now: its last post or edit.
    last = [c.args for c in slack.calls if c.method in ("chat.postMessage", "chat.update")
            and (c.args.get("ts") == roots[0]["ts"] or (c.method == "chat.postMessage"
                 and not c.args.get("thread_ts")))][-1]
    blocks = last["blocks"] if isinstance(last["blocks"], str) else json.dumps(last["blocks"])
    assert re.findall(r"\*Service\*\\n`([^`]+)`", blocks) == [named], blocks
    assert f"({named})" in last["text"]


async def test_chat_answers_in_plain_words(prometheus: str) -> None:
    """Thread chat renders what it read as the RCA does (agents/sre/wording.py): the p99 in
    ms and how many times its usual, CPU as a busy share; no metric names, no z-scores."""
    from agents.chat.lookups import Lookups, Thread

    base = PrometheusSource(prometheus)
    fired = FAULT + timedelta(minutes=5)
    for labels, question, said in (
            ({"service": "checkout"}, "checkout", ("p99 latency", " ms", "× its usual")),
            ({"job": "node", "instance": "host1:9100"}, "node", ("CPU busy", "%"))):
        source, service = base.for_alert(labels)
        assert service is not None
        ctx = AlertContext(service=service, signal="latency", fired_at_s=fired.timestamp(),
                           name="Alert", summary="", window=WINDOW)
        thread = Thread(incident_id=1, ctx=ctx, report=None, source=source,
                        now=NOW.timestamp(), services=[service])
        answer = await Lookups(thread).what_changed(question, 45)
        assert all(words in answer for words in said), answer
        assert "z=" not in answer and "_seconds" not in answer and " UTC" in answer, answer
    await base.aclose()


async def test_resource_figures_from_prometheus_evidence(prometheus: str) -> None:
    """Evidence cited by its own PromQL (no `metric="..."` in the query) still gives the
    Dev agent its figures: kube-state-metrics' OOM kills of the cart container."""
    from agents.dev.resource_need import figures_from_evidence

    source, service = PrometheusSource(prometheus).for_alert(
        {"alertname": "KubeContainerOOMKilled", "job": "kube-state-metrics",
         "namespace": "shop", "pod": "cart-7d9", "container": "cart"})
    assert service == "cart"
    context = AlertContext(service="cart", signal="saturation",
                           fired_at_s=(FAULT + timedelta(minutes=21)).timestamp(),
                           name="KubeContainerOOMKilled", summary="", window=WINDOW)
    report = await Investigator(source).investigate(context)
    memory = [e for e in report.evidence if e.service == "cart" and e.signal == "memory"]
    assert memory and all("metric=" not in e.query for e in memory)
    figures = figures_from_evidence("cart", "memory", memory)
    assert figures is not None and figures.oom_killed and figures.container == "cart"
    assert any(line.startswith("memory_oom_kills of cart") for line in figures.evidence)
    await source.aclose()
