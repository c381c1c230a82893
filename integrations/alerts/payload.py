"""Parsing a webhook body that anyone could have written: limits first, then JSON, then text
the database can store.

`parse(body)` refuses, before the JSON parser sees them, bodies nested deeper than
`MAX_DEPTH` (Python's parser would recurse until it overflows); while parsing, numbers
longer than `MAX_NUMBER_CHARS` (an int of more than 4,300 digits raises deep inside Python,
and a long one costs quadratic time), non-finite floats (`1e400`) and `NaN` / `Infinity`.
Every refusal is a `PayloadError` saying what was wrong, so the caller answers 400 and keeps
the body as a dead letter.

Strings the database cannot store (NUL, which PostgreSQL's text refuses, and lone UTF-16
surrogates, which no UTF-8 database can encode) are replaced by U+FFFD; `Parsed.cleaned`
says so, and the caller keeps the body as received next to the cleaned alerts.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from integrations.errors import PayloadError

MAX_DEPTH = 64
MAX_NUMBER_CHARS = 100
REPLACEMENT = "\ufffd"

_ESCAPE = re.compile(rb"\\.", re.DOTALL)  # a backslash and what it escapes
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
# A NUL or a surrogate can only come from a \u escape (raw ones are not valid JSON text).
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Parsed:
    payload: Any
    cleaned: bool  # some text was replaced so that the database can store it


class _Refused(ValueError):
    pass


def parse(body: bytes, *, max_depth: int = MAX_DEPTH) -> Parsed:
    check_depth(body, max_depth=max_depth)
    try:
        payload = json.loads(body, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except _Refused as exc:
        raise PayloadError(str(exc)) from exc
    except RecursionError as exc:  # a guard behind the depth check, never expected
        raise PayloadError(f"JSON nested too deeply (over {max_depth} levels)") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PayloadError(f"malformed JSON: {exc}") from exc
    if not _UNSTORABLE_ESCAPE.search(body):
        return Parsed(payload, cleaned=False)
    return Parsed(clean(payload), cleaned=True)


def check_depth(body: bytes, *, max_depth: int = MAX_DEPTH) -> None:
    """Refuse nesting deeper than `max_depth`, counting brackets outside strings.

    Bytes operations only, each short: a regex over a multi-megabyte body holds the GIL
    for tens of milliseconds in one go, stalling the event loop while a worker checks a big
    delivery. Escapes are dropped first (so every quote left opens or closes a string), then
    all but brackets and quotes; what lies between every other quote is inside a string."""
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return
    unescaped = _ESCAPE.sub(b"", body) if b"\\" in body else body
    brackets = b"".join(unescaped.translate(None, _NOT_STRUCTURE).split(b'"')[0::2])
    depth = 0
    for byte in brackets:
        if byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > max_depth:
                raise PayloadError(f"JSON nested too deeply (over {max_depth} levels)")
        else:
            depth -= 1


def clean(value: Any) -> Any:
    """`value` with NUL and lone surrogates replaced in every string, keys included."""
    if isinstance(value, str):
        return _UNSTORABLE.sub(REPLACEMENT, value)
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    return value


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text} is out of range")
    return value


def _constant(text: str) -> Any:
    raise _Refused(f"{text} is not valid JSON")
