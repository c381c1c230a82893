"""The one place that reads the environment. `.env.example` lists every variable.

An empty value means unset, everywhere (`SLACK_APP_TOKEN=` in a copied `.env.example` must
not turn Socket Mode on). `load_settings()` turns every validation failure into one line per
variable, named as the operator wrote it (see `ConfigError`).
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from bot.setting_values import (
    Channel,
    CreatableFolder,
    ExistingFile,
    FileInExistingFolder,
    GitHubOrg,
    GitHubToken,
    Host,
    HostPatterns,
    HttpUrl,
    LabelList,
    LogLevel,
    LogType,
    OneLine,
    Origins,
    Paths,
    Regex,
    Schedule,
    Secret,
    SentryOrg,
    SentryToken,
    SlackAppToken,
    SlackBotToken,
    TimeZone,
    UserGroup,
    split_paths,
)
from storage.severity import Severity

_COMMON = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                             populate_by_name=True, env_ignore_empty=True)


def _env(name: str, *more: str) -> AliasChoices:
    return AliasChoices(name, *more)


class SlackSettings(BaseSettings):
    model_config = _COMMON
    bot_token: SlackBotToken | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    signing_secret: Secret | None = Field(None, validation_alias=_env("SLACK_SIGNING_SECRET"))
    app_token: SlackAppToken | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    api_url: HttpUrl = Field("https://slack.com/api/", validation_alias=_env("SLACK_API_URL"))
    messages_per_second: float = Field(
        1.0, validation_alias=_env("NIGHTOWL_SLACK_MESSAGES_PER_SECOND"))
    # Thread chat: questions each person may ask in any window of this many seconds.
    chat_questions_per_user: int = Field(
        6, ge=1, validation_alias=_env("NIGHTOWL_CHAT_QUESTIONS_PER_USER"))
    chat_window_seconds: float = Field(
        300.0, gt=0, validation_alias=_env("NIGHTOWL_CHAT_WINDOW_SECONDS"))

    @property
    def configured(self) -> bool:
        return self.bot_token is not None and self.signing_secret is not None


class WebhookSettings(BaseSettings):
    model_config = _COMMON
    token: Secret | None = Field(None, validation_alias=_env("NIGHTOWL_WEBHOOK_TOKEN"))
    allow_unauthenticated: bool = Field(
        False, validation_alias=_env("NIGHTOWL_ALLOW_UNAUTHENTICATED_WEBHOOKS"))
    pagerduty_secret: Secret | None = Field(
        None, validation_alias=_env("NIGHTOWL_PAGERDUTY_WEBHOOK_SECRET"))
    sentry_secret: Secret | None = Field(
        None, validation_alias=_env("NIGHTOWL_SENTRY_WEBHOOK_SECRET"))
    grafana_secret: Secret | None = Field(
        None, validation_alias=_env("NIGHTOWL_GRAFANA_WEBHOOK_SECRET"))
    max_body_bytes: int = Field(1024 * 1024, validation_alias=_env("NIGHTOWL_MAX_BODY_BYTES"))
    security_secret: Secret | None = Field(
        None, validation_alias=_env("NIGHTOWL_SECURITY_WEBHOOK_SECRET"))

    def signing_secrets(self) -> dict[str, str]:
        pairs = {"pagerduty": self.pagerduty_secret, "sentry": self.sentry_secret,
                 "grafana": self.grafana_secret, "generic-security": self.security_secret}
        return {k: v.get_secret_value() for k, v in pairs.items() if v is not None}


class RoutingSettings(BaseSettings):
    model_config = _COMMON
    default_channel: Channel = Field("#incidents",
                                     validation_alias=_env("NIGHTOWL_DEFAULT_CHANNEL"))
    # {"service": {"checkout": "#checkout-oncall"}, "team": {"payments": "#payments"}}:
    # the first label (in this order) whose value has a channel wins.
    routes: dict[str, dict[str, str]] = Field(
        default_factory=dict, validation_alias=_env("NIGHTOWL_ROUTES"))


class TelemetrySettings(BaseSettings):
    model_config = _COMMON
    prometheus_url: HttpUrl | None = Field(None, validation_alias=_env("PROMETHEUS_URL"))
    loki_url: HttpUrl | None = Field(None, validation_alias=_env("LOKI_URL"))
    # Static call graph for production telemetry: {"front-end": ["carts", "orders"]}.
    topology: dict[str, list[str]] = Field(
        default_factory=dict, validation_alias=_env("NIGHTOWL_TOPOLOGY"))
    # The labels that may name a service, in order; an alert's own labels pick the one used.
    service_labels: LabelList = Field(
        "service,app,job,container,pod", validation_alias=_env("NIGHTOWL_SERVICE_LABELS"))

    @property
    def service_label_list(self) -> tuple[str, ...]:
        return tuple(label.strip() for label in self.service_labels.split(",") if label.strip())


class InvestigationSettings(BaseSettings):
    model_config = _COMMON
    max_queries: int = Field(400, validation_alias=_env("NIGHTOWL_INVESTIGATION_MAX_QUERIES"))
    max_depth: int = Field(6, validation_alias=_env("NIGHTOWL_INVESTIGATION_MAX_DEPTH"))
    lookback_minutes: int = Field(
        120, validation_alias=_env("NIGHTOWL_INVESTIGATION_LOOKBACK_MINUTES"))
    auto_investigate: bool = Field(True, validation_alias=_env("NIGHTOWL_AUTO_INVESTIGATE"))


class SchedulerSettings(BaseSettings):
    model_config = _COMMON
    # `serve` runs the schedule (one replica at a time holds the database lock).
    enabled: bool = Field(True, validation_alias=_env("NIGHTOWL_SCHEDULER_ENABLED"))
    timezone: TimeZone = Field(
        "UTC", validation_alias=_env("NIGHTOWL_TIMEZONE"))
    lease_seconds: float = Field(30.0, validation_alias=_env("NIGHTOWL_SCHEDULER_LEASE_SECONDS"))
    ops_channel: Channel | None = Field(None, validation_alias=_env("NIGHTOWL_OPS_CHANNEL"))
    failure_threshold: int = Field(3, validation_alias=_env("NIGHTOWL_JOB_FAILURE_THRESHOLD"))
    error_scan_schedule: Schedule = Field("every 5m",
                                     validation_alias=_env("NIGHTOWL_ERROR_SCAN_SCHEDULE"))
    error_scan_recent_minutes: int = Field(
        15, validation_alias=_env("NIGHTOWL_ERROR_SCAN_RECENT_MINUTES"))
    error_scan_baseline_hours: float = Field(
        6.0, validation_alias=_env("NIGHTOWL_ERROR_SCAN_BASELINE_HOURS"))
    error_scan_incident_severity: Severity = Field(
        Severity.HIGH, validation_alias=_env("NIGHTOWL_ERROR_SCAN_INCIDENT_SEVERITY"))
    digest_schedule: Schedule = Field("cron 0 8 * * *",
                                 validation_alias=_env("NIGHTOWL_DIGEST_SCHEDULE"))
    # {"#eng-managers": ["*"], "#payments-leads": ["#payments-oncall"]}: where each digest
    # goes and the incident channels it covers ("*" = all).
    digest_channels: dict[str, list[str]] = Field(
        default_factory=dict, validation_alias=_env("NIGHTOWL_DIGEST_CHANNELS"))


class SentrySettings(BaseSettings):
    model_config = _COMMON
    auth_token: SentryToken | None = Field(None, validation_alias=_env("SENTRY_AUTH_TOKEN"))
    api_url: HttpUrl = Field("https://sentry.io", validation_alias=_env("SENTRY_API_URL"))
    org: SentryOrg | None = Field(
        None, validation_alias=_env("SENTRY_ORG"))

    @property
    def configured(self) -> bool:
        return self.auth_token is not None and bool(self.org)


class ModelSettings(BaseSettings):
    model_config = _COMMON
    # Read under the names the official SDKs use.
    anthropic_api_key: Secret | None = Field(None, validation_alias=_env("ANTHROPIC_API_KEY"))
    anthropic_base_url: HttpUrl | None = Field(None, validation_alias=_env("ANTHROPIC_BASE_URL"))
    openai_api_key: Secret | None = Field(None, validation_alias=_env("OPENAI_API_KEY"))
    openai_base_url: HttpUrl | None = Field(None, validation_alias=_env("OPENAI_BASE_URL"))
    planner: str = Field("", validation_alias=_env("NIGHTOWL_MODELS_PLANNER"))
    worker: str = Field("", validation_alias=_env("NIGHTOWL_MODELS_WORKER"))
    summarizer: str = Field("", validation_alias=_env("NIGHTOWL_MODELS_SUMMARIZER"))
    timeout_seconds: float = Field(60.0, validation_alias=_env("NIGHTOWL_LLM_TIMEOUT_SECONDS"))
    daily_cap_usd: float | None = Field(None, validation_alias=_env("NIGHTOWL_LLM_DAILY_CAP_USD"))
    # {"sre": 20, "chat": 5}
    agent_caps_usd: dict[str, float] = Field(
        default_factory=dict, validation_alias=_env("NIGHTOWL_LLM_AGENT_CAPS_USD"))
    paused: bool = Field(False, validation_alias=_env("NIGHTOWL_MODELS_PAUSED"))
    prices_file: ExistingFile | None = Field(
        None, validation_alias=_env("NIGHTOWL_PRICES_FILE"))
    # Extra regular expressions to mask before text goes to a model or Slack.
    redact_patterns: list[Regex] = Field(
        default_factory=list, validation_alias=_env("NIGHTOWL_REDACT_PATTERNS"))

    @model_validator(mode="after")
    def _keys_of_their_provider(self) -> ModelSettings:
        # Against the provider's own API a key has the provider's prefix; a proxy or a local
        # OpenAI-compatible server (a base URL set) may take any key.
        for variable, key, base_url, prefix in (
                ("ANTHROPIC_API_KEY", self.anthropic_api_key, self.anthropic_base_url, "sk-ant-"),
                ("OPENAI_API_KEY", self.openai_api_key, self.openai_base_url, "sk-")):
            if key is not None and base_url is None \
                    and not key.get_secret_value().startswith(prefix):
                raise ValueError(f"{variable}: is not an API key of this provider (those start "
                                 f"with {prefix}; with a proxy, set its base URL too)")
        return self


class AuthorizationSettings(BaseSettings):
    """Who may press what (docs/hardening.md). Empty means the defaults: members of the
    incident's channel; workspace admins for pause/resume."""

    model_config = _COMMON
    # {"resolve": ["S0123"], "open_pr": ["S0456"], "approve_containment": ["S0789"]}
    action_groups: dict[str, list[str]] = Field(
        default_factory=dict, validation_alias=_env("NIGHTOWL_ACTION_GROUPS"))
    admin_group: UserGroup | None = Field(
        None, validation_alias=_env("NIGHTOWL_ADMIN_GROUP"))
    cache_seconds: float = Field(300.0, ge=0,
                                 validation_alias=_env("NIGHTOWL_AUTHZ_CACHE_SECONDS"))
    reinvestigate_cooldown_seconds: float = Field(
        120.0, ge=0, validation_alias=_env("NIGHTOWL_REINVESTIGATE_COOLDOWN_SECONDS"))


class ApiToken(BaseModel):
    """One entry of NIGHTOWL_API_TOKENS."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    token: SecretStr = Field(min_length=16)
    scopes: list[Literal["read", "write", "eval"]] = Field(min_length=1)


class ApiSettings(BaseSettings):
    model_config = _COMMON
    # [{"name": "ci", "token": "...", "scopes": ["read", "eval"]}]: REST and MCP callers.
    tokens: list[ApiToken] = Field(default_factory=list,
                                   validation_alias=_env("NIGHTOWL_API_TOKENS"))
    # The token `nightowl mcp` (stdio) acts as: one of the tokens above.
    mcp_token: Secret | None = Field(None, validation_alias=_env("NIGHTOWL_MCP_TOKEN"))
    # Where clients reach `serve` (Location headers, OAuth resource metadata); default
    # http://NIGHTOWL_HOST:NIGHTOWL_PORT.
    public_url: HttpUrl | None = Field(None, validation_alias=_env("NIGHTOWL_PUBLIC_URL"))
    # Comma-separated Host / Origin values /mcp accepts (DNS-rebinding protection), beyond
    # loopback and the public URL's own.
    mcp_allowed_hosts: HostPatterns = Field("", validation_alias=_env("NIGHTOWL_MCP_ALLOWED_HOSTS"))
    mcp_allowed_origins: Origins = Field("", validation_alias=_env("NIGHTOWL_MCP_ALLOWED_ORIGINS"))
    # https://acme.slack.com: permalinks to threads in API answers.
    slack_workspace_url: HttpUrl | None = Field(
        None, validation_alias=_env("NIGHTOWL_SLACK_WORKSPACE_URL"))

    @field_validator("mcp_token", "public_url", "slack_workspace_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        if value == "" or (isinstance(value, SecretStr) and not value.get_secret_value()):
            return None
        return value

    @model_validator(mode="after")
    def _mcp_token_is_an_api_token(self) -> ApiSettings:
        if self.mcp_token is not None and self.mcp_token.get_secret_value() not in {
                t.token.get_secret_value() for t in self.tokens}:
            raise ValueError("NIGHTOWL_MCP_TOKEN: is not one of the tokens in "
                             "NIGHTOWL_API_TOKENS")
        return self


class SecurityCaseSettings(BaseSettings):
    """Security cases (bot/security/): where they go and what triage knows."""

    model_config = _COMMON
    channel: Channel = Field("#security", validation_alias=_env("NIGHTOWL_SECURITY_CHANNEL"))
    # A JSON file in the security case format's `context` shape: known_admins, ci_principals,
    # corporate_cidrs, change_tickets, maintenance_windows (operator-provided, trusted).
    context_file: ExistingFile | None = Field(
        None,
                                     validation_alias=_env("NIGHTOWL_SECURITY_CONTEXT_FILE"))
    lookback_hours: float = Field(24.0, gt=0,
                                  validation_alias=_env("NIGHTOWL_SECURITY_LOOKBACK_HOURS"))
    # False-positive marks on one rule and principal before the thread suggests a suppression.
    suppress_after: int = Field(2, ge=1,
                                validation_alias=_env("NIGHTOWL_SECURITY_SUPPRESS_AFTER"))


class SecurityDetectionSettings(BaseSettings):
    """Security detection (docs/security-detection.md): sources, Sigma rules, the scan."""

    model_config = _COMMON
    # Folders (or files) of Sigma rules, colon/comma separated; the project's own rules are
    # always loaded unless NIGHTOWL_SIGMA_OWN_RULES=false.
    sigma_rules: Paths | None = Field(None, validation_alias=_env("NIGHTOWL_SIGMA_RULES"))
    own_rules: bool = Field(True, validation_alias=_env("NIGHTOWL_SIGMA_OWN_RULES"))
    suppressions_file: FileInExistingFolder | None = Field(
        None, validation_alias=_env("NIGHTOWL_SECURITY_SUPPRESSIONS"))
    scan_schedule: Schedule = Field("every 5m",
                                    validation_alias=_env("NIGHTOWL_SECURITY_SCAN_SCHEDULE"))
    # Logs arrive late (CloudTrail: ~5-15 min): a scan reads up to now minus this delay.
    scan_delay_minutes: float = Field(
        15.0, ge=0, validation_alias=_env("NIGHTOWL_SECURITY_SCAN_DELAY_MINUTES"))
    # The first scan, and a scan after a long outage, read at most this far back.
    scan_max_window_hours: float = Field(
        24.0, gt=0, validation_alias=_env("NIGHTOWL_SECURITY_SCAN_MAX_WINDOW_HOURS"))
    first_window_hours: float = Field(
        1.0, gt=0, validation_alias=_env("NIGHTOWL_SECURITY_SCAN_FIRST_WINDOW_HOURS"))
    cloudtrail_paths: Paths | None = Field(None, validation_alias=_env("NIGHTOWL_CLOUDTRAIL_PATHS"))
    gcp_audit_paths: Paths | None = Field(None, validation_alias=_env("NIGHTOWL_GCP_AUDIT_PATHS"))
    workspace_paths: Paths | None = Field(None, validation_alias=_env("NIGHTOWL_WORKSPACE_PATHS"))
    json_paths: Paths | None = Field(None, validation_alias=_env("NIGHTOWL_SECURITY_JSON_PATHS"))
    json_log_type: LogType | None = Field(
        None, validation_alias=_env("NIGHTOWL_SECURITY_JSON_LOG_TYPE"))
    okta_url: HttpUrl | None = Field(None, validation_alias=_env("OKTA_ORG_URL"))
    okta_token: Secret | None = Field(None, validation_alias=_env("OKTA_API_TOKEN"))
    github_org: GitHubOrg | None = Field(None,
                                         validation_alias=_env("NIGHTOWL_GITHUB_SECURITY_ORG"))
    github_token: GitHubToken | None = Field(
        None, validation_alias=_env("NIGHTOWL_GITHUB_SECURITY_TOKEN", "GITHUB_TOKEN"))
    github_api_url: HttpUrl = Field("https://api.github.com",
                                validation_alias=_env("GITHUB_API_URL"))
    github_audit_log: bool = Field(
        True, validation_alias=_env("NIGHTOWL_GITHUB_SECURITY_AUDIT_LOG"))

    def rule_paths(self) -> list[str]:
        return split_paths(self.sigma_rules)


class DevSettings(BaseSettings):
    """The Dev agent: suspect commits and draft pull requests (docs/dev-agent-prs.md)."""

    model_config = _COMMON
    github_token: GitHubToken | None = Field(None, validation_alias=_env("GITHUB_TOKEN"))
    github_api_url: HttpUrl = Field("https://api.github.com",
                                validation_alias=_env("GITHUB_API_URL"))
    github_html_url: HttpUrl = Field("https://github.com",
                                 validation_alias=_env("NIGHTOWL_GITHUB_HTML_URL"))
    # {"orders": "acme/orders", "web": "acme/mono:services/web",
    #  "billing": {"repo": "acme/billing", "pull_requests": false, "shadow": false,
    #              "test_command": "python -m pytest -x -q"}}
    repos: dict[str, str | dict[str, str | bool]] = Field(
        default_factory=dict, validation_alias=_env("NIGHTOWL_REPOS"))
    shadow: bool = Field(False, validation_alias=_env("NIGHTOWL_DEV_SHADOW"))
    workdir: CreatableFolder = Field("./.nightowl/dev",
                                      validation_alias=_env("NIGHTOWL_DEV_WORKDIR"))
    max_open_prs: int = Field(3, ge=0, validation_alias=_env("NIGHTOWL_DEV_MAX_OPEN_PRS"))
    prs_per_hour: int = Field(2, ge=0, validation_alias=_env("NIGHTOWL_DEV_PRS_PER_HOUR"))
    prs_per_day: int = Field(5, ge=0, validation_alias=_env("NIGHTOWL_DEV_PRS_PER_DAY"))
    stale_pr_days: float = Field(7.0, gt=0, validation_alias=_env("NIGHTOWL_DEV_STALE_PR_DAYS"))
    pr_sync_schedule: Schedule = Field("every 5m",
                                       validation_alias=_env("NIGHTOWL_PR_SYNC_SCHEDULE"))
    # Pause between GitHub writes (GitHub's advice against secondary rate limits).
    github_write_interval: float = Field(
        1.0, ge=0, validation_alias=_env("NIGHTOWL_GITHUB_WRITE_INTERVAL_SECONDS"))

    @property
    def configured(self) -> bool:
        return self.github_token is not None


class OpenTelemetrySettings(BaseSettings):
    """The standard OpenTelemetry variables: the SDK reads them itself (bot/tracing.py);
    they are checked here so a wrong one is said at start, not lost in the exporter."""

    model_config = _COMMON
    otlp_endpoint: HttpUrl | None = Field(
        None, validation_alias=_env("OTEL_EXPORTER_OTLP_ENDPOINT"))
    service_name: OneLine = Field(
        "nightowl", validation_alias=_env("OTEL_SERVICE_NAME"))


_TEMPORAL_NAME = re.compile(r"[A-Za-z0-9._-]{1,255}")


class TemporalSettings(BaseSettings):
    """Durable execution on Temporal (docs/scaling-out.md). Unset address: in-process."""

    model_config = _COMMON
    address: str | None = Field(None, validation_alias=_env("TEMPORAL_ADDRESS"))
    namespace: str = Field("default", validation_alias=_env("TEMPORAL_NAMESPACE"))
    task_queue: str = Field("nightowl", validation_alias=_env("TEMPORAL_TASK_QUEUE"))
    # A worker silent for this long is presumed dead and its step retried elsewhere.
    heartbeat_timeout_seconds: float = Field(
        10.0, gt=0, validation_alias=_env("NIGHTOWL_TEMPORAL_HEARTBEAT_TIMEOUT_SECONDS"))

    @field_validator("address")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        host, _, port = value.rpartition(":")
        if "://" in value or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port of Temporal's frontend (e.g. "
                             "temporal:7233), not a URL")
        return value

    @field_validator("namespace", "task_queue")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _TEMPORAL_NAME.fullmatch(value):
            raise ValueError("must be a name of letters, digits, '.', '-' or '_' "
                             "(1 to 255 characters)")
        return value

    @property
    def configured(self) -> bool:
        return self.address is not None


class Settings(BaseSettings):
    model_config = _COMMON
    database_url: str = Field("sqlite:///./nightowl.db",
                              validation_alias=_env("NIGHTOWL_DATABASE_URL"))
    host: Host = Field("127.0.0.1",
                                                       validation_alias=_env("NIGHTOWL_HOST"))
    port: int = Field(8080, ge=1, le=65535, validation_alias=_env("NIGHTOWL_PORT"))
    log_level: LogLevel = Field(
        "INFO", validation_alias=_env("NIGHTOWL_LOG_LEVEL"))
    slack: SlackSettings = Field(default_factory=SlackSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    investigation: InvestigationSettings = Field(default_factory=InvestigationSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    sentry: SentrySettings = Field(default_factory=SentrySettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    authorization: AuthorizationSettings = Field(default_factory=AuthorizationSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    security_cases: SecurityCaseSettings = Field(default_factory=SecurityCaseSettings)
    security_detection: SecurityDetectionSettings = Field(
        default_factory=SecurityDetectionSettings)
    dev: DevSettings = Field(default_factory=DevSettings)
    opentelemetry: OpenTelemetrySettings = Field(default_factory=OpenTelemetrySettings)
    temporal: TemporalSettings = Field(default_factory=TemporalSettings)


# ---- reading it, with errors an operator can act on ------------------------------------------


class ConfigError(Exception):
    """A variable has a value nightowl cannot use; `str()` is one line per variable."""


def load_settings() -> Settings:
    """`Settings()`, with pydantic's reports rewritten as `VARIABLE: what is wrong (got ...)`,
    one line for every wrong variable (not only the first group's)."""
    try:
        return Settings()
    except (ValidationError, SettingsError) as exc:
        raise _every_error(exc) from None


def _every_error(first: ValidationError | SettingsError) -> ConfigError:
    """Each group of settings read on its own: a group's error stops `Settings()` before the
    others are read, and an operator fixing a copied .env wants the whole list at once."""
    groups: dict[str, type[BaseSettings]] = {
        name: field.default_factory for name, field in Settings.model_fields.items()
        if isinstance(field.default_factory, type)
        and issubclass(field.default_factory, BaseSettings)}
    lines: list[str] = []
    for group in groups.values():
        try:
            group()
        except (ValidationError, SettingsError) as exc:
            lines += str(config_error(exc)).splitlines()
    try:  # the top-level variables, with the groups given (already reported above)
        given: dict[str, Any] = {name: group.model_construct() for name, group in groups.items()}
        Settings(**given)
    except (ValidationError, SettingsError) as exc:
        lines += str(config_error(exc)).splitlines()
    unique = list(dict.fromkeys(lines))
    return ConfigError("\n".join(unique)) if unique else config_error(first)


def config_error(exc: ValidationError | SettingsError) -> ConfigError:
    """One line per variable, named as the operator wrote it."""
    if isinstance(exc, SettingsError):
        # pydantic-settings names the field, not the variable: 'error parsing value for field
        # "routes" from source "EnvSettingsSource"' (a JSON value that is not JSON).
        text = str(exc)
        field = text.split('field "', 1)[-1].split('"', 1)[0] if 'field "' in text else ""
        return ConfigError(f"{_variable_of(field)}: not valid JSON (see .env.example for the "
                           "expected shape)")
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]] or ["settings"]
        variable = _variable_of(loc[0])
        where = f" at {'.'.join(loc[1:])}" if len(loc) > 1 else ""
        got = error.get("input")
        shown = f" (got {_shown(variable, got)})" if isinstance(got, str | int | float) else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        # A check across variables (a key and its base URL) names its variable itself.
        named = re.match(r"([A-Z][A-Z0-9_]+): ", message)
        if named:
            variable, where, message = named.group(1), "", message[named.end():]
            shown = ""
        lines.append(f"{variable}{where}: {message}{shown}")
    return ConfigError("\n".join(lines))


def _shown(variable: str, value: object) -> str:
    secret = any(word in variable for word in ("TOKEN", "SECRET", "KEY", "PASSWORD"))
    return "a value that is hidden" if secret else repr(value)[:80]


def _given_names() -> set[str]:
    from dotenv import dotenv_values

    return {k for k, v in os.environ.items() if v} | {
        k for k, v in dotenv_values(".env").items() if v}


def _variable_of(name: str) -> str:
    """The environment variable behind a field name (or the name itself when it already is)."""
    for model in (Settings, *(f.default_factory for f in Settings.model_fields.values()
                              if isinstance(f.default_factory, type))):
        assert isinstance(model, type) and issubclass(model, BaseSettings)
        for field_name, field in model.model_fields.items():
            alias = field.validation_alias
            choices = alias.choices if isinstance(alias, AliasChoices) else []
            names = [str(c) for c in choices]
            if name == field_name or name in names:
                # A field read under several names (NIGHTOWL_GITHUB_SECURITY_TOKEN, else
                # GITHUB_TOKEN): the one the operator set.
                given = [n for n in names if n in _given_names()]
                return given[0] if given else names[0] if names else field_name
    return name
