"""Prometheus (the real server, loaded with known data) and Loki (a local fake of its API)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agents.sre.context import AlertContext
from agents.sre.investigator import Investigator
from integrations.telemetry.base import Window
from integrations.telemetry.composite import CompositeSource
from integrations.telemetry.loki import LokiSource
from integrations.telemetry.prometheus import PrometheusSource
from tests.fakes.process import free_port
from tests.fakes.server import ServerThread

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
START = NOW - timedelta(hours=2)
FAULT = NOW - timedelta(minutes=30)
STEP = 30


def openmetrics() -> str:
    """frontend calls cart and search; cart's CPU saturates at FAULT and its latency follows."""
    rng = np.random.default_rng(1)
    times = np.arange(START.timestamp(), (NOW - timedelta(minutes=1)).timestamp(), STEP)
    lines: list[str] = []
    samples: dict[str, list[str]] = {"cpu_usage": [], "latency_p99_ms": [], "http_requests": []}
    for service, cpu, latency in (("frontend", 30, 100), ("cart", 40, 60), ("search", 20, 40)):
        total = 0.0
        for ts in times:
            faulty = ts >= FAULT.timestamp()
            c = cpu + rng.normal(0, 2) + (55 if faulty and service == "cart" else 0)
            extra = 250 if faulty and service in ("cart", "frontend") else 0
            lat = latency + rng.normal(0, 3) + extra
            total += 50 * STEP
            samples["cpu_usage"].append(f'cpu_usage{{service="{service}"}} {c:.3f} {ts:.0f}')
            samples["latency_p99_ms"].append(
                f'latency_p99_ms{{service="{service}"}} {lat:.3f} {ts:.0f}')
            samples["http_requests"].append(
                f'http_requests_total{{service="{service}"}} {total:.0f} {ts:.0f}')
    for name in ("cpu_usage", "latency_p99_ms", "http_requests"):
        lines.append(f"# TYPE {name} {'counter' if name == 'http_requests' else 'gauge'}")
        lines.extend(samples[name])
    return "\n".join(lines) + "\n# EOF\n"


WINDOW = Window(START, NOW)


async def test_prometheus_metrics_and_links(prometheus: str) -> None:
    source = PrometheusSource(prometheus)
    assert await source.services(WINDOW) == ["cart", "frontend", "search"]
    result = await source.metrics("cart", WINDOW)
    assert result.info.status == "ok"
    assert result.info.link and result.info.link.startswith(f"{prometheus}/graph?g0.expr=")
    by_name = {s.metric: s for s in result.series}
    assert set(by_name) == {"cpu_usage", "latency_p99_ms", "http_requests"}
    rate = by_name["http_requests"].v
    assert np.nanmedian(rate) == pytest.approx(50, rel=0.05)  # the counter became a rate
    cpu = by_name["cpu_usage"]
    assert np.nanmedian(cpu.v[cpu.t > FAULT.timestamp() + 120]) > 85
    await source.aclose()


async def test_investigation_over_prometheus(prometheus: str) -> None:
    source = CompositeSource(metrics=PrometheusSource(prometheus),
                             topology={"frontend": {"cart", "search"}})
    context = AlertContext(service="frontend", signal="latency",
                           fired_at_s=(FAULT + timedelta(minutes=4)).timestamp(),
                           name="HighLatency", summary="", window=WINDOW)
    report = await Investigator(source).investigate(context)
    top = report.root_causes[0]
    assert (top.service, top.kind) == ("cart", "cpu")
    links = [e.link for e in report.evidence if e.service == "cart" and e.link]
    assert links and "cart" in links[0]


async def test_prometheus_down_is_an_error_result() -> None:
    source = PrometheusSource(f"http://127.0.0.1:{free_port()}", timeout=1)
    result = await source.metrics("cart", WINDOW)
    assert result.info.status == "error" and "cannot reach" in (result.info.error or "")
    context = AlertContext(service="cart", signal="latency", fired_at_s=NOW.timestamp(),
                           name="x", summary="", window=WINDOW)
    report = await Investigator(source).investigate(context)
    assert report.abstained and any(e.status == "error" for e in report.evidence)


@pytest.fixture
def fake_loki() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    base = int(FAULT.timestamp() * 1e9)

    async def query_range(request: Request) -> JSONResponse:
        seen.append(dict(request.query_params))
        if 'service="broken"' in request.query_params["query"]:
            return JSONResponse({"status": "error", "error": "parse error"}, status_code=400)
        values = [[str(base - 3600 * 10**9), "retrying request attempt=2"]]
        values += [[str(base + i * 10**9), f'{{"level": "error", "message": "KeyError: '
                    f"'currency' in order {i}\"}}"] for i in range(40)]
        return JSONResponse({"status": "success", "data": {"resultType": "streams", "result": [
            {"stream": {"service": "cart"}, "values": values}]}})

    async def labels(request: Request) -> JSONResponse:
        return JSONResponse({"status": "success", "data": ["cart", "frontend"]})

    app = Starlette(routes=[Route("/loki/api/v1/query_range", query_range),
                            Route("/loki/api/v1/label/service/values", labels)])
    with ServerThread(app) as server:
        yield server.url, seen


async def test_loki_logs(fake_loki: tuple[str, list[dict[str, str]]]) -> None:
    url, seen = fake_loki
    source = LokiSource(url)
    assert await source.services(WINDOW) == ["cart", "frontend"]
    result = await source.logs("cart", WINDOW, min_level="error")
    assert result.info.status == "ok" and len(result.lines) == 41
    assert result.lines[-1].message.startswith("KeyError") and result.lines[-1].level == "error"
    assert seen[-1]["query"].startswith('{service="cart"} |~')
    assert int(seen[-1]["start"]) == int(WINDOW.start_s * 1e9)
    broken = await source.logs("broken", WINDOW)
    assert broken.info.status == "error" and "parse error" in (broken.info.error or "")
    await asyncio.sleep(0)
