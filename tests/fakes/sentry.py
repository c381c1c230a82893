"""A local fake of the part of Sentry's Web API the error scan uses: the organisation's
issue list with hourly stats, paginated with Link headers, behind a bearer token."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


@dataclass
class FakeSentry:
    token: str
    org: str
    issues: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2
    requests: list[dict[str, str]] = field(default_factory=list)
    garbage: bool = False
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # issue id -> latest event

    def app(self) -> Starlette:
        async def issues(request: Request) -> Response:
            self.requests.append(dict(request.query_params))
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return JSONResponse({"detail": "Invalid token"}, status_code=401)
            if request.path_params["org"] != self.org:
                return JSONResponse({"detail": "The requested resource does not exist"},
                                    status_code=404)
            if self.garbage:
                return PlainTextResponse("<html>maintenance</html>")
            offset = int(request.query_params.get("cursor", "0:0:0").split(":")[1])
            page = self.issues[offset:offset + self.page_size]
            more = offset + self.page_size < len(self.issues)
            base = str(request.url).split("?")[0]
            link = (f'<{base}?cursor=0:{max(offset - self.page_size, 0)}:1>; rel="previous"; '
                    f'results="{"true" if offset else "false"}"; cursor="0:0:1", '
                    f'<{base}?cursor=0:{offset + self.page_size}:0>; rel="next"; '
                    f'results="{"true" if more else "false"}"; '
                    f'cursor="0:{offset + self.page_size}:0"')
            return JSONResponse(page, headers={"Link": link})

        async def latest(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return JSONResponse({"detail": "Invalid token"}, status_code=401)
            event = self.events.get(request.path_params["issue"])
            if event is None:
                return JSONResponse({"detail": "The requested resource does not exist"},
                                    status_code=404)
            return JSONResponse(event)

        return Starlette(routes=[
            Route("/api/0/organizations/{org}/issues/", issues),
            Route("/api/0/organizations/{org}/issues/{issue}/events/latest/", latest)])
