"""`POST /slack/events` in HTTP mode: the signature is checked before anything else.

Bolt's own handler reads the whole body and parses it before its verification middleware
runs, so an unsigned 64 MiB body was read whole and a malformed one answered 500. Here the
body is read up to `max_body_bytes` while it streams (413 beyond), the signature and its
timestamp are verified on the raw bytes (401), and only then does Bolt see it. A signed
request Bolt cannot handle is kept as a dead letter and answered 400, never 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger(__name__)

MAX_SLACK_BODY = 256 * 1024  # Slack's payloads are a few KiB; a modal's state at most tens

ReadBody = Callable[[Request, int], Awaitable[bytes]]
DeadLetter = Callable[[str, str, bytes, str], Awaitable[int | None]]


def slack_events_endpoint(bolt: AsyncApp, *, signing_secret: str, read_body: ReadBody,
                          dead_letter: DeadLetter,
                          max_body_bytes: int = MAX_SLACK_BODY
                          ) -> Callable[[Request], Awaitable[Response]]:
    verifier = SignatureVerifier(signing_secret)

    async def endpoint(request: Request) -> Response:
        try:
            body = await read_body(request, max_body_bytes)
        except ValueError:
            return JSONResponse({"error": f"body larger than {max_body_bytes} bytes"},
                                status_code=413)
        if not _signed(verifier, request, body):
            return JSONResponse({"error": "invalid or missing Slack signature"},
                                status_code=401)
        content_type = request.headers.get("content-type", "")
        try:
            text = body.decode("utf-8")
            response = await bolt.async_dispatch(AsyncBoltRequest(
                body=text, query=dict(request.query_params), headers=dict(request.headers)))
        except Exception as exc:
            log.warning("a signed Slack request could not be handled", exc_info=True)
            dead_id = await dead_letter("slack", f"could not be handled: {exc!r}"[:500], body,
                                        content_type)
            return JSONResponse({"error": "the request could not be handled",
                                 "dead_letter_id": dead_id}, status_code=400)
        if response.status >= 500:
            dead_id = await dead_letter("slack", f"Bolt answered {response.status}: "
                                                 f"{response.body[:300]}", body, content_type)
            return JSONResponse({"error": "the request could not be handled",
                                 "dead_letter_id": dead_id}, status_code=400)
        return to_starlette_response(response)

    return endpoint


def _signed(verifier: SignatureVerifier, request: Request, body: bytes) -> bool:
    timestamp = request.headers.get("x-slack-request-timestamp")
    signature = request.headers.get("x-slack-signature")
    if not timestamp or not signature or not signature.isascii():
        return False
    try:
        return verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
    except (ValueError, TypeError, OverflowError):  # a timestamp that is not a number, ...
        return False
