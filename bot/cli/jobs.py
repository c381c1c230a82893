"""`nightowl jobs` and `nightowl digest`: the background side from the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings import Settings


def _load() -> Settings:
    from bot.settings import load_settings

    return load_settings()


def _background(settings: Settings) -> tuple[Any, Any]:
    from bot.background import build_background
    from bot.security_sources import build_security_sources
    from bot.wiring import build

    sources = build_security_sources(settings.security_detection)
    wiring = build(settings, security_sources=sources)
    # The security case layer is where scan signals go.
    return wiring, build_background(settings, wiring.service, security_sink=wiring.security,
                                    security_sources=sources, dev=wiring.dev)


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z") if value is not None else "–"


def jobs_list(args: argparse.Namespace) -> int:
    settings = _load()
    wiring, background = _background(settings)

    async def show() -> None:
        next_runs = background.scheduler.next_runs()
        names = sorted(set(background.runner.jobs) | set(next_runs))
        if not names:
            print("No jobs configured. The error scan needs SENTRY_AUTH_TOKEN + SENTRY_ORG or "
                  "LOKI_URL; the digest needs NIGHTOWL_DIGEST_CHANNELS.")
            return
        print(f"{'job':<12} {'schedule':<34} {'next run':<26} recent runs")
        for name in names:
            trigger = background.scheduler.schedules.get(name)
            runs = await background.store.runs(name, limit=args.runs)
            recent = ", ".join(f"{r.outcome}@{r.started_at:%m-%d %H:%M}" for r in runs) or "none"
            print(f"{name:<12} {trigger or 'off'!s:<34} {_when(next_runs.get(name)):<26} "
                  f"{recent}")
        last = await background.store.runs(limit=1)
        if last and last[0].error:
            print(f"\nlast error ({last[0].job}): {last[0].error}")

    try:
        asyncio.run(show())
    finally:
        wiring.store.close()
    return 0


def jobs_run(args: argparse.Namespace) -> int:
    settings = _load()
    wiring, background = _background(settings)

    async def run() -> int:
        if args.name not in background.runner.jobs:
            configured = ", ".join(background.runner.jobs) or "none"
            print(f"nightowl jobs run: no job named {args.name!r} (configured: {configured})",
                  file=sys.stderr)
            return 2
        result = await background.runner.run(args.name, trigger="manual")
        await wiring.service.idle()
        if result is None:
            print(f"{args.name} is running in another process right now; nothing done")
            return 1
        print(f"{args.name}: {result.outcome}: {result.summary or result.error or ''}")
        return 0 if result.outcome == "ok" else 1

    try:
        return asyncio.run(run())
    finally:
        wiring.store.close()


def digest(args: argparse.Namespace) -> int:
    from bot.console import ConsoleSurface
    from scheduler.jobs.digest import DigestJob
    from storage.models import utcnow

    settings = _load()
    wiring, background = _background(settings)
    scope = settings.scheduler.digest_channels.get(args.channel, [args.channel])
    announcer = ConsoleSurface(sys.stdout) if args.print else wiring.service.surface
    job = DigestJob(store=background.store, announcer=announcer,
                    channels={args.channel: scope}, clock=utcnow,
                    timezone=settings.scheduler.timezone)
    try:
        asyncio.run(job.post(args.channel, scope))
    finally:
        wiring.store.close()
    return 0


def spend(args: argparse.Namespace) -> int:
    from collections import defaultdict
    from datetime import timedelta

    from storage.db import make_engine
    from storage.ledger import MODELS_PAUSED, Ledger
    from storage.models import utcnow
    from storage.repository import Store

    store = Store(make_engine(_load().database_url))
    ledger = Ledger.beside(store)

    async def show() -> None:
        since = (utcnow() - timedelta(days=args.days - 1)).replace(hour=0, minute=0, second=0,
                                                                   microsecond=0)
        rows: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0, 0, 0, 0, 0])
        for call in await ledger.calls(since):
            entry = rows[(call.at.strftime("%Y-%m-%d"), call.agent, call.model)]
            entry[0] += 1
            entry[1] += call.input_tokens
            entry[2] += call.output_tokens
            entry[3] += call.cost_usd
            entry[4] += call.status != "ok"
        paused = await ledger.control(MODELS_PAUSED) == "true"
        print(f"model calls {'PAUSED' if paused else 'enabled'}; spend since {since:%Y-%m-%d}")
        if not rows:
            print("no model calls recorded")
            return
        print(f"{'day':<11} {'agent':<8} {'model':<32} {'calls':>6} {'in tok':>9} "
              f"{'out tok':>8} {'cost $':>9} {'failed':>6}")
        for (day, agent, model), (n, tin, tout, cost, failed) in sorted(rows.items()):
            print(f"{day:<11} {agent:<8} {model:<32} {n:>6.0f} {tin:>9,.0f} {tout:>8,.0f} "
                  f"{cost:>9.4f} {failed:>6.0f}")
        print(f"total ${sum(v[3] for v in rows.values()):.4f}")

    try:
        asyncio.run(show())
    finally:
        store.close()
    return 0


def _positive(text: str) -> int:
    from bot.cli import _positive as positive

    return positive(text)


def _channel(text: str) -> str:
    # Checked like NIGHTOWL_DEFAULT_CHANNEL (imported when parsed: --help stays light).
    from bot.setting_values import slack_channel

    try:
        return slack_channel(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: Any) -> None:
    cost = sub.add_parser("spend", help="model spend by day, agent and model",
                          description="Model calls and their cost by day, agent and model, "
                                      "from the database; says whether calls are paused.")
    cost.add_argument("--days", type=_positive, default=7,
                      help="how many days back (default 7)")
    cost.set_defaults(func=spend)

    jobs = sub.add_parser("jobs", help="background jobs: list them, or run one now",
                          description="List the background jobs (schedule, next run, recent "
                                      "runs), or run one now with `nightowl jobs run NAME`.")
    jobs.add_argument("--runs", type=_positive, default=5, help="recent runs to show per job")
    jobs.set_defaults(func=jobs_list)
    jobs_sub = jobs.add_subparsers(dest="jobs_command", metavar="ACTION")
    run = jobs_sub.add_parser("run", help="run a job now (waits if it is running elsewhere)",
                               description="Run a background job now: error_scan, digest, "
                                           "pr_sync or security_scan, when configured "
                                           "(`nightowl jobs` lists them).")
    run.add_argument("name", help="a configured job's name")
    run.set_defaults(func=jobs_run)

    dig = sub.add_parser("digest", help="build yesterday's digest for a channel",
                         description="Build yesterday's digest for a digest channel and post "
                                     "it, or print it here with --print.")
    dig.add_argument("--channel", required=True, type=_channel,
                     help="digest channel (NIGHTOWL_DIGEST_CHANNELS says which incidents it "
                          "covers)")
    dig.add_argument("--print", action="store_true",
                     help="print it here instead of posting it")
    dig.set_defaults(func=digest)
