"""MCP over streamable HTTP, mounted at `/mcp` in `nightowl serve`: stateless, JSON answers,
bearer tokens from `NIGHTOWL_API_TOKENS`.

The SDK's own middleware answers a missing or unknown token with 401 and a
`WWW-Authenticate` header pointing at the protected resource metadata
(`/.well-known/oauth-protected-resource/mcp`). In front of it, `ScopeGate` answers what the
SDK cannot know: that no token is configured at all (401 naming the variable), and that a
`tools/call` needs a scope the token lacks (403 `insufficient_scope`, naming the scope, as
the MCP authorization spec's step-up flow expects).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.capabilities import SCOPE_OF
from bot.capabilities.tokens import NO_TOKENS, TokenRegistry

MAX_BODY_BYTES = 1024 * 1024


class RegistryVerifier:
    """The SDK's `TokenVerifier` over our static tokens."""

    def __init__(self, registry: TokenRegistry) -> None:
        self.registry = registry

    async def verify_token(self, token: str) -> AccessToken | None:
        principal = self.registry.verify(token)
        if principal is None:
            return None
        # The token itself is not kept: tools only need who it is and what it may do.
        return AccessToken(token="-", client_id=principal.name, scopes=sorted(principal.scopes))


class ScopeGate:
    def __init__(self, app: ASGIApp, *, registry: TokenRegistry, metadata_url: str) -> None:
        self.app = app
        self.registry = registry
        self.metadata_url = metadata_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].rstrip("/").endswith("/mcp"):
            await self.app(scope, receive, send)
            return
        if not self.registry.configured:
            await JSONResponse({"error": NO_TOKENS}, status_code=401, headers={
                "WWW-Authenticate": f'Bearer error="invalid_token", error_description='
                                    f'"no API tokens configured", resource_metadata='
                                    f'"{self.metadata_url}"'})(scope, receive, send)
            return
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, too_big = await _read(receive)
        if too_big:
            await JSONResponse({"error": f"body larger than {MAX_BODY_BYTES} bytes"},
                               status_code=413)(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        principal = None
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            principal = self.registry.verify(auth[7:].strip())
        missing = _missing_scopes(body, principal.scopes if principal else None)
        if missing:
            tool, needed = missing
            await JSONResponse(
                {"error": f"token lacks the '{needed}' scope that {tool} needs"},
                status_code=403,
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", '
                                             f'scope="{needed}", resource_metadata='
                                             f'"{self.metadata_url}"'})(scope, receive, send)
            return
        await self.app(scope, _replay(body), send)


async def _read(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), False


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def _missing_scopes(body: bytes, scopes: frozenset[str] | None) -> tuple[str, str] | None:
    """(tool, scope) when a known principal calls a tool its token may not; an unknown
    principal is left to the SDK's 401, and anything unparseable to the SDK's own errors."""
    if scopes is None:
        return None
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    calls = payload if isinstance(payload, list) else [payload]
    for call in calls:
        if not isinstance(call, dict) or call.get("method") != "tools/call":
            continue
        params = call.get("params")
        name = params.get("name") if isinstance(params, dict) else None
        needed = SCOPE_OF.get(name) if isinstance(name, str) else None
        if needed is not None and needed not in scopes:
            return str(name), needed
    return None


def auth_settings(public_url: str) -> AuthSettings:
    base = public_url.rstrip("/")
    # Static tokens have no audience to check: the registry is the whole truth.
    return AuthSettings(issuer_url=base, resource_server_url=f"{base}/mcp",  # type: ignore[arg-type]
                        required_scopes=[], validate_token_resource=False)


def mcp_http_app(server: MCPServer, *, registry: TokenRegistry, public_url: str,
                 allowed_hosts: Sequence[str], allowed_origins: Sequence[str]) -> ASGIApp:
    """The ASGI app serving `/mcp` and its protected resource metadata, for a server built
    with `build_mcp_server(..., http=...)`. Run `server.session_manager.run()` in the host
    application's lifespan."""
    app: Starlette = server.streamable_http_app(
        json_response=True, stateless_http=True,
        transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=list(allowed_hosts),
            allowed_origins=list(allowed_origins)))
    metadata_url = f"{public_url.rstrip('/')}/.well-known/oauth-protected-resource/mcp"
    return ScopeGate(app, registry=registry, metadata_url=metadata_url)
