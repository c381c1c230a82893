"""`nightowl mcp`: the MCP server over stdio, for Claude Desktop, IDEs and other local agents.

The process acts as the token named by `NIGHTOWL_MCP_TOKEN`. Logs and the console surface
write to stderr: stdout carries the protocol. It does not resume what another process left
behind (that is `serve`'s job); notes and investigations it starts run in this process and
post through the same outbox as `serve`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from typing import Any

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    parser = sub.add_parser("mcp", help="serve nightowl's tools to an agent over MCP (stdio)",
                            description="Run the MCP server on stdin/stdout. Set "
                                        "NIGHTOWL_API_TOKENS and NIGHTOWL_MCP_TOKEN (the token "
                                        "this process acts as). Over HTTP, `nightowl serve` "
                                        "serves the same tools at /mcp.")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from bot.errors import StartupError
    from bot.mcp.server import build_mcp_server
    from bot.settings import Settings
    from bot.wiring import build

    settings = Settings()
    wiring = build(settings, console=sys.stderr)
    assert wiring.api is not None
    caps = wiring.api.caps
    local = None
    if settings.api.mcp_token is not None:
        local = caps.tokens.verify(settings.api.mcp_token.get_secret_value())
        if local is None:
            raise StartupError("NIGHTOWL_MCP_TOKEN is not one of the tokens in "
                               "NIGHTOWL_API_TOKENS")
    elif caps.tokens.configured:
        log.warning("NIGHTOWL_MCP_TOKEN is not set: every tool call will be refused")
    server = build_mcp_server(caps, local=local)

    async def run() -> None:
        try:
            await server.run_stdio_async()
        finally:
            with contextlib.suppress(TimeoutError):
                await wiring.service.idle(timeout=10)  # let queued thread notes go out
            await wiring.service.stop()
            wiring.store.close()

    asyncio.run(run())
    return 0
