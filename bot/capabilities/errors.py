"""What a capability refuses, and what the caller should do instead.

    CapabilityError            a request nightowl will not serve; `next_tool` names what to
    ├── Unauthenticated (401)  call instead, so an agent can recover on its own
    ├── Forbidden (403)
    ├── NotFoundError (404)
    ├── NotConfigured (409)    the deployment lacks what the request needs (telemetry, ...)
    └── InvalidArgument (422)

The MCP surface turns these into the SDK's `ToolError`, the REST surface into a JSON body
with the status above. Anything else escaping a capability is a bug.
"""

from __future__ import annotations


class CapabilityError(Exception):
    status = 400

    def __init__(self, message: str, *, next_tool: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.next_tool = next_tool

    def render(self) -> str:
        if self.next_tool:
            return f"{self.message} (next: call {self.next_tool})"
        return self.message


class Unauthenticated(CapabilityError):
    status = 401


class Forbidden(CapabilityError):
    status = 403


class NotFoundError(CapabilityError):
    status = 404


class NotConfigured(CapabilityError):
    status = 409


class InvalidArgument(CapabilityError):
    status = 422
