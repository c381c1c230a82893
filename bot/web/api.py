"""The agent-first API as mounted in `nightowl serve`: the REST routes and MCP over HTTP,
over one set of capabilities."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from mcp.server.mcpserver import MCPServer
from starlette.routing import BaseRoute, Route

from bot.capabilities import Capabilities
from bot.mcp.http import mcp_http_app
from bot.mcp.server import build_mcp_server
from bot.web.rest import rest_routes
from storage.api import ApiStore


@dataclass
class ApiMount:
    routes: list[BaseRoute]
    caps: Capabilities
    mcp: MCPServer

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        await ApiStore.beside(self.caps.records.store).interrupt_eval_runs()
        async with self.mcp.session_manager.run():
            try:
                yield
            finally:
                await self.caps.evals.close()


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def build_api(caps: Capabilities, *, public_url: str, extra_hosts: str = "",
              extra_origins: str = "") -> ApiMount:
    public = urlsplit(public_url)
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", public.netloc, *_split(extra_hosts)]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*",
               f"{public.scheme}://{public.netloc}", *_split(extra_origins)]
    server = build_mcp_server(caps, http_public_url=public_url)
    mcp_app = mcp_http_app(server, registry=caps.tokens, public_url=public_url,
                           allowed_hosts=hosts, allowed_origins=origins)
    routes: list[BaseRoute] = list(rest_routes(caps, public_url=public_url))
    # Routes, not a Mount: the MCP app keeps its own paths and unknown paths stay 404 here.
    routes += [Route("/mcp", mcp_app),
               Route("/.well-known/oauth-protected-resource/mcp", mcp_app)]
    return ApiMount(routes=routes, caps=caps, mcp=server)
