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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from bot.capabilities.errors import InvalidArgument
from bot.capabilities.views import Page

BUDGET_CHARS = 11_500
DEFAULT_LIMIT = 25
MAX_LIMIT = 100

T = TypeVar("T")
Row = TypeVar("Row")
PageT = TypeVar("PageT", bound=Page)


class _Item(Protocol):
    id: int

    def model_dump_json(self) -> str: ...


Item = TypeVar("Item", bound=_Item)


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


async def paged(page: type[PageT], operation: str, filters: Mapping[str, Any], *,
                cursor: str | None, limit: int | None,
                fetch: Callable[[int | None, int], Awaitable[Sequence[Row]]],
                view: Callable[[Row], Item]) -> PageT:
    """One page of a listing: `fetch(before_id, n)` reads up to n rows newest first, `view`
    renders one. A row more than the page is read to know whether another page follows; a
    page cut short by the character budget also gets a cursor, so nothing is skipped."""
    fingerprint = query_fingerprint(operation, filters)
    size = check_limit(limit)
    before = decode_cursor(cursor, fingerprint, operation)
    rows = await fetch(before, size + 1)
    items = fit([view(r) for r in rows[:size]], lambda v: len(v.model_dump_json()))
    more = len(rows) > len(items)
    return page(items=items, next_cursor=encode_cursor(fingerprint, items[-1].id)
                if more and items else None)
