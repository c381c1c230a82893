"""A local fake of the Slack Web API: records every call and answers like Slack does.

Channel names are resolved to ids (as Slack does in its answers), timestamps increase, and
`fail_next(method, status=429, retry_after=1)` makes the next call of a method fail.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
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
    # Who is where: channel id or name -> user ids (`conversations.members`,
    # `users.conversations`); a channel not listed has `default_members`.
    members: dict[str, list[str]] = field(default_factory=dict)
    default_members: list[str] = field(default_factory=list)
    usergroups: dict[str, list[str]] = field(default_factory=dict)  # S... -> user ids
    admins: set[str] = field(default_factory=set)  # workspace admins (`users.info`)
    # Every message posted, per channel id, as `conversations.history` / `.replies` show it.
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # `accept_then_fail`: the call is carried out, then answered with an error status.
    accept_failures: dict[str, list[int]] = field(default_factory=dict)
    # Called after a message is kept and before the answer goes out (e.g. to SIGKILL the
    # caller so that the answer never arrives).
    on_post: Callable[[dict[str, Any]], None] | None = None
    # Timestamps from the clock (as Slack's are) rather than 1700000001.000100, 2, ...:
    # needed where `oldest` matters (looking a message up by its metadata).
    clock_ts: bool = False
    refuse_tokens: set[str] = field(default_factory=set)  # auth.test answers invalid_auth
    # `fail_with_page`: the next call(s) answered by a proxy's page, not Slack's JSON.
    pages: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)

    def fail_next(self, method: str, *, status: int = 429, retry_after: int = 1,
                  times: int = 1) -> None:
        self.failures.setdefault(method, []).extend([(status, retry_after)] * times)

    def fail_with_page(self, method: str, *, status: int = 502, content_type: str = "text/html",
                       body: str = "<html><body>502 Bad Gateway</body></html>",
                       times: int = 1) -> None:
        """The next call(s) of `method` answered as a load balancer or proxy in front of
        Slack does: an error page, not JSON (the call is not carried out)."""
        self.pages.setdefault(method, []).extend([(status, content_type, body)] * times)

    def _new_ts(self) -> str:
        if not self.clock_ts:
            return f"{1700000000 + next(self._ts)}.000100"
        import time

        with self.lock:
            self._last = max(getattr(self, "_last", 0.0) + 0.000001, time.time())
            return f"{self._last:.6f}"

    def accept_then_fail(self, method: str, *, status: int = 500, times: int = 1) -> None:
        """Slack keeps what the next call(s) of `method` did, but the answer is an error."""
        self.accept_failures.setdefault(method, []).extend([status] * times)

    def roots(self) -> list[dict[str, Any]]:
        return [m for ms in self.messages.values() for m in ms if not m.get("thread_ts")]

    def replies(self) -> list[dict[str, Any]]:
        return [m for ms in self.messages.values() for m in ms if m.get("thread_ts")]

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

        async def handle(request: Request) -> Response:
            method = request.path_params["method"]
            raw = await request.body()
            content_type = request.headers.get("content-type", "")
            if "json" in content_type:
                args = json.loads(raw or b"{}")
            else:  # form-encoded; GET methods send their arguments in the query string
                args = dict(parse_qsl(raw.decode()))
            if not isinstance(args, dict):
                args = {}
            args = {**dict(request.query_params), **args}
            for key in ("blocks", "view", "metadata"):
                if isinstance(args.get(key), str):
                    args[key] = json.loads(args[key])
            with self.lock:
                self.calls.append(Call(method, args, time.monotonic()))
                queued = self.failures.get(method)
                failure = queued.pop(0) if queued else None
                pages = self.pages.get(method)
                page = pages.pop(0) if pages else None
            if page is not None:
                return Response(page[2], status_code=page[0], media_type=page[1])
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            if token in self.refuse_tokens:
                return JSONResponse({"ok": False, "error": "invalid_auth"})
            if failure is not None:
                status, retry_after = failure
                return JSONResponse({"ok": False, "error": "ratelimited"}, status_code=status,
                                    headers={"Retry-After": str(retry_after)})
            answer = self.answer(method, args)
            with self.lock:
                queued_status = self.accept_failures.get(method)
                accepted_failure = queued_status.pop(0) if queued_status else None
            if accepted_failure is not None:
                return JSONResponse({"ok": False, "error": "internal_error"},
                                    status_code=accepted_failure)
            return JSONResponse(answer)

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
            ts = args.get("ts") or self._new_ts()
            if method == "chat.postMessage":
                metadata = args.get("metadata")
                message = {"ts": ts, "text": args.get("text", ""),
                           "thread_ts": args.get("thread_ts"),
                           "metadata": json.loads(metadata) if isinstance(metadata, str)
                           else metadata}
                with self.lock:
                    self.messages.setdefault(channel, []).append(message)
                if self.on_post is not None:
                    self.on_post(message)
            return {"ok": True, "channel": channel, "ts": ts,
                    "message": {"text": args.get("text", ""), "ts": ts}}
        if method in ("conversations.history", "conversations.replies"):
            channel = str(args.get("channel", ""))
            oldest = float(args.get("oldest") or 0)
            with self.lock:
                kept = list(self.messages.get(channel, []))
            if method == "conversations.replies":
                kept = [m for m in kept if args.get("ts") in (m["ts"], m.get("thread_ts"))]
            else:
                kept = [m for m in kept if not m.get("thread_ts")]
            shown = [{"ts": m["ts"], "text": m["text"],
                      **({"metadata": m["metadata"]} if m.get("metadata") and
                         str(args.get("include_all_metadata")).lower() in ("1", "true")
                         else {})}
                     for m in kept if float(m["ts"]) >= oldest]
            return {"ok": True, "messages": shown[::-1] if method.endswith("history")
                    else shown, "has_more": False, "response_metadata": {"next_cursor": ""}}
        if method == "conversations.list":
            return {"ok": True, "channels": [{"id": cid, "name": name.lstrip("#")}
                                             for name, cid in self.channels.items()],
                    "response_metadata": {"next_cursor": ""}}
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
        if method == "conversations.members":
            channel = str(args.get("channel", ""))
            names = [n for n, i in self.channels.items() if i == channel]
            found = next((self.members[c] for c in [channel, *names] if c in self.members),
                         self.default_members)
            return {"ok": True, "members": list(found),
                    "response_metadata": {"next_cursor": ""}}
        if method == "users.conversations":
            user = str(args.get("user", ""))
            known = set(self.members) | set(self.channels)
            listed = []
            for channel in sorted(known):
                members = self.members.get(channel, self.default_members)
                if user in members:
                    name = channel.lstrip("#") if channel.startswith("#") else None
                    listed.append({"id": self.channel_id(channel), **({"name": name}
                                                                      if name else {})})
            return {"ok": True, "channels": listed, "response_metadata": {"next_cursor": ""}}
        if method == "usergroups.users.list":
            group = str(args.get("usergroup", ""))
            if group not in self.usergroups:
                return {"ok": False, "error": "no_such_subteam"}
            return {"ok": True, "users": list(self.usergroups[group])}
        if method == "users.info":
            user = str(args.get("user", ""))
            return {"ok": True, "user": {"id": user, "is_admin": user in self.admins,
                                         "is_owner": False}}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{1700000000 + next(self._ts)}.000200"}
        if method == "views.publish" or method == "views.open":
            return {"ok": True, "view": {"id": "V1", **(args.get("view") or {})}}
        return {"ok": True}
