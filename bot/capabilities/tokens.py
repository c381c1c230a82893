"""Bearer tokens for the REST API and the MCP server, with scopes.

`NIGHTOWL_API_TOKENS` holds a JSON list of `{"name", "token", "scopes"}`; operators' scripts
rely on that shape. A presented token is compared with every configured one in constant time
(over digests, so neither its length nor the position of the first differing byte shows in
the timing).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from bot.capabilities.errors import Forbidden, Unauthenticated

Scope = Literal["read", "write", "eval"]
SCOPES: tuple[Scope, ...] = ("read", "write", "eval")
NO_TOKENS = ("the API has no tokens configured: set NIGHTOWL_API_TOKENS to a JSON list of "
             '{"name": ..., "token": ..., "scopes": ["read", "write", "eval"]}')


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a configured token's name and what it may do."""

    name: str
    scopes: frozenset[str]

    @property
    def actor(self) -> str:
        """How audit events and thread notes name this caller."""
        return f"api:{self.name}"

    def require(self, scope: str, operation: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"token '{self.name}' lacks the '{scope}' scope that {operation} "
                            f"needs (it has: {', '.join(sorted(self.scopes)) or 'none'})")


@dataclass(frozen=True, slots=True)
class TokenSpec:
    name: str
    token: str
    scopes: tuple[str, ...]


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", errors="surrogatepass")).digest()


class TokenRegistry:
    def __init__(self, specs: Iterable[TokenSpec]) -> None:
        self._entries = [(_digest(s.token), Principal(s.name, frozenset(s.scopes)))
                         for s in specs]

    @property
    def configured(self) -> bool:
        return bool(self._entries)

    def verify(self, presented: str) -> Principal | None:
        digest = _digest(presented)
        found: Principal | None = None
        for expected, principal in self._entries:  # no early exit: every entry is compared
            if hmac.compare_digest(digest, expected):
                found = principal
        return found

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal behind an `Authorization: Bearer ...` header, or a refusal that
        says what is wrong."""
        if not self.configured:
            raise Unauthenticated(NO_TOKENS)
        if not authorization:
            raise Unauthenticated("missing bearer token: send 'Authorization: Bearer <token>'")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
        principal = self.verify(value.strip())
        if principal is None:
            raise Unauthenticated("unknown token")
        return principal
