"""What nightowl can do, as plain async functions: the one layer behind the MCP server and
the REST API (and the same work Slack's buttons do), so no capability exists in one surface
only. Surfaces authenticate the caller, check `SCOPE_OF[operation]`, call in here, and turn a
`CapabilityError` into their own error shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.capabilities.errors import CapabilityError
from bot.capabilities.evals import EvalRuns
from bot.capabilities.records import Records
from bot.capabilities.telemetry import TelemetryQueries
from bot.capabilities.tokens import Principal, TokenRegistry
from bot.capabilities.work import PullRequests, SecurityCases
from bot.service import Service
from integrations.telemetry.base import TelemetrySource
from storage.api import ApiStore

if TYPE_CHECKING:
    from bot.dev import DevService

# The scope each operation needs; both surfaces read this one table.
SCOPE_OF: dict[str, str] = {
    "list_incidents": "read", "get_incident": "read",
    "list_investigations": "read", "get_investigation": "read",
    "get_investigation_report": "read",
    "start_investigation": "write", "add_incident_note": "write", "add_feedback": "write",
    "acknowledge_incident": "write", "resolve_incident": "write", "reopen_incident": "write",
    "query_metrics": "read", "search_logs": "read", "search_traces": "read",
    "list_findings": "read", "get_finding": "read",
    "list_eval_runs": "read", "get_eval_result": "read", "run_eval": "eval",
    "list_security_cases": "read", "get_security_case": "read",
    "list_pull_requests": "read", "get_pull_request": "read", "open_pull_request": "write",
}


@dataclass
class Capabilities:
    records: Records
    telemetry: TelemetryQueries
    evals: EvalRuns
    security: SecurityCases
    pulls: PullRequests
    tokens: TokenRegistry

    @classmethod
    def build(cls, *, service: Service, tokens: TokenRegistry,
              default_telemetry: TelemetrySource | None, slack_url: str | None,
              public_url: str, dev: DevService | None = None) -> Capabilities:
        api_store = ApiStore.beside(service.store)
        records = Records(service=service, api_store=api_store, slack_url=slack_url,
                          public_url=public_url)
        return cls(
            records=records,
            telemetry=TelemetryQueries(service=service, default_source=default_telemetry),
            evals=EvalRuns(api_store=api_store, public_url=public_url),
            security=SecurityCases(api_store=api_store, records=records),
            pulls=PullRequests(api_store=api_store, records=records, dev=dev),
            tokens=tokens)

    def authorize(self, principal: Principal, operation: str) -> None:
        principal.require(SCOPE_OF[operation], operation)


__all__ = ["SCOPE_OF", "Capabilities", "CapabilityError", "Principal", "TokenRegistry"]
