"""`nightowl check`, and the checks `serve` runs before it listens.

One line per check: the settings, the database and its migrations, the model gateway, the
schedules, and every configured remote (Prometheus, Loki, Sentry, Slack `auth.test`). A
remote that is not configured is said so, not counted as a failure. `serve` runs the same
checks and stops on a wrong setting, an unmigratable database or credentials that Slack
refuses; a remote that is only unreachable is a warning (it may come back).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TextIO

import httpx

from bot.errors import StartupError
from bot.settings import ConfigError, Settings, load_settings

log = logging.getLogger(__name__)

Outcome = Literal["ok", "fail", "warn", "off"]
MARK = {"ok": "✔", "fail": "✗", "warn": "!", "off": "–"}
TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    outcome: Outcome
    detail: str

    def line(self) -> str:
        return f"{MARK[self.outcome]} {self.name:<11} {self.detail}"


class SlackRefused(StartupError):
    """Slack answered auth.test with an error: the token is wrong, revoked or lacks scopes."""


async def slack_auth(settings: Settings) -> CheckResult:
    if not settings.slack.configured:
        return CheckResult("slack", "off", "not configured (SLACK_BOT_TOKEN and "
                                           "SLACK_SIGNING_SECRET): threads go to the console")
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    assert settings.slack.bot_token is not None
    client = AsyncWebClient(token=settings.slack.bot_token.get_secret_value(),
                            base_url=settings.slack.api_url, timeout=int(TIMEOUT_S))
    try:
        answer = await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else str(exc)
        return CheckResult("slack", "fail", f"auth.test refused SLACK_BOT_TOKEN: {error}")
    except Exception as exc:
        return CheckResult("slack", "warn", f"cannot reach {settings.slack.api_url} "
                                            f"(SLACK_API_URL): {type(exc).__name__}")
    mode = "Socket Mode" if settings.slack.app_token is not None else "HTTP mode"
    return CheckResult("slack", "ok", f"auth.test ok: @{answer.get('user')} in "
                                      f"{answer.get('team')} ({mode})")


async def _http(name: str, variable: str, url: str | None, path: str,
                headers: dict[str, str] | None = None) -> CheckResult:
    if not url:
        return CheckResult(name, "off", f"not configured ({variable})")
    target = url.rstrip("/") + path
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S, headers=headers) as client:
            response = await client.get(target)
    except httpx.HTTPError as exc:
        return CheckResult(name, "fail", f"cannot reach {url} ({variable}): "
                                         f"{type(exc).__name__}")
    if response.status_code in (401, 403):
        return CheckResult(name, "fail", f"{url} refused the credentials (HTTP "
                                         f"{response.status_code})")
    if response.status_code >= 400:
        return CheckResult(name, "fail", f"{target} answered HTTP {response.status_code} "
                                         f"({variable} points at the right server?)")
    return CheckResult(name, "ok", f"{url} answers")


async def prometheus(settings: Settings) -> CheckResult:
    result = await _http("prometheus", "PROMETHEUS_URL", settings.telemetry.prometheus_url,
                         "/api/v1/status/buildinfo")
    if result.outcome != "ok" or not settings.telemetry.prometheus_url:
        return result
    labels = ", ".join(settings.telemetry.service_label_list)
    return CheckResult("prometheus", "ok", f"{result.detail}; services by label: {labels}")


async def loki(settings: Settings) -> CheckResult:
    return await _http("loki", "LOKI_URL", settings.telemetry.loki_url, "/ready")


async def sentry(settings: Settings) -> CheckResult:
    config = settings.sentry
    if not config.configured:
        return CheckResult("sentry", "off", "not configured (SENTRY_AUTH_TOKEN and SENTRY_ORG)")
    assert config.auth_token is not None
    return await _http("sentry", "SENTRY_AUTH_TOKEN", config.api_url,
                       f"/api/0/organizations/{config.org}/",
                       {"Authorization": f"Bearer {config.auth_token.get_secret_value()}"})


async def github(settings: Settings) -> CheckResult:
    config = settings.dev
    if config.github_token is None:
        return CheckResult("github", "off", "not configured (GITHUB_TOKEN; the Dev agent "
                                            "stays silent)")
    result = await _http("github", "GITHUB_TOKEN", config.github_api_url, "/rate_limit",
                         {"Authorization": f"Bearer {config.github_token.get_secret_value()}",
                          "Accept": "application/vnd.github+json"})
    if result.outcome != "ok":
        return result
    repos = len(config.repos)
    return CheckResult("github", "ok", f"{result.detail}; {repos} "
                                       f"{'repository' if repos == 1 else 'repositories'} "
                                       f"in NIGHTOWL_REPOS")


async def temporal(settings: Settings) -> CheckResult:
    config = settings.temporal
    if not config.configured or config.address is None:
        return CheckResult("temporal", "off", "not configured (TEMPORAL_ADDRESS): flows run "
                                              "inside serve")
    from scheduler.errors import TemporalUnavailable
    from scheduler.temporal.runner import connect

    try:
        await connect(config.address, config.namespace, timeout_s=5.0)
    except TemporalUnavailable as exc:
        return CheckResult("temporal", "fail", str(exc))
    return CheckResult("temporal", "ok", f"{config.address}, namespace {config.namespace}, "
                                         f"task queue {config.task_queue}")


def database(settings: Settings, *, migrate: bool) -> CheckResult:
    """Reachable, and at the newest migration (`serve` migrates; `check` only reads)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config, make_engine, upgrade

    where = settings.database_url.split("@")[-1]
    try:
        engine = make_engine(settings.database_url)
        if migrate:
            upgrade(engine)
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
        heads = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
        engine.dispose()
    except Exception as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        return CheckResult("database", "fail", f"{where} (NIGHTOWL_DATABASE_URL): {first}")
    if current != heads:  # serve migrates at start: say so, it is not a failure
        return CheckResult("database", "warn", f"{where} is at {sorted(current) or 'no schema'}"
                                               f", not {sorted(heads)}: `nightowl serve` (or "
                                               "`nightowl db upgrade`) migrates it")
    return CheckResult("database", "ok", f"{where}, migrations at head")


def static(settings: Settings) -> list[CheckResult]:
    """What needs no network: webhook auth, schedules, the model settings."""
    from scheduler.errors import SchedulerError
    from scheduler.schedule import parse_schedule

    results = [_webhooks(settings)]
    try:
        config = settings.scheduler
        for variable, value in (("NIGHTOWL_ERROR_SCAN_SCHEDULE", config.error_scan_schedule),
                                ("NIGHTOWL_DIGEST_SCHEDULE", config.digest_schedule)):
            parse_schedule(value, timezone=config.timezone, setting=variable)
        results.append(CheckResult("schedules", "ok", f"error scan {config.error_scan_schedule}"
                                                      f", digest {config.digest_schedule} "
                                                      f"({config.timezone})"))
    except (SchedulerError, ValueError, LookupError) as exc:
        text = str(exc)
        if "NIGHTOWL_" not in text:
            text = f"NIGHTOWL_TIMEZONE={settings.scheduler.timezone!r}: {text}"
        results.append(CheckResult("schedules", "fail", text))
    results.append(_models(settings))
    return results


def serve_refusal(settings: Settings) -> str | None:
    """Why `serve` would refuse these settings (it stops with this; `nightowl check` reports
    it), or None. Here, not in bot.wiring, so `check` need not import the app."""
    if settings.webhooks.token is None and not settings.webhooks.allow_unauthenticated:
        return ("NIGHTOWL_WEBHOOK_TOKEN is not set: webhooks would accept anyone. Set it (and "
                "configure your alert sources to send it as a Bearer token), or set "
                "NIGHTOWL_ALLOW_UNAUTHENTICATED_WEBHOOKS=true for a trusted network.")
    if (settings.slack.bot_token is None) != (settings.slack.signing_secret is None):
        missing = "SLACK_SIGNING_SECRET" if settings.slack.signing_secret is None \
            else "SLACK_BOT_TOKEN"
        return f"Slack is half configured: set {missing} too (or neither)."
    return None


def _webhooks(settings: Settings) -> CheckResult:
    refusal = serve_refusal(settings)
    if refusal is not None:
        return CheckResult("webhooks", "fail", refusal)
    return CheckResult("webhooks", "ok", "authentication configured")


def _models(settings: Settings) -> CheckResult:
    config = settings.models
    if not (config.anthropic_api_key or config.openai_api_key or config.openai_base_url
            or config.planner or config.worker or config.summarizer):
        # Nothing to build: the SDKs need not even be imported.
        return CheckResult("models", "off", "no model (ANTHROPIC_API_KEY, OPENAI_API_KEY or "
                                            "OPENAI_BASE_URL): the statistical engine alone")
    from bot.models import build_gateway
    from storage.db import make_engine
    from storage.repository import Store

    store = Store(make_engine("sqlite://"))  # the gateway's ledger is not used here
    try:
        gateway = build_gateway(settings, store)
    except StartupError as exc:
        return CheckResult("models", "fail", str(exc))
    except Exception as exc:
        return CheckResult("models", "fail", f"{type(exc).__name__}: {exc}")
    finally:
        store.close()
    if gateway is None:
        return CheckResult("models", "off", "no model (ANTHROPIC_API_KEY, OPENAI_API_KEY or "
                                            "OPENAI_BASE_URL): the statistical engine alone")
    return CheckResult("models", "ok", "gateway built (keys are tried at the first call)")


async def all_checks(settings: Settings, *, migrate: bool = False) -> list[CheckResult]:
    results = static(settings)
    results.append(await asyncio.to_thread(database, settings, migrate=migrate))
    remotes: list[Callable[[Settings], Awaitable[CheckResult]]] = [
        prometheus, loki, sentry, github, slack_auth, temporal]
    results.extend(await asyncio.gather(*(check(settings) for check in remotes)))
    return results


def run_checks(out: TextIO) -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        for line in str(exc).splitlines():
            out.write(CheckResult("settings", "fail", line).line() + "\n")
        return 1
    out.write(CheckResult("settings", "ok", "read from the environment and .env").line() + "\n")
    results = asyncio.run(all_checks(settings))
    for result in results:
        out.write(result.line() + "\n")
    failed = [r for r in results if r.outcome == "fail"]
    out.write(f"{len(failed)} of {len(results) + 1} checks failed\n" if failed
              else "all checks passed\n")
    return 1 if failed else 0


async def startup_checks(settings: Settings) -> str:
    """`serve`'s checks (settings are already read): stop on what cannot work, warn about
    what may come back. Returns Slack's state for /healthz."""
    results = [r for r in static(settings) if r.name != "webhooks"]  # serve checked those
    results.extend(await asyncio.gather(prometheus(settings), loki(settings), sentry(settings),
                                        slack_auth(settings)))
    for result in results:
        if result.outcome == "fail" and result.name in ("slack", "models", "schedules"):
            raise StartupError(f"{result.name}: {result.detail}")
        if result.outcome in ("fail", "warn"):
            log.warning("check %s: %s", result.name, result.detail)
        else:
            log.info("check %s: %s", result.name, result.detail)
    slack = next(r for r in results if r.name == "slack")
    return {"ok": "ok", "off": "not configured"}.get(slack.outcome, f"degraded: {slack.detail}")
