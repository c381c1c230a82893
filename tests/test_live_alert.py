"""`nightowl investigate --prometheus URL --alert NAME` against a real Prometheus whose real
alert rule fires on a node_exporter-shaped target this test serves on 127.0.0.1.

An hour of history (CPU 20% busy) is backfilled with promtool; the target then serves the
same counters going on at 90% busy, Prometheus scrapes it every second, and the standard
`HostHighCpuLoad` rule fires. The RCA in the terminal must lead with the alert's own
expression and read the CPU as a busy share, not as the core count.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.cli import main
from tests.conftest import require_binary
from tests.fakes.process import free_port, ready_process
from tests.fakes.prometheus import backfilled
from tests.fakes.server import ServerThread

CORES = 2
HISTORY_S = 3600
TARGET: dict[str, str] = {}  # the scraped target's instance, for the Alertmanager test
RULE = ('1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[30s])) > 0.8')


class NodeExporter:
    """Counters that started an hour ago at 20% busy and run at 90% busy from `switch`."""

    def __init__(self) -> None:
        self.switch = time.time()
        self.start = self.switch - HISTORY_S

    def idle(self, at: float) -> float:
        before = min(at, self.switch) - self.start
        after = max(0.0, at - self.switch)
        return before * 0.8 + after * 0.1

    def busy(self, at: float) -> float:
        return (at - self.start) - self.idle(at)

    def exposition(self, at: float) -> str:
        lines = ["# TYPE node_cpu_seconds_total counter"]
        for cpu in range(CORES):
            lines.append(f'node_cpu_seconds_total{{cpu="{cpu}",mode="idle"}} {self.idle(at):.3f}')
            lines.append(f'node_cpu_seconds_total{{cpu="{cpu}",mode="user"}} {self.busy(at):.3f}')
        return "\n".join(lines) + "\n"

    def history(self, instance: str) -> str:
        """The hour before `switch` as OpenMetrics, under the labels the scrape will add."""
        lines = ["# TYPE node_cpu_seconds counter"]
        for ts in range(int(self.start), int(self.switch) - 15, 15):
            for cpu in range(CORES):
                labels = f'job="node",instance="{instance}",cpu="{cpu}"'
                lines.append(f'node_cpu_seconds_total{{{labels},mode="idle"}} '
                             f"{self.idle(ts):.3f} {ts}")
                lines.append(f'node_cpu_seconds_total{{{labels},mode="user"}} '
                             f"{self.busy(ts):.3f} {ts}")
        return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="module")
def firing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    node = NodeExporter()

    async def metrics(request: Request) -> PlainTextResponse:
        return PlainTextResponse(node.exposition(time.time()))

    root = tmp_path_factory.mktemp("live-alert")
    with ServerThread(Starlette(routes=[Route("/metrics", metrics)])) as target:
        instance = target.url.removeprefix("http://")
        (root / "rules.yml").write_text(json.dumps({"groups": [{"name": "node", "rules": [{
            "alert": "HostHighCpuLoad", "expr": RULE, "for": "0s",
            "labels": {"severity": "warning"},
            "annotations": {"summary": "CPU load is above 80%"}}]}]}))
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "rule_files": [str(root / "rules.yml")],
                  "scrape_configs": [{"job_name": "node",
                                      "static_configs": [{"targets": [instance]}]}]}
        with backfilled(root, node.history(instance), config=config) as url:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                alerts = httpx.get(f"{url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
                if any(a["state"] == "firing" for a in alerts):
                    break
                time.sleep(0.5)
            else:
                raise TimeoutError("HostHighCpuLoad did not fire")
            TARGET["instance"] = instance
            yield url


def test_live_alert_rca_in_the_terminal(firing: str, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_URL", raising=False)
    assert main(["investigate", "--prometheus", firing, "--alert", "HostHighCpuLoad"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Alert: HostHighCpuLoad on node (saturation), fired ")
    assert " UTC" in out.splitlines()[0]
    # The alert's own expression comes first in the details, with its threshold.
    assert "The alert's expression peaked at 0.9" in out and "(fires when > 0.8)" in out
    assert "against 0.2 before it fired" in out
    assert "Traceback" not in out

    assert main(["investigate", "--prometheus", firing, "--alert", "HostHighCpuLoad",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    first = report["evidence"][0]
    assert first["id"] == "ev-alert" and first["query"] == RULE
    busy = [e for e in report["evidence"] if e.get("label", "") and
            e["label"].startswith("CPU busy")]
    assert busy and busy[0]["unit"] == "share" and "node_cpu_seconds_total" in busy[0]["query"]
    assert 0.7 < float(busy[0]["numbers"]["peak"]) <= 1.0  # a share, not the core count


def test_unknown_alert_lists_the_rules(firing: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["investigate", "--prometheus", firing, "--alert", "Nope"]) == 2
    err = capsys.readouterr().err
    assert "no alert rule named 'Nope'" in err and "HostHighCpuLoad" in err


def test_history_is_there(firing: str) -> None:
    """The backfilled hour is visible: the baseline the RCA compares against is real."""
    answer = httpx.get(f"{firing}/api/v1/query", params={
        "query": "count_over_time(node_cpu_seconds_total{mode=\"idle\",cpu=\"0\"}[1h])",
        "time": datetime.now(UTC).timestamp()}, timeout=5).json()
    assert float(answer["data"]["result"][0]["value"][1]) > 100


def test_from_alertmanager_through_the_generator_url(
        firing: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The alert as Alertmanager holds it: its generatorURL carries the rule's expression and
    says which Prometheus to read (PROMETHEUS_URL is not set)."""
    monkeypatch.delenv("PROMETHEUS_URL", raising=False)
    binary = require_binary("prometheus-alertmanager")
    config = tmp_path / "alertmanager.yml"
    config.write_text(json.dumps({"route": {"receiver": "none"}, "receivers": [{"name": "none"}]}))
    port = free_port()
    command = [binary, f"--config.file={config}", f"--storage.path={tmp_path / 'am'}",
               f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
               "--log.level=warn"]
    instance = TARGET["instance"]
    alert = {"labels": {"alertname": "HostHighCpuLoad", "instance": instance,
                        "severity": "warning"},
             "annotations": {"summary": "CPU load is above 80%"},
             "startsAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
             "generatorURL": f"{firing}/graph?g0.expr={quote(RULE)}&g0.tab=1"}
    with ready_process(command, f"http://127.0.0.1:{port}") as url:
        assert httpx.post(f"{url}/api/v2/alerts", json=[alert], timeout=5).status_code == 200
        assert main(["investigate", "--alertmanager", url, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["alert"]["name"] == "HostHighCpuLoad" and report["alert"]["service"] == "node"
    assert report["evidence"][0]["id"] == "ev-alert"
    assert report["evidence"][0]["query"] == RULE
