"""A local fake of the Slack Web API: records every call and answers like Slack does.

Channel names are resolved to ids (as Slack does in its answers), timestamps increase, and
`fail_next(method, status=429, retry_after=1)` makes the next call of a method fail.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    at: float


@dataclass
class FakeSlack:
    calls: list[Call] = field(default_factory=list)
    channels: dict[str, str] = field(default_factory=dict)
    failures: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    uploads: dict[str, bytes] = field(default_factory=dict)  # file id -> bytes received
    base_url: str = ""  # set by the test fixture: upload URLs point back at this server

    def __post_init__(self) -> None:
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)

    def fail_next(self, method: str, *, status: int = 429, retry_after: int = 1,
                  times: int = 1) -> None:
        self.failures.setdefault(method, []).extend([(status, retry_after)] * times)

    def of(self, method: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def channel_id(self, name: str) -> str:
        if name.startswith("C") and not name.startswith("#"):
            return name
        if name not in self.channels:
            self.channels[name] = f"C{next(self._ids):07d}"
        return self.channels[name]

    def app(self) -> Starlette:
        import time

        async def handle(request: Request) -> JSONResponse:
            method = request.path_params["method"]
            raw = await request.body()
            content_type = request.headers.get("content-type", "")
            if "json" in content_type:
                args = json.loads(raw or b"{}")
            else:
                args = dict(parse_qsl(raw.decode()))
                for key in ("blocks", "view", "metadata"):
                    if isinstance(args.get(key), str):
                        args[key] = json.loads(args[key])
            with self.lock:
                self.calls.append(Call(method, args, time.monotonic()))
                queued = self.failures.get(method)
                failure = queued.pop(0) if queued else None
            if failure is not None:
                status, retry_after = failure
                return JSONResponse({"ok": False, "error": "ratelimited"}, status_code=status,
                                    headers={"Retry-After": str(retry_after)})
            return JSONResponse(self.answer(method, args))

        async def upload(request: Request) -> JSONResponse:
            with self.lock:
                self.uploads[request.path_params["file_id"]] = await request.body()
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/api/{method}", handle, methods=["POST", "GET"]),
                                 Route("/upload/{file_id}", upload, methods=["POST"])])

    def answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1",
                    "user": "nightowl", "team": "test", "url": "https://test.slack.com/"}
        if method in ("chat.postMessage", "chat.update"):
            channel = self.channel_id(str(args.get("channel", "")))
            ts = args.get("ts") or f"{1700000000 + next(self._ts)}.000100"
            return {"ok": True, "channel": channel, "ts": ts,
                    "message": {"text": args.get("text", ""), "ts": ts}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ids):07d}"
            return {"ok": True, "file_id": file_id,
                    "upload_url": f"{self.base_url.rstrip('/')}/upload/{file_id}"}
        if method == "files.completeUploadExternal":
            files = args.get("files")
            if isinstance(files, str):
                files = json.loads(files)
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title", "")}
                                          for f in files or []]}
        if method == "views.publish" or method == "views.open":
            return {"ok": True, "view": {"id": "V1", **(args.get("view") or {})}}
        return {"ok": True}
