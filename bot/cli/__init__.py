"""`nightowl`: the command line. Subcommands from other packages (e.g. `nightowl eval`) plug
in through the `nightowl.commands` entry-point group, so this module imports none of them.

Everything heavy (settings, the ORM, the SDKs, numpy) is imported inside the command that
needs it: `nightowl --help` and `nightowl --version` stay well under a second, and a
plug-in is loaded only when its own command (or `nightowl --help`) is asked for.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.errors import StartupError
from bot.logs import configure

if TYPE_CHECKING:
    from agents.sre.assist import ModelAssist
    from bot.settings import Settings

log = logging.getLogger("nightowl")

# Commands that only read and print: routine INFO lines would bury their output.
QUIET = {"demo", "investigate", "check", "db", "spend", "jobs", "digest", "eval", "triage", "fix"}


def _settings() -> Settings:
    from bot.settings import load_settings

    return load_settings()


def _serve(args: argparse.Namespace) -> int:
    settings = _settings()  # before the heavy imports: a bad value fails at once
    import gc

    import uvicorn

    from bot.check import startup_checks
    from bot.tracing import configure_tracing
    from bot.wiring import build, check_serve_settings

    configure_tracing()
    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    check_serve_settings(settings)
    slack_ok = asyncio.run(startup_checks(settings))  # fails fast on bad credentials
    if settings.temporal.configured:
        from bot.cli.worker import reach_temporal

        reach_temporal(settings)  # unreachable: one line naming TEMPORAL_ADDRESS, exit 2
    from bot.security_sources import build_security_sources

    # The same security sources feed the scan and the case layer's context collection.
    security_sources = build_security_sources(settings.security_detection)
    wiring = build(settings, security_sources=security_sources)
    wiring.service.health.set("slack", slack_ok)
    background = None
    if settings.scheduler.enabled:
        from bot.background import build_background

        background = build_background(settings, wiring.service, security_sink=wiring.security,
                                      security_sources=security_sources, dev=wiring.dev)
        if not settings.temporal.configured:
            # On Temporal the schedules are Temporal Schedules (exactly once, no leader lock).
            wiring.service.add_companion(background.scheduler)

    # Everything loaded so far (the SDKs, the ORM's mappings) lives as long as the process:
    # keeping it out of the collector's reach makes each full collection, and the pause it
    # adds to the requests in flight, proportional to the work under way instead.
    gc.collect()
    gc.freeze()

    async def run() -> None:
        if settings.temporal.configured:
            from bot.cli.worker import temporal_runner

            # Later outages are ridden out: starts wait in the database (TemporalRunner).
            runner = await temporal_runner(settings, wiring, background)
            if background is not None:
                await runner.ensure_schedules(background.specs,
                                              timezone=settings.scheduler.timezone)
            log.info("flows run on Temporal at %s (task queue %s): start `nightowl worker` "
                     "processes to do the work", settings.temporal.address,
                     settings.temporal.task_queue)
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
    from bot.demo.run import SCENARIOS, run_demo

    bundled = sorted(p.name for p in SCENARIOS.iterdir() if p.is_dir())
    unknown = [name for name in args.scenario or [] if name not in bundled]
    if unknown:
        print(f"nightowl demo: no bundled scenario {unknown[0]!r} (bundled: "
              f"{', '.join(bundled)})", file=sys.stderr)
        return 2
    return asyncio.run(run_demo(sys.stdout, scenarios=args.scenario or None))


def _investigate(args: argparse.Namespace) -> int:
    if args.prometheus or args.alertmanager:
        from bot.cli.live import investigate_live

        return investigate_live(args, _settings())
    if not args.directory:
        print("nightowl investigate: give a scenario DIRECTORY, or --prometheus URL --alert "
              "NAME, or --alertmanager URL", file=sys.stderr)
        return 2
    from pathlib import Path

    from agents.sre.context import AlertContext
    from agents.sre.grounding import ground
    from agents.sre.investigator import Budget, Investigator
    from agents.sre.report import Report
    from bot.report_text import print_report
    from integrations.error_sources.templates import DEFAULT_STATE, TemplateStore
    from integrations.telemetry.errors import ScenarioError
    from integrations.telemetry.scenario import ScenarioSource

    settings = _settings()
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
    context = AlertContext.from_case(source.case)

    async def run() -> Report:
        report = await Investigator(source, budget=budget, assist=assist,
                                    templates=TemplateStore(DEFAULT_STATE)
                                    ).investigate(context)
        await ground(report, context, source)
        return report

    report = asyncio.run(run())
    print_report(report, as_json=args.json)
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

    engine = make_engine(_settings().database_url)
    upgrade(engine, args.revision)
    print(f"database at revision {args.revision}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from bot.check import run_checks

    return run_checks(sys.stdout)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _host(text: str) -> str:
    # Checked as NIGHTOWL_HOST is (imported when parsed: --help stays light).
    from bot.setting_values import listen_host

    try:
        return listen_host(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _port(text: str) -> int:
    value = _positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError("a port is 1 to 65535")
    return value


class _Version(argparse.Action):
    """--version, looked up only when asked for (reading the installed metadata costs every
    other command a few milliseconds)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(f"nightowl {_version()}")
        parser.exit()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nightowl")
    except PackageNotFoundError:
        return "unknown (not installed)"


def parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="nightowl", description="An on-call teammate in Slack: alert intake, root-cause "
                                     "investigation, evidence. Configuration: environment "
                                     "variables or .env (see .env.example).")
    root.add_argument("--version", action=_Version, help="show the version and exit")
    root.add_argument("--log-level", default=None, type=str.upper,
                      choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                      help="default: NIGHTOWL_LOG_LEVEL or INFO (WARNING for read-only commands)")
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=summary, description=description)  # type: ignore[no-any-return]

    serve = command("serve", "run the service (webhooks, Slack, investigations)",
                    "Run the service: alert webhooks, Slack (or the console without Slack "
                    "credentials), investigations and background jobs. Checks the settings, "
                    "the database and Slack's credentials first, and stops if one is wrong.")
    serve.add_argument("--host", type=_host, help="listen address (default NIGHTOWL_HOST)")
    serve.add_argument("--port", type=_port, help="listen port (default NIGHTOWL_PORT)")
    serve.set_defaults(func=_serve)

    check = command("check", "check the configuration and every connection, one line each",
                    "Validate the settings and reach everything configured: the database "
                    "(and its migrations), Prometheus, Loki, Sentry, Slack (auth.test). One "
                    "line per check; exits non-zero when any check fails.")
    check.set_defaults(func=_check)

    demo = command("demo", "replay bundled alerts end to end, offline, in the terminal",
                   "Replay bundled incidents end to end, offline: webhooks into a throwaway "
                   "database, investigations over bundled telemetry, threads drawn on the "
                   "console as Slack would show them.")
    demo.add_argument("--scenario", action="append", help="a bundled scenario name (repeatable)")
    demo.set_defaults(func=_demo)

    investigate = command(
        "investigate", "investigate a scenario directory, or a live alert in Prometheus",
        "Investigate from the terminal, no Slack needed: a scenario directory (case.json, "
        "metrics.csv, ...), or a live alert: --prometheus URL --alert NAME (the alert as "
        "Prometheus evaluates it), or --alertmanager URL (its firing alerts).")
    investigate.add_argument("directory", nargs="?",
                             help="scenario directory (case.json, metrics.csv...)")
    investigate.add_argument("--prometheus", metavar="URL", help="Prometheus to read the alert "
                             "and the telemetry from (default PROMETHEUS_URL with "
                             "--alertmanager)")
    investigate.add_argument("--alertmanager", metavar="URL",
                             help="Alertmanager whose firing alerts to pick from")
    investigate.add_argument("--alert", metavar="NAME", help="the alert's name (alertname); "
                             "default: the only firing alert")
    investigate.add_argument("--json", action="store_true", help="print the JSON contract")
    investigate.add_argument("--max-queries", type=_positive, help="query budget")
    investigate.add_argument("--no-model", action="store_true",
                             help="the statistical engine alone, even when a model is configured")
    investigate.set_defaults(func=_investigate)

    db = command("db", "database maintenance", "Database maintenance (NIGHTOWL_DATABASE_URL).")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="apply migrations (NIGHTOWL_DATABASE_URL)",
                                description="Apply the database migrations up to REVISION.")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(func=_db_upgrade)

    from bot.cli.jobs import register as register_jobs
    from bot.cli.worker import register as register_worker

    register_jobs(sub)
    register_worker(sub)
    _plugins(sub, argv)
    # Every subcommand's --help says what it does, even a plug-in that gave only a summary.
    summaries = {a.dest: a.help for a in sub._choices_actions}
    for name, subparser in sub.choices.items():
        if not subparser.description and summaries.get(name):
            subparser.description = str(summaries[name]).capitalize() + "."
    return root


def _command_word(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line: its first word that is no option (nor the
    value of --log-level)."""
    words = iter(argv)
    for word in words:
        if word == "--log-level":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _plugins(sub: Any, argv: Sequence[str] | None) -> None:
    """Plug-in commands. Only the one being run is imported; the others are listed by name.
    A built-in command skips the lookup: reading every installed package's entry points
    costs each `nightowl investigate` tens of milliseconds."""
    from importlib.metadata import entry_points

    if _command_word(sys.argv[1:] if argv is None else argv) in sub.choices:
        return

    plugins = entry_points(group="nightowl.commands")
    names = set(sub.choices) | {entry.name for entry in plugins}
    words = [a for a in (sys.argv[1:] if argv is None else argv) if a in names]
    wanted = words[0] if words else None
    for entry in plugins:
        if entry.name in sub.choices:
            continue
        if entry.name != wanted:
            sub.add_parser(entry.name, help=f"(plug-in) see `nightowl {entry.name} --help`",
                           add_help=False)
            continue
        try:
            entry.load()(sub)
        except Exception as exc:  # a broken plug-in must not take the CLI down
            log.error("could not load the '%s' command: %s", entry.name, exc)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser(argv).parse_args(argv)
    quiet = args.command in QUIET
    configure(args.log_level or ("WARNING" if quiet else _level_from_env()))
    if not hasattr(args, "func"):
        print(f"nightowl {args.command}: could not load this command (see the error above)",
              file=sys.stderr)
        return 2
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        return _fail(exc)
    return code


def _fail(exc: Exception) -> int:
    """One line for what the operator can fix; the traceback only for what they cannot."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from bot.settings import ConfigError, config_error
    from scheduler.errors import SchedulerError
    from storage.errors import StorageError

    if isinstance(exc, ValidationError | SettingsError):  # a Settings() built elsewhere
        exc = config_error(exc)
    if isinstance(exc, ConfigError):
        for line in str(exc).splitlines():
            print(f"nightowl: configuration: {line}", file=sys.stderr)
        return 2
    if isinstance(exc, StartupError | StorageError | SchedulerError):
        print(f"nightowl: {exc}", file=sys.stderr)
        return 2
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, SQLAlchemyError):
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        print(f"nightowl: the database (NIGHTOWL_DATABASE_URL) failed: {first}",
              file=sys.stderr)
        return 2
    if isinstance(exc, OSError):
        print(f"nightowl: {exc}", file=sys.stderr)
        return 2
    log.debug("unexpected error", exc_info=True)
    print(f"nightowl: unexpected error: {type(exc).__name__}: {exc} (run with --log-level "
          "DEBUG for the traceback, and please report it)", file=sys.stderr)
    return 1


def _level_from_env() -> str:
    try:
        return _settings().log_level
    except Exception:
        return "INFO"


if __name__ == "__main__":
    raise SystemExit(main())
