"""A local fake of GitHub's organisation audit log and security-alert REST endpoints.

`GET /orgs/{org}` (PyGithub reads it first), `GET /orgs/{org}/audit-log` (the `phrase`
`created:A..B` and `actor:X` qualifiers, `order`, `per_page`/`page`, `Link` next),
`GET /orgs/{org}/{dependabot,secret-scanning,code-scanning}/alerts` (`sort=updated`,
`direction`, `per_page`/`page`, `Link` next). A wrong token gets 401 with GitHub's body;
`disabled` kinds answer 403 as GitHub does when Advanced Security is off; `down` answers 503.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

KIND_PATHS = {
    "dependabot": "dependabot",
    "secret-scanning": "secret_scanning",
    "code-scanning": "code_scanning",
}


@dataclass
class FakeGitHubSecurity:
    org: str = "acme"
    token: str = "gh-test-token"
    audit: list[dict[str, Any]] = field(default_factory=list)
    alerts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    down: bool = False
    requests: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/orgs/{org}", self.org_info),
                Route("/orgs/{org}/audit-log", self.audit_log),
                Route("/orgs/{org}/{kind}/alerts", self.list_alerts),
            ]
        )

    def _check(self, request: Request) -> Response | None:
        self.requests.append(str(request.url))
        if self.down:
            return JSONResponse({"message": "Service Unavailable"}, 503)
        auth = request.headers.get("authorization", "")
        if auth not in (f"token {self.token}", f"Bearer {self.token}"):
            return JSONResponse(
                {"message": "Bad credentials", "documentation_url": "https://docs.github.com"},
                401,
            )
        if request.path_params.get("org") != self.org:
            return JSONResponse({"message": "Not Found"}, 404)
        return None

    def _page(self, request: Request, rows: list[dict[str, Any]]) -> Response:
        per_page = int(request.query_params.get("per_page", "30"))
        page = int(request.query_params.get("page", "1"))
        chunk = rows[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(rows):
            nxt = request.url.include_query_params(page=str(page + 1))
            headers["Link"] = f'<{nxt}>; rel="next"'
        return JSONResponse(chunk, headers=headers)

    async def org_info(self, request: Request) -> Response:
        if (refused := self._check(request)) is not None:
            return refused
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {"login": self.org, "id": 1, "url": f"{base}/orgs/{self.org}", "type": "Organization"}
        )

    async def audit_log(self, request: Request) -> Response:
        if (refused := self._check(request)) is not None:
            return refused
        phrase = request.query_params.get("phrase", "")
        rows = list(self.audit)
        window = re.search(r"created:(\S+)\.\.(\S+)", phrase)
        if window:
            lo, hi = window.group(1), window.group(2)
            rows = [r for r in rows if lo <= r["created_at"] <= hi]
        actor = re.search(r"actor:(\S+)", phrase)
        if actor:
            rows = [r for r in rows if r.get("actor") == actor.group(1)]
        rows.sort(key=lambda r: r["@timestamp"], reverse=request.query_params.get("order") != "asc")
        return self._page(request, rows)

    async def list_alerts(self, request: Request) -> Response:
        if (refused := self._check(request)) is not None:
            return refused
        kind = KIND_PATHS.get(request.path_params["kind"])
        if kind is None:
            return JSONResponse({"message": "Not Found"}, 404)
        if kind in self.disabled:
            return JSONResponse(
                {"message": "Advanced Security must be enabled for this repository"}, 403
            )
        rows = list(self.alerts.get(kind, []))
        key = "updated_at" if request.query_params.get("sort") == "updated" else "created_at"
        rows.sort(key=lambda a: a[key], reverse=request.query_params.get("direction") != "asc")
        return self._page(request, rows)


def alert(
    number: int, *, repo: str, updated_at: str, state: str = "open", **extra: Any
) -> dict[str, Any]:
    body = {
        "number": number,
        "state": state,
        "created_at": updated_at,
        "updated_at": updated_at,
        "url": f"https://api.github.invalid/repos/{repo}/alerts/{number}",
        "html_url": f"https://github.invalid/{repo}/security/{number}",
        "repository": {"id": 7, "name": repo.split("/")[1], "full_name": repo},
    }
    body.update(extra)
    return body
