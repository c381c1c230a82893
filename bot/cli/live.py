"""`nightowl investigate --prometheus URL --alert NAME` / `--alertmanager URL`: a live alert,
investigated from the terminal, no Slack and no database needed.

With `--prometheus`, the alert is read from Prometheus's own rules (`/api/v1/rules`): its
expression, and the labels and `activeAt` of its firing (or pending) instances. With
`--alertmanager`, from Alertmanager's active alerts (`/api/v2/alerts`), whose `generatorURL`
carries the expression; the telemetry then comes from `--prometheus`, `PROMETHEUS_URL`, or
the Prometheus the generatorURL points at.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import httpx

from bot.errors import StartupError
from bot.settings import Settings

TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class LiveAlert:
    name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    active_at: datetime
    expression: str | None
    generator_url: str | None
    state: str


def _time(value: Any) -> datetime:
    text = str(value or "")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def _get(url: str, path: str, what: str, params: dict[str, str] | None = None) -> Any:
    try:
        async with httpx.AsyncClient(base_url=url.rstrip("/"), timeout=TIMEOUT_S) as client:
            response = await client.get(path, params=params)
    except httpx.HTTPError as exc:
        raise StartupError(f"cannot reach {what} at {url}: {type(exc).__name__}") from None
    if response.status_code >= 400:
        raise StartupError(f"{what} at {url} answered HTTP {response.status_code} to {path}")
    try:
        return response.json()
    except ValueError:
        raise StartupError(f"{what} at {url} did not answer JSON on {path}: is it "
                           f"{what}?") from None


async def from_prometheus(url: str, name: str | None) -> list[LiveAlert]:
    body = await _get(url, "/api/v1/rules", "Prometheus", {"type": "alert"})
    alerts: list[LiveAlert] = []
    names: list[str] = []
    for group in body.get("data", {}).get("groups", []):
        for rule in group.get("rules", []):
            names.append(str(rule.get("name")))
            if name is not None and rule.get("name") != name:
                continue
            for item in rule.get("alerts") or []:
                alerts.append(LiveAlert(
                    name=str(rule.get("name")), labels=dict(item.get("labels") or {}),
                    annotations=dict(item.get("annotations") or {}),
                    active_at=_time(item.get("activeAt")), expression=rule.get("query"),
                    generator_url=None, state=str(item.get("state", ""))))
    if name is not None and name not in names:
        known = ", ".join(sorted(set(names))[:20]) or "none"
        raise StartupError(f"Prometheus at {url} has no alert rule named {name!r} "
                           f"(its alert rules: {known})")
    return alerts


async def from_alertmanager(url: str, name: str | None) -> list[LiveAlert]:
    body = await _get(url, "/api/v2/alerts", "Alertmanager",
                      {"active": "true", "silenced": "false", "inhibited": "false"})
    alerts = []
    for item in body if isinstance(body, list) else []:
        labels = dict(item.get("labels") or {})
        if name is not None and labels.get("alertname") != name:
            continue
        generator = item.get("generatorURL")
        from integrations.telemetry.prometheus import expression_of

        alerts.append(LiveAlert(
            name=labels.get("alertname", "alert"), labels=labels,
            annotations=dict(item.get("annotations") or {}),
            active_at=_time(item.get("startsAt")), expression=expression_of(generator),
            generator_url=generator, state="firing"))
    return alerts


def _pick(alerts: list[LiveAlert], name: str | None, where: str) -> LiveAlert:
    firing = [a for a in alerts if a.state == "firing"] or alerts
    if not firing:
        raise StartupError(f"no {'alert ' + repr(name) if name else 'alert'} is firing in "
                           f"{where} right now (nothing to investigate)")
    names = sorted({a.name for a in firing})
    if name is None and len(names) > 1:
        raise StartupError(f"{len(names)} alerts are firing in {where}: pick one with --alert "
                           f"({', '.join(names[:15])})")
    return max(firing, key=lambda a: a.active_at)  # the most recent instance


def investigate_live(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from agents.sre.context import AlertContext
    from agents.sre.grounding import ground
    from agents.sre.investigator import Budget, Investigator
    from bot.report_text import print_report
    from integrations.alerts.base import signal_of
    from integrations.error_sources.templates import DEFAULT_STATE, TemplateStore
    from integrations.telemetry.base import Window
    from integrations.telemetry.loki import LokiSource
    from integrations.telemetry.prometheus import PrometheusSource
    from integrations.telemetry.scoped import scoped

    prometheus_url = args.prometheus or settings.telemetry.prometheus_url
    for option, url in (("--prometheus", args.prometheus), ("--alertmanager", args.alertmanager)):
        if url and not url.startswith(("http://", "https://")):
            raise StartupError(f"{option} must be an http:// or https:// URL, got {url!r}")
    if args.alertmanager:
        alert = _pick(await from_alertmanager(args.alertmanager, args.alert), args.alert,
                      f"Alertmanager at {args.alertmanager}")
        if not prometheus_url and alert.generator_url:
            parsed = urlparse(alert.generator_url)
            prometheus_url = f"{parsed.scheme}://{parsed.netloc}"
        if not prometheus_url:
            raise StartupError("where are the metrics? give --prometheus URL or set "
                               "PROMETHEUS_URL")
    else:
        assert prometheus_url is not None
        alert = _pick(await from_prometheus(prometheus_url, args.alert), args.alert,
                      f"Prometheus at {prometheus_url}")

    prometheus = PrometheusSource(prometheus_url)
    loki = LokiSource(settings.telemetry.loki_url) if settings.telemetry.loki_url else None
    topology = {k: set(v) for k, v in settings.telemetry.topology.items()}
    source = scoped(prometheus=prometheus, logs=loki, topology=topology, labels=alert.labels,
                    generator_url=alert.generator_url,
                    service_labels=settings.telemetry.service_label_list)
    await source.resolve()
    service = source.scope.service or alert.labels.get("alertname", "unknown")
    fired = alert.active_at
    end = min(max(datetime.now(UTC), fired + timedelta(minutes=5)), fired + timedelta(minutes=60))
    lookback = timedelta(minutes=settings.investigation.lookback_minutes)
    summary = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    context = AlertContext(
        service=service, signal=str(signal_of(alert.labels.get("signal"), alert.name, summary)),
        fired_at_s=fired.timestamp(), name=alert.name, summary=summary,
        window=Window(fired - lookback, end))
    budget = Budget(max_queries=args.max_queries or settings.investigation.max_queries,
                    max_depth=settings.investigation.max_depth)
    try:
        report = await Investigator(source, budget=budget, topology=topology,
                                    templates=TemplateStore(DEFAULT_STATE)).investigate(context)
        await ground(report, context, source, expression=alert.expression)
    finally:
        await prometheus.aclose()
        if loki is not None:
            await loki.aclose()
    print_report(report, as_json=args.json)
    return 0
