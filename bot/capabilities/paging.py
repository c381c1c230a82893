"""Bounded answers: pages with opaque cursors, CSV tables, and a character budget.

An agent's context is the scarce resource, so no answer may exceed about 4,000 tokens
(`BUDGET_CHARS`, at a conservative three characters a token, with room for the envelope).
Listings are paged newest first; a cursor carries the last id it showed and a fingerprint
of the query it belongs to, so a cursor handed to a different query is refused instead of
silently paging the wrong thing.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from bot.capabilities.errors import InvalidArgument

BUDGET_CHARS = 11_500
DEFAULT_LIMIT = 25
MAX_LIMIT = 100

T = TypeVar("T")


def query_fingerprint(operation: str, filters: Mapping[str, Any]) -> str:
    canonical = json.dumps({"op": operation, **{k: v for k, v in filters.items()
                                                if v not in (None, "")}},
                           sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(fingerprint: str, last_id: int) -> str:
    raw = json.dumps({"q": fingerprint, "before": last_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, fingerprint: str, operation: str) -> int | None:
    """The id to page before, from a cursor this same query issued."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        before = data["before"]
        query = data["q"]
    except (ValueError, KeyError, TypeError, UnicodeEncodeError) as exc:
        raise InvalidArgument(f"cursor is not one nightowl issued ({type(exc).__name__})",
                              next_tool=f"{operation} without a cursor") from exc
    if query != fingerprint:
        raise InvalidArgument("cursor belongs to a different query (other filters); page "
                              "with the filters it was issued for",
                              next_tool=f"{operation} without a cursor")
    if not isinstance(before, int) or isinstance(before, bool) or before < 0:
        raise InvalidArgument("cursor is damaged", next_tool=f"{operation} without a cursor")
    return before


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit


def fit(items: Sequence[T], size: Callable[[T], int], *, budget: int = BUDGET_CHARS,
        ) -> list[T]:
    """The longest prefix of `items` whose rendered size stays within `budget` (always at
    least one item, so a page makes progress)."""
    kept: list[T] = []
    used = 0
    for item in items:
        cost = size(item)
        if kept and used + cost > budget:
            break
        kept.append(item)
        used += cost
    return kept


def to_csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()
