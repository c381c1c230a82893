"""A new user's first hour: `.env.example` as shipped, every variable and command given a bad
value (one line naming it, never a traceback), `nightowl check`, and `serve` failing fast on a
Slack token that Slack refuses."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from tests.fakes.process import free_port
from tests.fakes.server import ServerThread
from tests.fakes.slack import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / ".env.example"
VARIABLES = re.findall(r"^([A-Z][A-Z0-9_]+)=", EXAMPLE.read_text(), re.M)

NUMBER, BOOL, JSON, URL = "not-a-number", "maybe", "{team: payments", "localhost:9090"
PASTED, CHANNEL, NO_PATH = "pasted with a space", "#On Call", "/nonexistent/nightowl"
# Every variable of .env.example and a bad value for it (the test below fails for a variable
# without one: a new variable adds its line here, e.g. TEMPORAL_ADDRESS: "temporal:notaport").
BAD: dict[str, str] = {
    "NIGHTOWL_DATABASE_URL": "mysql://db/nightowl",
    "NIGHTOWL_HOST": "local host",
    "NIGHTOWL_PORT": "notaport",
    "NIGHTOWL_LOG_LEVEL": "LOUD",
    "NIGHTOWL_WEBHOOK_TOKEN": PASTED,
    "NIGHTOWL_ALLOW_UNAUTHENTICATED_WEBHOOKS": BOOL,
    "NIGHTOWL_PAGERDUTY_WEBHOOK_SECRET": PASTED,
    "NIGHTOWL_SENTRY_WEBHOOK_SECRET": PASTED,
    "NIGHTOWL_GRAFANA_WEBHOOK_SECRET": PASTED,
    "NIGHTOWL_SECURITY_WEBHOOK_SECRET": PASTED,
    "NIGHTOWL_MAX_BODY_BYTES": NUMBER,
    "SLACK_BOT_TOKEN": "xapp-1-A0123-the-app-token",  # the other token, in the wrong place
    "SLACK_SIGNING_SECRET": PASTED,
    "SLACK_APP_TOKEN": "xoxb-123-the-bot-token",
    "SLACK_API_URL": "slack.com/api",
    "NIGHTOWL_SLACK_MESSAGES_PER_SECOND": NUMBER,
    "NIGHTOWL_CHAT_QUESTIONS_PER_USER": "0",
    "NIGHTOWL_CHAT_WINDOW_SECONDS": NUMBER,
    "NIGHTOWL_DEFAULT_CHANNEL": CHANNEL,
    "NIGHTOWL_ROUTES": JSON,
    "PROMETHEUS_URL": URL,
    "LOKI_URL": URL,
    "NIGHTOWL_SERVICE_LABELS": "service, app name",
    "NIGHTOWL_TOPOLOGY": JSON,
    "NIGHTOWL_AUTO_INVESTIGATE": BOOL,
    "NIGHTOWL_INVESTIGATION_MAX_QUERIES": NUMBER,
    "NIGHTOWL_INVESTIGATION_MAX_DEPTH": NUMBER,
    "NIGHTOWL_INVESTIGATION_LOOKBACK_MINUTES": NUMBER,
    "ANTHROPIC_API_KEY": "sk-proj-an-openai-key",
    "ANTHROPIC_BASE_URL": URL,
    "OPENAI_API_KEY": "xoxb-a-slack-token",
    "OPENAI_BASE_URL": URL,
    "NIGHTOWL_MODELS_PLANNER": "claude-sonnet",
    "NIGHTOWL_MODELS_WORKER": "nobody:model",
    "NIGHTOWL_MODELS_SUMMARIZER": "anthropic:claude-haiku-4-5",  # without ANTHROPIC_API_KEY
    "NIGHTOWL_LLM_TIMEOUT_SECONDS": NUMBER,
    "NIGHTOWL_LLM_DAILY_CAP_USD": NUMBER,
    "NIGHTOWL_LLM_AGENT_CAPS_USD": JSON,
    "NIGHTOWL_MODELS_PAUSED": BOOL,
    "NIGHTOWL_PRICES_FILE": f"{NO_PATH}/prices.json",
    "NIGHTOWL_REDACT_PATTERNS": '["(unclosed"]',
    "OTEL_EXPORTER_OTLP_ENDPOINT": URL,
    "OTEL_SERVICE_NAME": "nightowl ",
    "NIGHTOWL_SCHEDULER_ENABLED": BOOL,
    "NIGHTOWL_ERROR_SCAN_SCHEDULE": "every banana",
    "NIGHTOWL_DIGEST_SCHEDULE": "cron 99 * * * *",
    "NIGHTOWL_TIMEZONE": "Mars/Olympus_Mons",
    "NIGHTOWL_ERROR_SCAN_RECENT_MINUTES": NUMBER,
    "NIGHTOWL_ERROR_SCAN_BASELINE_HOURS": NUMBER,
    "NIGHTOWL_ERROR_SCAN_INCIDENT_SEVERITY": "urgent",
    "NIGHTOWL_DIGEST_CHANNELS": JSON,
    "NIGHTOWL_OPS_CHANNEL": CHANNEL,
    "NIGHTOWL_JOB_FAILURE_THRESHOLD": NUMBER,
    "NIGHTOWL_SCHEDULER_LEASE_SECONDS": NUMBER,
    "SENTRY_AUTH_TOKEN": "ghp_a_github_token",
    "SENTRY_API_URL": URL,
    "SENTRY_ORG": "My Org",
    "GITHUB_TOKEN": "sntrys_a_sentry_token",
    "GITHUB_API_URL": URL,
    "NIGHTOWL_GITHUB_HTML_URL": "github.com",
    "NIGHTOWL_REPOS": JSON,
    "NIGHTOWL_DEV_SHADOW": BOOL,
    "NIGHTOWL_DEV_WORKDIR": f"{EXAMPLE}/dev",  # under a file: cannot be created
    "NIGHTOWL_DEV_MAX_OPEN_PRS": NUMBER,
    "NIGHTOWL_DEV_PRS_PER_HOUR": NUMBER,
    "NIGHTOWL_DEV_PRS_PER_DAY": NUMBER,
    "NIGHTOWL_DEV_STALE_PR_DAYS": NUMBER,
    "NIGHTOWL_PR_SYNC_SCHEDULE": "cron 0 25 * * *",
    "NIGHTOWL_GITHUB_WRITE_INTERVAL_SECONDS": NUMBER,
    "NIGHTOWL_ACTION_GROUPS": JSON,
    "NIGHTOWL_ADMIN_GROUP": "oncall-admins",  # a name, not the group's ID
    "NIGHTOWL_AUTHZ_CACHE_SECONDS": NUMBER,
    "NIGHTOWL_REINVESTIGATE_COOLDOWN_SECONDS": NUMBER,
    "NIGHTOWL_API_TOKENS": JSON,
    "NIGHTOWL_MCP_TOKEN": "a-token-that-is-not-in-the-list",
    "NIGHTOWL_PUBLIC_URL": "nightowl.internal:8080",
    "NIGHTOWL_MCP_ALLOWED_HOSTS": "nightowl internal",
    "NIGHTOWL_MCP_ALLOWED_ORIGINS": "nightowl.internal",
    "NIGHTOWL_SLACK_WORKSPACE_URL": "acme.slack.com",
    "NIGHTOWL_SECURITY_CHANNEL": CHANNEL,
    "NIGHTOWL_SECURITY_CONTEXT_FILE": f"{NO_PATH}/context.json",
    "NIGHTOWL_SECURITY_LOOKBACK_HOURS": NUMBER,
    "NIGHTOWL_SECURITY_SUPPRESS_AFTER": "0",
    "NIGHTOWL_SIGMA_RULES": f"{NO_PATH}/rules",
    "NIGHTOWL_SIGMA_OWN_RULES": BOOL,
    "NIGHTOWL_SECURITY_SUPPRESSIONS": f"{NO_PATH}/suppressions.json",  # its folder is missing
    "NIGHTOWL_SECURITY_SCAN_SCHEDULE": "every 0m",
    "NIGHTOWL_SECURITY_SCAN_DELAY_MINUTES": NUMBER,
    "NIGHTOWL_SECURITY_SCAN_FIRST_WINDOW_HOURS": NUMBER,
    "NIGHTOWL_SECURITY_SCAN_MAX_WINDOW_HOURS": NUMBER,
    "NIGHTOWL_CLOUDTRAIL_PATHS": f"{ROOT}:{NO_PATH}/cloudtrail",  # the second one is missing
    "NIGHTOWL_GCP_AUDIT_PATHS": f"{NO_PATH}/gcp",
    "NIGHTOWL_WORKSPACE_PATHS": f"{NO_PATH}/workspace",
    "NIGHTOWL_SECURITY_JSON_PATHS": f"{NO_PATH}/json",
    "NIGHTOWL_SECURITY_JSON_LOG_TYPE": "cloudtrail",
    "OKTA_ORG_URL": "acme.okta.com",
    "OKTA_API_TOKEN": PASTED,
    "NIGHTOWL_GITHUB_SECURITY_ORG": "acme corp",
    "NIGHTOWL_GITHUB_SECURITY_TOKEN": "xoxb-a-slack-token",
    "NIGHTOWL_GITHUB_SECURITY_AUDIT_LOG": BOOL,
    "TEMPORAL_ADDRESS": "http://temporal:7233",  # a URL where host:port belongs
    "TEMPORAL_NAMESPACE": "on call",
    "TEMPORAL_TASK_QUEUE": "night owl",
    "NIGHTOWL_TEMPORAL_HEARTBEAT_TIMEOUT_SECONDS": NUMBER,
}
# Values of the kinds the checks above must still accept (a check that refuses real
# configurations would be worse than none).
GOOD: dict[str, str] = {
    "NIGHTOWL_HOST": "::", "SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "8f7e6d",
    "NIGHTOWL_DEFAULT_CHANNEL": "C0123ABCD", "NIGHTOWL_OPS_CHANNEL": "#ops_night-owl",
    "GITHUB_TOKEN": "0123456789abcdef0123456789abcdef01234567",
    "SENTRY_AUTH_TOKEN": "sntryu_abc", "SENTRY_ORG": "acme-corp",
    "NIGHTOWL_ADMIN_GROUP": "S0614TZR7",
    "NIGHTOWL_MCP_ALLOWED_HOSTS": "[::1]:*,nightowl.internal:443,10.0.0.5",
    "NIGHTOWL_MCP_ALLOWED_ORIGINS": "https://nightowl.internal,http://localhost:*",
    "NIGHTOWL_PUBLIC_URL": "https://nightowl.internal:8443/", "NIGHTOWL_DEV_WORKDIR": "~/x/y",
    "NIGHTOWL_PR_SYNC_SCHEDULE": "cron 0 8 * * 1-5", "NIGHTOWL_SECURITY_SCAN_SCHEDULE": "off",
    "NIGHTOWL_SECURITY_JSON_LOG_TYPE": "Acme.Audit",
    "NIGHTOWL_SECURITY_SUPPRESSIONS": "./suppressions.json",  # not there yet: no suppressions
    "OPENAI_API_KEY": "ollama", "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1",
    "OTEL_SERVICE_NAME": "nightowl-prod", "NIGHTOWL_GITHUB_SECURITY_ORG": "acme-corp",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No nightowl variable from the machine, a throwaway directory (and its .env)."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NIGHTOWL_DATABASE_URL", f"sqlite:///{tmp_path}/nightowl.db")
    return tmp_path


def test_every_variable_is_covered() -> None:
    missing = sorted(set(VARIABLES) - set(BAD))
    assert not missing, f"a bad value for each of these belongs in BAD: {missing}"
    assert not set(BAD) - set(VARIABLES), "BAD names a variable .env.example does not list"


def test_good_values_pass(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import load_settings

    for variable, value in GOOD.items():
        monkeypatch.setenv(variable, value)
    settings = load_settings()
    assert settings.host == "::" and settings.dev.workdir == "~/x/y"


@pytest.mark.parametrize("variable", sorted(BAD))
def test_a_bad_value_is_one_line_naming_the_variable(
        variable: str, clean_env: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NIGHTOWL_WEBHOOK_TOKEN", "t0ken-for-the-test")
    monkeypatch.setenv(variable, BAD[variable])
    code = main(["check"])
    out = capsys.readouterr()
    text = out.out + out.err
    assert code != 0, text
    assert "Traceback" not in text
    failed = [line for line in text.splitlines() if line.startswith("✗")]
    assert len(failed) == 1 and len(failed[0]) < 400 and variable in failed[0], text
    secret = any(word in variable for word in ("TOKEN", "SECRET", "KEY"))
    assert not secret or BAD[variable] not in text, "a secret's value is never shown"


def test_every_bad_variable_is_named_at_once(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Three wrong values in three groups of settings: all three named in one run, not one
    per attempt."""
    wrong = ("NIGHTOWL_PORT", "SLACK_API_URL", "NIGHTOWL_SIGMA_RULES")
    for variable in wrong:
        monkeypatch.setenv(variable, BAD[variable])
    assert main(["check"]) == 1
    failed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("✗")]
    assert len(failed) == 3 and all(any(v in line for line in failed) for v in wrong), failed


COMMANDS = [["serve"], ["check"], ["demo"], ["investigate", str(ROOT / "bot/demo/scenarios/"
                                                                 "frontend-latency")],
            ["investigate", "--prometheus", "http://127.0.0.1:9", "--alert", "X"],
            ["db", "upgrade"], ["spend"], ["jobs"], ["digest", "--channel", "#x"], ["mcp"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_command_with_a_bad_setting(command: list[str], clean_env: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NIGHTOWL_PORT", "notaport")
    if command == ["demo"]:  # the demo ignores the port: give it a setting it does read
        monkeypatch.setenv("NIGHTOWL_ROUTES", JSON)
    code = main(command)
    out = capsys.readouterr()
    err = out.err + out.out
    assert code in (1, 2) and "Traceback" not in err
    assert re.search(r"NIGHTOWL_PORT|NIGHTOWL_ROUTES", err), err


BAD_ARGUMENTS = [
    ["demo", "--scenario", "nope"],
    ["investigate", "/nonexistent/scenario"],
    ["investigate"],
    ["investigate", "--prometheus", "http://127.0.0.1:9", "--alert", "HostHighCpuLoad"],
    ["investigate", "--alertmanager", "http://127.0.0.1:9"],
    ["investigate", "--prometheus", "localhost:9090"],
    ["db", "upgrade", "no-such-revision"],
    ["jobs", "run", "nope"],
    ["eval", "--suite", "nope"],
    ["eval", "export", "notanumber"],
    ["eval", "--sweep", "threshold"],
    ["fix", "/nonexistent/case"],
    ["triage", "/nonexistent/case"],
    ["sigma", "scan", "/nonexistent/events.json"],
]
# Rejected by argparse itself (exit 2, its usage line and one error line).
BAD_OPTIONS = [["serve", "--port", "notaport"], ["serve", "--host", "local host"],
               ["investigate", "x", "--max-queries", "0"],
               ["--log-level", "LOUD", "check"], ["spend", "--days", "0"],
               ["jobs", "--runs", "0"], ["digest", "--channel", "#On Call"],
               ["sigma", "nope"], ["db", "downgrade"], ["eval", "--count", "0"],
               ["worker", "--max-concurrent-steps", "0"]]


def test_every_subcommand_is_given_bad_input() -> None:
    from importlib.metadata import entry_points

    from bot.cli import parser

    root = parser([])
    sub = next(a for a in root._actions if a.dest == "command")
    names = set(sub.choices) | {e.name for e in entry_points(group="nightowl.commands")}
    tried = {argv[0] for argv in COMMANDS + BAD_ARGUMENTS + BAD_OPTIONS if argv[0] != "--log-level"}
    assert names <= tried, f"give these commands a bad input here: {sorted(names - tried)}"


@pytest.mark.parametrize("argv", BAD_ARGUMENTS, ids=lambda a: " ".join(a))
def test_bad_arguments_are_one_line(argv: list[str], clean_env: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert 0 < len(err.strip().splitlines()) <= 2, err


def test_unreachable_postgres_is_one_line(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NIGHTOWL_DATABASE_URL", f"postgresql://x@127.0.0.1:{free_port()}/x")
    code = main(["db", "upgrade"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "NIGHTOWL_DATABASE_URL" in err
    assert len(err.strip().splitlines()) == 1


def test_bad_cli_options_are_argparse_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in BAD_OPTIONS:
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2, argv
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert "Traceback" not in err and lines[-1].startswith("nightowl") \
            and [line for line in lines if "error:" in line] == lines[-1:], err


def test_version_and_fast_help() -> None:
    result = subprocess.run([sys.executable, "-m", "bot.cli", "--version"],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert re.fullmatch(r"nightowl \d+\.\d+\.\d+\S*\n", result.stdout)
    # --help imports neither the ORM, nor the SDKs, nor the plug-ins (that is what made it
    # take 3 s); measured by what is loaded, not by the clock.
    probe = ("import sys; from bot.cli import parser\n"
             "try:\n    parser(['--help']).parse_args(['--help'])\nexcept SystemExit:\n    pass\n"
             "heavy = [m for m in ('sqlalchemy', 'sqlmodel', 'numpy', 'slack_bolt', 'anthropic',"
             " 'openai', 'pydantic', 'evals.cli') if m in sys.modules]\nprint(heavy)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60, cwd=ROOT)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr


def test_every_subcommand_has_a_description(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import entry_points

    from bot.cli import parser

    for loaded in [None, *(e.name for e in entry_points(group="nightowl.commands"))]:
        root = parser([loaded] if loaded else [])
        sub = next(a for a in root._actions if a.dest == "command")
        for name, command in sub.choices.items():  # type: ignore[attr-defined]
            if loaded is None or name == loaded:
                assert command.description, f"`nightowl {name}` has no description"


def test_env_example_as_shipped(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    """Copied as is: empty values are unset, so Slack is off (not half on, not Socket Mode)
    and the only thing `check` asks for is the webhook token."""
    shutil.copy(EXAMPLE, clean_env / ".env")
    monkeypatch.delenv("NIGHTOWL_DATABASE_URL")
    from bot.settings import load_settings

    settings = load_settings()
    assert settings.slack.bot_token is None and settings.slack.app_token is None
    assert not settings.slack.configured and settings.models.daily_cap_usd is None
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    failed = [line for line in out.splitlines() if line.startswith("✗")]
    assert len(failed) == 1 and "NIGHTOWL_WEBHOOK_TOKEN" in failed[0], out
    assert "– slack" in out and "not configured" in out


@pytest.fixture
def slack() -> Iterator[tuple[FakeSlack, str]]:
    fake = FakeSlack()
    with ServerThread(fake.app()) as server:
        fake.base_url = server.url
        yield fake, server.url


def _serve(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_env_example_serves_and_a_refused_slack_token_stops_serve(
        clean_env: Path, slack: tuple[FakeSlack, str]) -> None:
    fake, url = slack
    shutil.copy(EXAMPLE, clean_env / ".env")
    base = {k: v for k, v in __import__("os").environ.items() if k not in VARIABLES}
    port = free_port()
    env = base | {"NIGHTOWL_WEBHOOK_TOKEN": "t0ken-for-the-test", "NIGHTOWL_PORT": str(port),
                  "NIGHTOWL_SCHEDULER_ENABLED": "false"}
    process = _serve(env, clean_env)
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None, process.stdout.read() if process.stdout else ""
        assert health["status"] == "ok" and health["slack"] == "not configured"
    finally:
        process.terminate()
        process.wait(timeout=30)
    # A token Slack refuses: serve stops at once with one line, before listening.
    fake.refuse_tokens.add("xoxb-revoked")
    env |= {"SLACK_BOT_TOKEN": "xoxb-revoked", "SLACK_SIGNING_SECRET": "s3cret",
            "SLACK_API_URL": f"{url}/api/"}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "serve"], cwd=clean_env, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "auth.test refused SLACK_BOT_TOKEN: invalid_auth" in result.stderr
    assert "xoxb-revoked" not in result.stderr + result.stdout


def _health(port: int, process: subprocess.Popen[str], *, until: str,
            timeout: float = 60) -> dict[str, object]:
    """/healthz of a `serve` subprocess, polled until its slack entry starts with `until`."""
    deadline = time.monotonic() + timeout
    health: dict[str, object] = {}
    while time.monotonic() < deadline and process.poll() is None:
        try:
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
            if str(health.get("slack", "")).startswith(until):
                return health
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    output = "" if process.poll() is None or process.stdout is None else process.stdout.read()
    raise AssertionError(f"/healthz never said slack {until!r}: {health} {output}")


def test_healthz_says_slack_is_degraded_and_why(clean_env: Path,
                                                slack: tuple[FakeSlack, str]) -> None:
    """`nightowl serve` against the fake Slack: unreachable at start (serve goes on, Slack
    may come back), then a token Slack starts refusing (invalid_auth) while it runs."""
    fake, url = slack
    base = {k: v for k, v in __import__("os").environ.items() if k not in VARIABLES}
    env = base | {"NIGHTOWL_WEBHOOK_TOKEN": "t0ken-for-the-test",
                  "NIGHTOWL_DATABASE_URL": f"sqlite:///{clean_env}/n.db",
                  "NIGHTOWL_SCHEDULER_ENABLED": "false", "SLACK_BOT_TOKEN": "xoxb-good-token",
                  "SLACK_SIGNING_SECRET": "s3cret"}
    port = free_port()
    down = env | {"NIGHTOWL_PORT": str(port),
                  "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/"}
    process = _serve(down, clean_env)
    try:
        health = _health(port, process, until="degraded")
        assert health["status"] == "degraded"
        assert "cannot reach" in str(health["slack"]) and "SLACK_API_URL" in str(health["slack"])
    finally:
        process.terminate()
        process.wait(timeout=30)

    port = free_port()
    process = _serve(env | {"NIGHTOWL_PORT": str(port), "SLACK_API_URL": f"{url}/api/"},
                     clean_env)
    try:
        assert _health(port, process, until="ok")["status"] == "ok"
        fake.refuse_tokens.add("xoxb-good-token")  # revoked while serve runs
        alert = {"version": "4", "status": "firing", "groupKey": "g", "alerts": [{
            "status": "firing", "labels": {"alertname": "HighLatency", "service": "cart"},
            "startsAt": "2026-01-01T00:00:00Z", "annotations": {"summary": "slow"}}]}
        answer = httpx.post(f"http://127.0.0.1:{port}/webhooks/alertmanager", json=alert,
                            headers={"Authorization": "Bearer t0ken-for-the-test"}, timeout=10)
        assert answer.status_code == 202, answer.text
        health = _health(port, process, until="degraded")
        assert health["status"] == "degraded" and "invalid_auth" in str(health["slack"])
        assert "xoxb-good-token" not in json.dumps(health)
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_healthz_reports_a_degraded_slack() -> None:
    from bot.health import Health

    health = Health()
    health.set("slack", "ok")
    health.failed("slack", "SlackApiError: token_revoked")
    assert health.status == "degraded" and health.components["slack"].startswith("degraded")
    health.recovered("slack")
    assert health.status == "ok"
    assert json.dumps(health.components) == '{"slack": "ok"}'


async def test_chat_says_what_it_could_not_check() -> None:
    """"What changed?" with no baseline data and no change-event source, and "error logs"
    with no log source: said so, never "nothing, all normal" or "0 lines"."""
    from datetime import timedelta

    from agents.chat.lookups import Lookups, Thread
    from agents.sre.context import AlertContext
    from integrations.telemetry.base import Window
    from integrations.telemetry.composite import CompositeSource
    from integrations.telemetry.scenario import ScenarioSource

    scenario = ScenarioSource(ROOT / "bot/demo/scenarios/frontend-latency")
    fired = scenario.case.alert.fired_at
    ctx = AlertContext(service="cart", signal="latency", fired_at_s=fired.timestamp(),
                       name="HighLatency", summary="", window=Window(fired - timedelta(hours=2),
                                                                     fired))
    # Metrics only (no change events, no logs), asked about a period before the data begins.
    source = CompositeSource(metrics=scenario)
    first = min(float(s.t[0]) for s in (await scenario.metrics("cart", ctx.window)).series)
    thread = Thread(incident_id=1, ctx=ctx, report=None, source=source, now=first + 1800,
                    services=["cart"])
    answer = await Lookups(thread).what_changed("cart", 30)
    assert "within their normal range" not in answer and "no data before" in answer
    assert "no change events to look at (no change-event source configured)" in answer
    assert "could not check it all" in answer
    logs = await Lookups(thread).logs("cart", None)
    assert "I cannot see logs of `cart`" in logs and "LOKI_URL" in logs
    assert "0 " not in logs.split("`")[0]


async def test_chat_says_a_metrics_source_is_not_configured() -> None:
    """Logs only (no PROMETHEUS_URL): "what changed" and "why not X" say there were no
    metrics to look at and why, never "all within normal range"."""
    from datetime import timedelta

    from agents.chat.lookups import Lookups, Thread
    from agents.sre.context import AlertContext
    from integrations.telemetry.base import Window
    from integrations.telemetry.composite import CompositeSource
    from integrations.telemetry.scenario import ScenarioSource

    scenario = ScenarioSource(ROOT / "bot/demo/scenarios/frontend-latency")
    fired = scenario.case.alert.fired_at
    ctx = AlertContext(service="cart", signal="latency", fired_at_s=fired.timestamp(),
                       name="HighLatency", summary="",
                       window=Window(fired - timedelta(hours=2), fired + timedelta(minutes=10)))
    thread = Thread(incident_id=1, ctx=ctx, report=None, now=fired.timestamp() + 600,
                    source=CompositeSource(logs=scenario), services=["cart", "kafka"])
    for answer in (await Lookups(thread).what_changed("cart", 30),
                   await Lookups(thread).why_not("kafka")):
        assert "no metrics source configured; set PROMETHEUS_URL" in answer, answer
        assert "could not check it all" in answer and "normal range" not in answer, answer


def test_slack_manifest_grants_what_the_app_uses() -> None:
    """Every event the Bolt app listens to is subscribed, every Web API method it calls has
    its scope, and the slash command and interactivity point at /slack/events."""
    import yaml

    manifest = yaml.safe_load((ROOT / "slack-app-manifest.yml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    settings = manifest["settings"]
    events = set(settings["event_subscriptions"]["bot_events"])
    code = "\n".join(p.read_text() for p in (ROOT / "bot/slack").glob("*.py"))
    for event in re.findall(r'@app\.event\("([a-z_]+)"\)', code):
        wanted = {"message": {"message.channels", "message.groups"}}.get(event, {event})
        assert wanted <= events, f"event {event} is not subscribed"
    needs = {"chat_postMessage": "chat:write", "chat_update": "chat:write",
             "chat_postEphemeral": "chat:write", "files_upload_v2": "files:write",
             "conversations_members": "channels:read", "users_info": "users:read",
             "users_conversations": "channels:read", "usergroups_users_list": "usergroups:read"}
    for method in set(re.findall(r"client\.([a-z_0-9]+)\(", code)) | {"chat_postMessage"}:
        if method in needs:
            assert needs[method] in scopes, f"{method} needs {needs[method]}"
    assert {"app_mentions:read", "commands"} <= scopes
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/nightowl"]
    for url in (settings["event_subscriptions"]["request_url"],
                settings["interactivity"]["request_url"]):
        assert url.endswith("/slack/events")


async def test_check_tries_the_github_token(tmp_path: Path) -> None:
    from pydantic import SecretStr

    from bot.check import github
    from bot.settings import DevSettings, Settings
    from tests.fakes.github import FakeGitHub

    fake = FakeGitHub(root=tmp_path / "remote", tokens={"ghp_good_token": "nightowl-bot"})
    with ServerThread(fake.app()) as server:
        def settings(token: str | None) -> Settings:
            return Settings().model_copy(update={"dev": DevSettings(
                github_token=SecretStr(token) if token else None, github_api_url=server.url,
                repos={"orders": "acme/orders"})})

        assert (await github(settings(None))).outcome == "off"
        good = await github(settings("ghp_good_token"))
        assert good.outcome == "ok" and "1 repository in NIGHTOWL_REPOS" in good.detail
        refused = await github(settings("ghp_revoked"))
        assert refused.outcome == "fail" and "refused the credentials" in refused.detail
