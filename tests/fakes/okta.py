"""A local fake of Okta's System Log API (`GET /api/v1/logs`).

Speaks the real wire format: `since`/`until`/`limit`/`after` query parameters, `filter` on
`actor.alternateId eq "..."`, `Link: <...>; rel="next"` pagination with an opaque cursor,
`X-Rate-Limit-Limit/-Remaining/-Reset` headers, 429 when the budget is spent, and 401 for a
wrong `SSWS` token. `down` answers 503 to everything.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class FakeOkta:
    token: str = "okta-test-token"
    events: list[dict[str, Any]] = field(default_factory=list)
    budget_per_window: int = 1000  # requests until a 429
    remaining: int = 1000
    reset_in: float = 0.0
    down: bool = False
    requests: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/api/v1/logs", self.logs)])

    def _rate_headers(self) -> dict[str, str]:
        return {
            "X-Rate-Limit-Limit": str(self.budget_per_window),
            "X-Rate-Limit-Remaining": str(max(self.remaining, 0)),
            "X-Rate-Limit-Reset": str(int(time.time() + self.reset_in)),
        }

    async def logs(self, request: Request) -> Response:
        self.requests.append(str(request.url))
        if self.down:
            return JSONResponse({"errorCode": "E0000009", "errorSummary": "down"}, 503)
        if request.headers.get("authorization") != f"SSWS {self.token}":
            return JSONResponse(
                {"errorCode": "E0000011", "errorSummary": "Invalid token provided"}, 401
            )
        if self.remaining <= 0:
            self.remaining = self.budget_per_window  # the window resets after the 429
            return JSONResponse(
                {"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit"},
                429,
                headers={**self._rate_headers(), "X-Rate-Limit-Remaining": "0"},
            )
        self.remaining -= 1
        q = request.query_params
        since, until = q.get("since", ""), q.get("until", "~")
        limit = int(q.get("limit", "100"))
        after = int(q.get("after", "0"))
        rows = [e for e in self.events if since <= e["published"] < until]
        wanted = re.match(r'actor\.alternateId eq "(.*)"$', q.get("filter", ""))
        if wanted:
            rows = [e for e in rows if e["actor"]["alternateId"] == wanted.group(1)]
        rows.sort(key=lambda e: e["published"])
        page = rows[after : after + limit]
        headers = self._rate_headers()
        links = [f'<{request.url}>; rel="self"']
        if after + limit < len(rows):
            nxt = request.url.include_query_params(after=str(after + limit))
            links.append(f'<{nxt}>; rel="next"')
        headers["Link"] = ", ".join(links)
        return JSONResponse(page, headers=headers)


def okta_event(i: int, published: str, event_type: str, user: str) -> dict[str, Any]:
    return {
        "uuid": f"uuid-{i}",
        "published": published,
        "eventType": event_type,
        "displayMessage": event_type,
        "severity": "INFO",
        "actor": {"id": f"00u{i}", "type": "User", "alternateId": user},
        "client": {
            "ipAddress": "198.51.100.9",
            "userAgent": {"rawUserAgent": "Mozilla/5.0"},
            "geographicalContext": {"country": "France"},
        },
        "outcome": {"result": "SUCCESS"},
        "target": [{"id": "00uX", "type": "User", "alternateId": "victim@corp.example"}],
    }
