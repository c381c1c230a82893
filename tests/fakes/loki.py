"""A local fake of Loki's query API over a list of log lines, optionally held or broken.

`hold` makes every query wait until it is set (to catch a process mid-scan); `broken` makes
queries answer 500, to exercise failing sources.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class LogRecord:
    ts: float
    service: str
    level: str
    message: str


@dataclass
class FakeLoki:
    lines: list[LogRecord] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    hold: threading.Event | None = None
    broken: bool = False

    def app(self) -> Starlette:
        async def query_range(request: Request) -> JSONResponse:
            query = request.query_params["query"]
            self.queries.append(query)
            if self.hold is not None:
                while not self.hold.is_set():
                    await asyncio.sleep(0.05)
            if self.broken:
                return JSONResponse({"error": "ingester unavailable"}, status_code=500)
            start = int(request.query_params["start"]) / 1e9
            end = int(request.query_params["end"]) / 1e9
            service = query.split('"')[1]
            values = [[str(int(r.ts * 1e9)), json.dumps({"level": r.level, "msg": r.message})]
                      for r in self.lines
                      if r.service == service and start <= r.ts <= end]
            result = [{"stream": {"service": service}, "values": values}] if values else []
            return JSONResponse({"status": "success",
                                 "data": {"resultType": "streams", "result": result}})

        async def labels(request: Request) -> JSONResponse:
            return JSONResponse({"status": "success",
                                 "data": sorted({r.service for r in self.lines})})

        return Starlette(routes=[Route("/loki/api/v1/query_range", query_range),
                                 Route("/loki/api/v1/label/service/values", labels)])
