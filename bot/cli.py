"""`nightowl`: the command line. Subcommands from other packages (e.g. `nightowl eval`) plug
in through the `nightowl.commands` entry-point group, so this module imports none of them."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import StartupError
from bot.logs import configure
from bot.settings import Settings
from scheduler.errors import SchedulerError
from storage.errors import StorageError

if TYPE_CHECKING:
    from agents.sre.assist import ModelAssist

log = logging.getLogger("nightowl")


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.tracing import configure_tracing
    from bot.wiring import build, check_serve_settings

    settings = Settings()
    configure_tracing()
    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    check_serve_settings(settings)
    from bot.security_sources import build_security_sources

    # The same security sources feed the scan and the case layer's context collection.
    security_sources = build_security_sources(settings.security_detection)
    wiring = build(settings, security_sources=security_sources)
    if settings.scheduler.enabled:
        from bot.background import build_background

        background = build_background(settings, wiring.service, security_sink=wiring.security,
                                      security_sources=security_sources, dev=wiring.dev)
        wiring.service.add_companion(background.scheduler)

    # Everything loaded so far (the SDKs, the ORM's mappings) lives as long as the process:
    # keeping it out of the collector's reach makes each full collection, and the pause it
    # adds to the requests in flight, proportional to the work under way instead.
    gc.collect()
    gc.freeze()

    async def run() -> None:
        server = uvicorn.Server(uvicorn.Config(wiring.app, host=settings.host,
                                               port=settings.port, log_config=None))
        tasks = [asyncio.create_task(server.serve())]
        if settings.slack.app_token is not None and wiring.bolt is not None:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            handler = AsyncSocketModeHandler(wiring.bolt,
                                             settings.slack.app_token.get_secret_value())
            tasks.append(asyncio.create_task(handler.start_async()))  # type: ignore[no-untyped-call]
            log.info("Slack: Socket Mode")
        elif wiring.bolt is not None:
            log.info("Slack: HTTP mode at /slack/events")
        log.info("nightowl listening on http://%s:%s", settings.host, settings.port)
        await tasks[0]
        for task in tasks[1:]:
            task.cancel()

    asyncio.run(run())
    return 0


def _demo(args: argparse.Namespace) -> int:
    from bot.demo.run import run_demo

    return asyncio.run(run_demo(sys.stdout, scenarios=args.scenario or None))


def _investigate(args: argparse.Namespace) -> int:
    from agents.sre.context import AlertContext
    from agents.sre.investigator import Budget, Investigator
    from bot.report_text import render
    from integrations.telemetry.errors import ScenarioError
    from integrations.telemetry.scenario import ScenarioSource

    settings = Settings()
    try:
        source = ScenarioSource(Path(args.directory))
    except ScenarioError as exc:
        print(f"nightowl investigate: {exc}", file=sys.stderr)
        return 2
    for warning in source.warnings:
        log.warning("%s: %s", args.directory, warning)
    budget = Budget(max_queries=args.max_queries or settings.investigation.max_queries,
                    max_depth=settings.investigation.max_depth)
    try:
        assist = None if args.no_model else _model_assist(settings)
    except StartupError as exc:
        print(f"nightowl investigate: {exc} (or run with --no-model)", file=sys.stderr)
        return 2
    if assist is None:
        log.info("investigating with the statistical engine alone (no model)")
    report = asyncio.run(Investigator(source, budget=budget, assist=assist).investigate(
        AlertContext.from_case(source.case)))
    if args.json:
        json.dump(report.contract(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(render(report))
    return 0


def _model_assist(settings: Settings) -> ModelAssist | None:
    """The configured model for an offline investigation (what a user who set one expects),
    or None when none is configured. Its spend goes to the configured database's ledger."""
    from agents.sre.assist import ModelAssist
    from bot.models import build_gateway
    from storage.db import make_engine, upgrade
    from storage.repository import Store

    models = settings.models
    if models.anthropic_api_key is None and models.openai_api_key is None and \
            not models.openai_base_url:
        return None
    engine = make_engine(settings.database_url)
    upgrade(engine)
    gateway = build_gateway(settings, Store(engine))
    return ModelAssist(gateway) if gateway is not None else None


def _db_upgrade(args: argparse.Namespace) -> int:
    from storage.db import make_engine, upgrade

    engine = make_engine(Settings().database_url)
    upgrade(engine, args.revision)
    print(f"database at revision {args.revision}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="nightowl", description="An on-call teammate in Slack.")
    root.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING (default: "
                                                       "NIGHTOWL_LOG_LEVEL or INFO)")
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the service (webhooks, Slack, investigations)")
    serve.add_argument("--host", help="listen address (default NIGHTOWL_HOST)")
    serve.add_argument("--port", type=int, help="listen port (default NIGHTOWL_PORT)")
    serve.set_defaults(func=_serve)

    demo = sub.add_parser("demo", help="replay bundled alerts end to end, offline, in the "
                                       "terminal")
    demo.add_argument("--scenario", action="append", help="a bundled scenario name (repeatable)")
    demo.set_defaults(func=_demo)

    investigate = sub.add_parser("investigate", help="investigate a scenario directory offline")
    investigate.add_argument("directory", help="scenario directory (case.json, metrics.csv...)")
    investigate.add_argument("--json", action="store_true", help="print the JSON contract")
    investigate.add_argument("--max-queries", type=int, help="query budget")
    investigate.add_argument("--no-model", action="store_true",
                             help="the statistical engine alone, even when a model is configured")
    investigate.set_defaults(func=_investigate)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="apply migrations (NIGHTOWL_DATABASE_URL)")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(func=_db_upgrade)

    from bot.cli_jobs import register as register_jobs

    register_jobs(sub)

    for entry in entry_points(group="nightowl.commands"):
        try:
            entry.load()(sub)
        except Exception:  # a broken plug-in must not take the CLI down
            log.exception("could not load the '%s' command", entry.name)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # The demo's output is the thread itself; keep routine log lines out of it.
    default = "WARNING" if args.command == "demo" else _level_from_env()
    configure(args.log_level or default)
    try:
        code: int = args.func(args)
    except (StartupError, StorageError, SchedulerError) as exc:
        print(f"nightowl: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


def _level_from_env() -> str:
    try:
        return Settings().log_level
    except Exception:
        return "INFO"


if __name__ == "__main__":
    raise SystemExit(main())
