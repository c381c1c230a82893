"""How single fields of a scenario directory's files are read (DESIGN.md, "Scenario
directory"): a timestamp, a log line's level, a service's name, a span's parent and duration,
a metric value too large to be one, the topology. The loader in scenario.py owns the files,
the line numbers and the warnings; these only say what one value means, or that it means
nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from integrations.redaction import clip
from integrations.telemetry.dialects import duration_ms
from integrations.telemetry.errors import ScenarioError

LEVELS = {"trace": 0, "debug": 1, "info": 2, "notice": 2, "warn": 3, "warning": 3, "error": 4,
          "err": 4, "critical": 5, "fatal": 5, "panic": 5}
# Other spellings shippers use, mapped onto those names: java.util.logging's SEVERE, syslog's
# keywords, glog's and logcat's single letters.
_SPELLINGS = {"severe": "error", "crit": "critical", "alert": "critical", "emerg": "critical",
              "emergency": "critical", "fine": "debug", "finer": "trace", "finest": "trace",
              "config": "info", "information": "info", "informational": "info", "dbg": "debug",
              "wrn": "warning", "eror": "error", "e": "error", "w": "warning", "i": "info",
              "d": "debug", "f": "fatal", "c": "critical", "v": "trace", "t": "trace"}
# Numeric levels: pino and bunyan count up in tens (30 info, 50 error), syslog counts down
# from 0 (emergency) to 7 (debug).
_PINO = ((60, "fatal"), (50, "error"), (40, "warning"), (30, "info"), (20, "debug"), (0, "trace"))
_SYSLOG = ("critical", "critical", "critical", "error", "warning", "notice", "info", "debug")


# A metric value this large is no measurement: Go's math.MaxFloat64 (1.797e308) is a common
# "no data" sentinel, and a series holding one overflows its statistics (sums, squares,
# differences) to inf and NaN, which then reach the report.
TOO_LARGE = 1e300


@dataclass(slots=True)
class Tally:
    """How many values of one kind a file held, and the first of them, for its warning."""

    count: int = 0
    example: str = ""

    def add(self, value: str) -> None:
        self.count += 1
        self.example = self.example or value


def level_name(raw: object) -> str:
    """A log line's level as one of LEVELS' names, or '' when it has none we can read."""
    if isinstance(raw, bool) or raw is None:
        return ""
    if isinstance(raw, int | float) or (isinstance(raw, str) and raw.strip().isdigit()):
        # NaN (a converter's json.dumps of a missing level), 1e400 (read by json as inf) and
        # integers past a float's range name no level: read as a line without one.
        value = _finite(raw)
        if value is None:
            return ""
        number = int(value)
        if number >= 10:
            return next(name for floor, name in _PINO if number >= floor)
        return _SYSLOG[number] if 0 <= number < len(_SYSLOG) else ""
    text = str(raw).strip().lower()
    text = _SPELLINGS.get(text, text)
    return text if text in LEVELS else ""


def parse_ts(value: Any, where: str) -> float:
    """ISO 8601 or Unix time → Unix seconds (UTC). Unix time may come in milliseconds,
    microseconds or nanoseconds, as Jaeger, Zipkin and OpenTelemetry exports write it: a
    number too large to be seconds (past the year 5000) is read in the unit that makes it
    a date."""
    if isinstance(value, bool) or value is None:
        raise ScenarioError(f"{where}: not a timestamp: {shown(value)}")
    if isinstance(value, int | float):
        number = _finite(value)
        if number is None:
            raise ScenarioError(f"{where}: not a timestamp: {shown(value)}")
        return _epoch_seconds(number)
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        # float() reads "nan" and "inf" too, and a string of 400 digits as inf: no instant.
        if not math.isfinite(number):
            raise ScenarioError(f"{where}: not a timestamp: {shown(value)}")
        return _epoch_seconds(number)
    if text[-3:].upper() == "UTC":
        # BigQuery writes "2024-06-22 17:32:37 UTC": fromisoformat takes the space (as in
        # SQL's "2024-06-22 17:32:37") but not the zone's name; without it the time is UTC.
        text = text[:-3].rstrip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ScenarioError(
            f"{where}: not an ISO 8601 or Unix timestamp: {shown(value)}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def service_name(raw: object) -> str | None:
    """The service a log line, span or event belongs to, or None when the value names none
    (missing, empty, null, a list, a bool): read as a service it would be one nobody runs,
    called "None" or "". OpenTelemetry-style exports write the service as a resource object
    ({"name": "carts", "namespace": "prod"}): its name. An integer id reads as its digits."""
    if isinstance(raw, dict):
        raw = raw.get("name") if raw.get("name") not in (None, "") else raw.get("service.name")
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, str):
        return raw.strip() or None
    return None


def topology_edges(raw: object, where: str) -> list[tuple[str, str]]:
    """case.json's `topology` as (caller, callee) edges. DESIGN.md writes a list of
    {"caller", "callee"} objects; other converters write [caller, callee] pairs, or an
    adjacency map {caller: [callee, ...]}: the same edges, read the same. Anything else is
    refused naming the entry, since a call graph read wrong misleads every step after."""
    if isinstance(raw, dict):
        edges = []
        for caller, callees in raw.items():
            listed = [callees] if isinstance(callees, str) else callees
            if not caller or not isinstance(listed, list) or not all(
                    isinstance(callee, str) and callee for callee in listed):
                raise ScenarioError(f"{where}: topology[{caller!r}] must list its callees' "
                                    f"names")
            edges += [(str(caller), callee) for callee in listed]
        return edges
    if not isinstance(raw, list):
        raise ScenarioError(f"{where}: topology must be a list of edges or a map of callers "
                            f"to their callees, got {shown(raw)}")
    edges = []
    for index, edge in enumerate(raw):
        if isinstance(edge, dict) and edge.get("caller") and edge.get("callee"):
            edges.append((str(edge["caller"]), str(edge["callee"])))
        elif isinstance(edge, list) and len(edge) == 2 and all(
                isinstance(name, str) and name for name in edge):
            edges.append((edge[0], edge[1]))
        else:
            raise ScenarioError(f"{where}: topology[{index}] needs 'caller' and 'callee' (or "
                                f"is a [caller, callee] pair)")
    return edges


def parent_of(raw: object, span_id: str) -> str | None:
    """A span's parent id, or None for a root: no parent id; an all-zero one, as OpenTelemetry,
    Zipkin and Jaeger exports write a root's (no span has that id); or the span's own id (no
    span calls itself, and as its own child its time would be taken off its own self-time)."""
    if not raw:
        return None
    text = str(raw)
    return None if not text.strip("0") or text == span_id else text


def span_duration_ms(item: dict[str, Any], start: float, number: int) -> float | None:
    """A span's `duration_ms`; or its `end` less its start where it gives an end instead; or
    its `duration` as Jaeger and Zipkin write it (dialects.duration_ms); 0 when it gives none.
    None when it gives a `duration` whose unit cannot be told, for the loader to say so."""
    if item.get("duration_ms") is not None:
        return float(item["duration_ms"])
    if item.get("end") is not None:
        return (parse_ts(item["end"], f"traces.jsonl:{number}") - start) * 1000.0
    if item.get("duration") is not None:
        return duration_ms(item, _unit(item.get("start")))
    return 0.0


def shown(value: object) -> str:
    """A value quoted in a warning, clipped (10**400 would print 400 digits per line) and
    masked, as every text the project quotes is."""
    return clip(repr(value), 40)


def _finite(value: int | float | str) -> float | None:
    """The value as a finite float, or None (NaN, infinite, or an int past a float's range)."""
    try:
        number = float(value)
    except (OverflowError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _unit(raw: object) -> float | None:
    """How many of a Unix time's units make a second (1, 1e3, 1e6, 1e9), as parse_ts reads
    it; None for ISO 8601 or anything but a number."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    number = _finite(raw)
    return None if number is None else _scale(number)


def _scale(number: float) -> float:
    for scale in (1.0, 1e3, 1e6, 1e9):
        if abs(number) < 1e11 * scale:
            return scale
    return 1e9


def _epoch_seconds(number: float) -> float:
    return number / _scale(number)
