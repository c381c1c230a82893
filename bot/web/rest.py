"""The REST API (`/api/v1/...`): the same capabilities as the MCP server, for scripts.

Each route is declared once in `ROUTES` (method, path, operation, query/body model, answer
model); the handlers, the scope checks and the OpenAPI document (`/api/v1/openapi.json`) are
all made from that table, so the document cannot drift from what is served.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.capabilities import SCOPE_OF, Capabilities, CapabilityError, Principal
from bot.capabilities.errors import InvalidArgument
from bot.capabilities.views import (
    Accepted,
    ErrorBody,
    EvalRunPage,
    EvalRunView,
    FeedbackAdded,
    FindingPage,
    FindingView,
    IncidentDetail,
    IncidentPage,
    InvestigationDetail,
    InvestigationPage,
    LogsAnswer,
    MetricsAnswer,
    NoteAdded,
    PullRequestDetail,
    PullRequestOpened,
    PullRequestPage,
    SecurityCaseDetail,
    SecurityCasePage,
    TracesAnswer,
)

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
MAX_BODY_BYTES = 64 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Paging(_Strict):
    cursor: str | None = Field(None, max_length=512, description="next_cursor of the "
                                                                 "previous page")
    limit: int | None = Field(None, ge=1, le=100, description="rows per page (default 25)")


class IncidentQuery(Paging):
    status: Literal["open", "investigating", "diagnosed", "resolved"] | None = None
    service: str | None = Field(None, max_length=255)
    severity: Literal["critical", "high", "warning", "info"] | None = None
    channel: str | None = Field(None, max_length=255)
    since: datetime | None = Field(None, description="opened at or after (ISO 8601)")


class InvestigationQuery(Paging):
    incident_id: int | None = Field(None, ge=1)
    status: Literal["running", "done", "failed"] | None = None


class FindingQuery(Paging):
    source: str | None = Field(None, max_length=32)
    service: str | None = Field(None, max_length=255)
    kind: str | None = Field(None, max_length=16)


class TelemetryQuery(_Strict):
    service: str = Field(min_length=1, max_length=255)
    incident_id: int | None = Field(None, ge=1, description="the incident's telemetry and "
                                                            "window")
    minutes: int | None = Field(None, ge=1, le=1440, description="window ending now")


class MetricsQuery(TelemetryQuery):
    metric: str | None = Field(None, max_length=255)


class LogsQuery(TelemetryQuery):
    contains: str | None = Field(None, max_length=500)
    level: Literal["debug", "info", "warning", "error", "critical"] = "warning"
    limit: int = Field(50, ge=1, le=200)


class TracesQuery(TelemetryQuery):
    only_errors: bool = False
    min_duration_ms: float | None = Field(None, ge=0, allow_inf_nan=False)


class PullRequestQuery(Paging):
    state: Literal["open", "merged", "closed"] | None = None
    repository: str | None = Field(None, max_length=255)


class SecurityCaseQuery(Paging):
    status: Literal["open", "closed"] | None = None
    verdict: Literal["true_positive", "benign_true_positive", "false_positive",
                     "escalate"] | None = None


class StartInvestigation(_Strict):
    incident_id: int = Field(ge=1)
    idempotency_key: str | None = Field(None, min_length=1, max_length=255)


class NoteBody(_Strict):
    text: str = Field(min_length=1, max_length=3000)


class FeedbackBody(_Strict):
    verdict: Literal["up", "down", "wrong_cause"]
    correct_service: str | None = Field(None, max_length=255)
    comment: str | None = Field(None, max_length=3000)


class EvalBody(_Strict):
    suites: list[str] = Field(min_length=1, max_length=8)
    seed: int = Field(7, ge=0, le=1_000_000)
    idempotency_key: str | None = Field(None, min_length=1, max_length=255)


class OpenPullRequestBody(_Strict):
    incident_id: int | None = Field(None, ge=1, description="the incident whose thread "
                                                            "offers the pull request")
    finding_id: int | None = Field(None, ge=1, description="or the finding")
    action: Literal["revert", "code", "resource"] | None = Field(
        None, description="the kind offered (default: whatever the thread offers)")
    idempotency_key: str | None = Field(None, min_length=1, max_length=255)


class NoQuery(_Strict):
    pass


Handler = Callable[["Call"], Awaitable[BaseModel | str]]


@dataclass(frozen=True)
class Call:
    caps: Capabilities
    principal: Principal
    path: dict[str, int]
    query: Any
    body: Any


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    operation: str
    summary: str
    handler: Handler
    answer: type[BaseModel] | None  # None: Markdown text
    query: type[BaseModel] = NoQuery
    body: type[BaseModel] | None = None
    status: int = 200


def _change_incident(action: str) -> Handler:
    async def handle(c: Call) -> BaseModel:
        return await c.caps.records.change_incident(c.principal, c.path["incident_id"], action)
    return handle


def _routes() -> list[RouteSpec]:
    return [
        RouteSpec("GET", "/incidents", "list_incidents", "List incidents, newest first",
                  lambda c: c.caps.records.list_incidents(**c.query.model_dump()),
                  IncidentPage, IncidentQuery),
        RouteSpec("GET", "/incidents/{incident_id}", "get_incident", "One incident",
                  lambda c: c.caps.records.get_incident(c.path["incident_id"]),
                  IncidentDetail),
        RouteSpec("POST", "/incidents/{incident_id}/notes", "add_incident_note",
                  "Post a note in the incident's thread",
                  lambda c: c.caps.records.add_incident_note(
                      c.principal, c.path["incident_id"], c.body.text),
                  NoteAdded, body=NoteBody, status=202),
        *[RouteSpec("POST", f"/incidents/{{incident_id}}/{action}", f"{action}_incident",
                    f"{action.capitalize()} the incident (as the thread's button does)",
                    _change_incident(action), IncidentDetail)
          for action in ("acknowledge", "resolve", "reopen")],
        RouteSpec("GET", "/investigations", "list_investigations",
                  "List investigations, newest first",
                  lambda c: c.caps.records.list_investigations(**c.query.model_dump()),
                  InvestigationPage, InvestigationQuery),
        RouteSpec("POST", "/investigations", "start_investigation",
                  "Start an investigation (answers at once; poll the Location)",
                  lambda c: c.caps.records.start_investigation(
                      c.principal, c.body.incident_id,
                      idempotency_key=c.body.idempotency_key),
                  Accepted, body=StartInvestigation, status=202),
        RouteSpec("GET", "/investigations/{investigation_id}", "get_investigation",
                  "One investigation: causes, hypotheses, evidence",
                  lambda c: c.caps.records.get_investigation(c.path["investigation_id"]),
                  InvestigationDetail),
        RouteSpec("GET", "/investigations/{investigation_id}/report",
                  "get_investigation_report", "An investigation as Markdown",
                  lambda c: c.caps.records.investigation_report(c.path["investigation_id"]),
                  None),
        RouteSpec("POST", "/investigations/{investigation_id}/feedback", "add_feedback",
                  "Say whether the diagnosis was right",
                  lambda c: c.caps.records.add_feedback(
                      c.principal, c.path["investigation_id"], c.body.verdict,
                      correct_service=c.body.correct_service, comment=c.body.comment),
                  FeedbackAdded, body=FeedbackBody, status=201),
        RouteSpec("GET", "/telemetry/metrics", "query_metrics", "A service's metrics",
                  lambda c: c.caps.telemetry.query_metrics(**c.query.model_dump()),
                  MetricsAnswer, MetricsQuery),
        RouteSpec("GET", "/telemetry/logs", "search_logs", "A service's log lines",
                  lambda c: c.caps.telemetry.search_logs(**c.query.model_dump()),
                  LogsAnswer, LogsQuery),
        RouteSpec("GET", "/telemetry/traces", "search_traces", "A service's spans",
                  lambda c: c.caps.telemetry.search_traces(**c.query.model_dump()),
                  TracesAnswer, TracesQuery),
        RouteSpec("GET", "/findings", "list_findings", "Error findings, newest first",
                  lambda c: c.caps.records.list_findings(**c.query.model_dump()),
                  FindingPage, FindingQuery),
        RouteSpec("GET", "/findings/{finding_id}", "get_finding", "One finding",
                  lambda c: c.caps.records.get_finding(c.path["finding_id"]), FindingView),
        RouteSpec("GET", "/pull-requests", "list_pull_requests",
                  "The Dev agent's pull requests, newest first",
                  lambda c: c.caps.pulls.list_pull_requests(**c.query.model_dump()),
                  PullRequestPage, PullRequestQuery),
        RouteSpec("GET", "/pull-requests/{pull_request_id}", "get_pull_request",
                  "One pull request: suspects, verification, what it fixes",
                  lambda c: c.caps.pulls.get_pull_request(c.path["pull_request_id"]),
                  PullRequestDetail),
        RouteSpec("POST", "/pull-requests", "open_pull_request",
                  "Open the draft remediation PR an incident's or finding's thread offers "
                  "(the button's flow: policy guard, audit, thread)",
                  lambda c: c.caps.pulls.open_pull_request(
                      c.principal, incident_id=c.body.incident_id,
                      finding_id=c.body.finding_id, action=c.body.action,
                      idempotency_key=c.body.idempotency_key),
                  PullRequestOpened, body=OpenPullRequestBody),
        RouteSpec("GET", "/security-cases", "list_security_cases",
                  "Security cases, newest first",
                  lambda c: c.caps.security.list_security_cases(**c.query.model_dump()),
                  SecurityCasePage, SecurityCaseQuery),
        RouteSpec("GET", "/security-cases/{case_id}", "get_security_case",
                  "One security case: checklist, evidence, techniques, containment",
                  lambda c: c.caps.security.get_security_case(c.path["case_id"]),
                  SecurityCaseDetail),
        RouteSpec("GET", "/eval-runs", "list_eval_runs", "Benchmark runs, newest first",
                  lambda c: c.caps.evals.list_eval_runs(**c.query.model_dump()),
                  EvalRunPage, Paging),
        RouteSpec("POST", "/eval-runs", "run_eval", "Run the benchmark in the background",
                  lambda c: c.caps.evals.run_eval(c.principal, c.body.suites,
                                                  seed=c.body.seed,
                                                  idempotency_key=c.body.idempotency_key),
                  Accepted, body=EvalBody, status=202),
        RouteSpec("GET", "/eval-runs/{run_id}", "get_eval_result", "One benchmark run",
                  lambda c: c.caps.evals.get_eval_result(c.path["run_id"]), EvalRunView),
    ]


ROUTES = _routes()
MAX_ID = 2**63 - 1


def _error(status: int, message: str, next_tool: str | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(ErrorBody(error=message, next=next_tool).model_dump(mode="json"),
                        status_code=status, headers=headers)


def _path_ids(request: Request) -> dict[str, int]:
    ids = {}
    for name, raw in request.path_params.items():
        if not str(raw).isdigit() or not 1 <= int(raw) <= MAX_ID:
            raise InvalidArgument(f"{name} must be a positive integer, got {str(raw)[:40]!r}")
        ids[name] = int(raw)
    return ids


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


async def _body(request: Request, model: type[BaseModel]) -> BaseModel:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise InvalidArgument("send the body as application/json")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise InvalidArgument(f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidArgument(f"body is not JSON: {str(exc)[:200]}") from None
    return model.model_validate(data)


def _endpoint(spec: RouteSpec, caps: Capabilities) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            principal = caps.tokens.authenticate(request.headers.get("authorization"))
        except CapabilityError as exc:
            return _error(401, exc.render(), headers={"WWW-Authenticate": "Bearer"})
        try:
            caps.authorize(principal, spec.operation)
            query = spec.query.model_validate(dict(request.query_params))
            body = await _body(request, spec.body) if spec.body is not None else None
            answer = await spec.handler(Call(caps, principal, _path_ids(request), query, body))
        except CapabilityError as exc:
            return _error(exc.status, exc.render(), exc.next_tool)
        except ValidationError as exc:
            return _error(422, _validation_message(exc))
        if isinstance(answer, str):
            return PlainTextResponse(answer, media_type="text/markdown; charset=utf-8")
        headers = {}
        if isinstance(answer, Accepted):
            headers["Location"] = answer.location
        return JSONResponse(answer.model_dump(mode="json"), status_code=spec.status,
                            headers=headers)

    return endpoint


def openapi_document(public_url: str) -> dict[str, Any]:
    models: set[type[BaseModel]] = {ErrorBody}
    for spec in ROUTES:
        if spec.answer is not None:
            models.add(spec.answer)
        if spec.body is not None:
            models.add(spec.body)
    _, defs = models_json_schema([(m, "serialization" if m not in {s.body for s in ROUTES}
                                   else "validation") for m in sorted(models, key=str)],
                                 ref_template="#/components/schemas/{model}")
    schemas = defs.get("$defs", {})

    def ref(model: type[BaseModel]) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    error = {"description": "refused", "content": {"application/json": {"schema":
                                                                        ref(ErrorBody)}}}
    paths: dict[str, dict[str, Any]] = {}
    for spec in ROUTES:
        parameters: list[dict[str, Any]] = []
        for name in _path_names(spec.path):
            parameters.append({"name": name, "in": "path", "required": True,
                               "schema": {"type": "integer", "minimum": 1,
                                          "maximum": MAX_ID}})
        query_schema = spec.query.model_json_schema()
        required = set(query_schema.get("required", []))
        for name, schema in query_schema.get("properties", {}).items():
            description = schema.pop("description", None)
            schema.pop("title", None)
            parameter = {"name": name, "in": "query", "required": name in required,
                         "schema": schema}
            if description:
                parameter["description"] = description
            parameters.append(parameter)
        if spec.answer is None:
            content = {"text/markdown": {"schema": {"type": "string"}}}
        else:
            content = {"application/json": {"schema": ref(spec.answer)}}
        responses: dict[str, Any] = {str(spec.status): {"description": spec.summary,
                                                        "content": content}}
        for status in ("401", "403", "404", "409", "422"):
            responses[status] = error
        operation: dict[str, Any] = {
            "operationId": spec.operation, "summary": spec.summary,
            "description": f"Needs the '{SCOPE_OF[spec.operation]}' scope.",
            "parameters": parameters, "responses": responses,
            "security": [{"bearer": [SCOPE_OF[spec.operation]]}]}
        if spec.body is not None:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": ref(spec.body)}}}
        paths.setdefault(PREFIX + spec.path, {})[spec.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "nightowl API", "version": "1",
                 "description": "Incidents, investigations, telemetry, findings and "
                                "benchmarks. Tokens and scopes come from NIGHTOWL_API_TOKENS."},
        "servers": [{"url": public_url.rstrip("/")}],
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def rest_routes(caps: Capabilities, *, public_url: str) -> list[Route]:
    document = openapi_document(public_url)

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    routes = [Route(f"{PREFIX}/openapi.json", openapi, methods=["GET"])]
    for spec in ROUTES:
        routes.append(Route(PREFIX + spec.path, _endpoint(spec, caps), methods=[spec.method]))
    return routes
