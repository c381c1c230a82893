"""Builds the security event sources and the rule set from Settings (one entry point)."""

from __future__ import annotations

from pathlib import Path

from bot.setting_values import split_paths
from bot.settings import SecurityDetectionSettings
from integrations.security.sources.files import (
    cloudtrail_source,
    gcp_audit_source,
    json_source,
    workspace_source,
)
from integrations.security.sources.github import GitHubSecuritySource
from integrations.security.sources.okta import OktaSource
from integrations.security.types import SecuritySource

OWN_RULES = Path(__file__).resolve().parents[1] / "integrations" / "security" / "rules"


def build_security_sources(config: SecurityDetectionSettings) -> list[SecuritySource]:
    sources: list[SecuritySource] = []
    for paths, make in ((config.cloudtrail_paths, cloudtrail_source),
                        (config.gcp_audit_paths, gcp_audit_source),
                        (config.workspace_paths, workspace_source)):
        if paths:
            sources.append(make([Path(p).expanduser() for p in split_paths(paths)]))
    if config.json_paths:
        sources.append(json_source([Path(p).expanduser() for p in split_paths(config.json_paths)],
                                   log_type=config.json_log_type))
    if config.okta_url and config.okta_token is not None:
        sources.append(OktaSource(config.okta_url, token=config.okta_token.get_secret_value()))
    if config.github_org and config.github_token is not None:
        sources.append(GitHubSecuritySource(org=config.github_org,
                                            token=config.github_token.get_secret_value(),
                                            base_url=config.github_api_url,
                                            audit_log=config.github_audit_log))
    return sources


def rule_roots(config: SecurityDetectionSettings) -> list[Path]:
    roots = [OWN_RULES] if config.own_rules else []
    roots.extend(Path(p).expanduser() for p in config.rule_paths())
    return roots
