"""traces.jsonl: tail-sampled distributed traces walked down the call graph.

Each candidate request is expanded along the topology at the model's state for that moment
(own time drawn from a log-normal whose median and p99 match the latency series; callees
called in sequence; a callee past its caller's timeout is cut off there as an error).
Sampling keeps a few ordinary traces per minute and, as tail-based samplers do, most of the
failed ones. Third-party APIs appear as the caller's client spans (peer.service), as real
instrumentation records them. Some cases have an uninstrumented service (its callees start
fresh traces: the context is lost) or a collector that drops spans (orphans).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np

from evals.synthetic_prod.model import DT, Params, State
from evals.synthetic_prod.systems import System

_STORE_OPS = {
    "db": ("SELECT", "INSERT", "UPDATE"),
    "cache": ("GET", "SET", "MGET"),
    "queue": ("produce",),
    "search": ("search",),
}


class TraceWriter:
    def __init__(
        self,
        system: System,
        st: State,
        p: Params,
        rng: np.random.Generator,
        t0: float,
        dark: set[str],
        otel: bool,
        drop: float,
    ) -> None:
        self.system, self.st, self.p, self.rng, self.t0 = system, st, p, rng, t0
        self.dark, self.otel, self.drop = dark, otel, drop
        self.spans: list[dict[str, Any]] = []

    def _id(self, digits: int) -> str:
        if digits <= 16:
            return f"{int(self.rng.integers(0, 2**62)):016x}"[-digits:]
        return f"{int(self.rng.integers(0, 2**62)):016x}{int(self.rng.integers(0, 2**62)):016x}"

    def request(self, k: int, root: str, trace: str) -> tuple[list[dict[str, Any]], bool]:
        out: list[dict[str, Any]] = []
        start = self.t0 + k * DT + float(self.rng.uniform(0, 60))
        _, failed = self._span(k, root, None, trace, start, out, 0, None)
        return out, failed

    def _span(
        self,
        k: int,
        name: str,
        parent: str | None,
        trace: str,
        start: float,
        out: list[dict[str, Any]],
        depth: int,
        op: str | None,
    ) -> tuple[float, bool]:
        st, rng, s = self.st, self.rng, self.system.services[name]
        sigma = np.log(max(self.p.tail[name], 1.1)) / 2.326
        own = float(st.own_med[name][k] * rng.lognormal(0, sigma))
        failed = bool(rng.random() < st.own_err[name][k])
        span_id = self._id(16)
        record: dict[str, Any] = {
            "trace_id": trace,
            "span_id": span_id,
            "parent_id": parent,
            "service": name,
            "operation": op
            or (s.ops[int(rng.integers(len(s.ops)))] if s.ops else _store_op(s.role, name, rng)),
        }
        children_ms, cursor = 0.0, start + own * 0.3 / 1000
        if depth < 6 and len(out) < 30:
            for e in self.system.callees(name):
                calls = int(e.mult) + int(rng.random() < e.mult - int(e.mult))
                for _ in range(min(calls, 2)):
                    callee = self.system.services[e.callee]
                    limit = self.p.timeout_ms[(name, e.callee)]
                    net = float(st.net_lat[e.callee][k] * rng.lognormal(0, 0.3))
                    if callee.role == "external":  # a client span in the caller
                        ms = float(st.own_med[e.callee][k] * rng.lognormal(0, sigma))
                        bad = rng.random() < st.own_err[e.callee][k] or ms > limit
                        ms = min(ms, limit)
                        out.append(
                            {
                                "trace_id": trace,
                                "span_id": self._id(16),
                                "parent_id": span_id,
                                "service": name,
                                "operation": f"HTTP POST {self.system.hosts[e.callee]}",
                                "start": cursor,
                                "duration_ms": ms,
                                "status": "error" if bad else "ok",
                                "peer.service": e.callee,
                            }
                        )
                    else:
                        ctx = None if name in self.dark else span_id
                        tr = self._id(32) if name in self.dark else trace
                        ms, bad = self._span(k, e.callee, ctx, tr, cursor, out, depth + 1, None)
                        ms += net
                        bad = bad or bool(rng.random() < st.net_err[e.callee][k])
                        if ms > limit:
                            ms, bad = limit, True
                    if bad and rng.random() > e.mask:
                        failed = True
                    children_ms += ms
                    cursor += ms / 1000
        duration = own + children_ms
        record.update(start=start, duration_ms=duration, status="error" if failed else "ok")
        if name not in self.dark:
            out.append(record)
        return duration, failed

    def render(self, row: dict[str, Any]) -> dict[str, Any]:
        ok = row["status"] == "ok"
        if self.otel:
            out = {
                "traceId": row["trace_id"],
                "spanId": row["span_id"],
                "parentSpanId": row["parent_id"] or "",
                "serviceName": row["service"],
                "name": row["operation"],
                "startTime": int(row["start"] * 1e6),
                "duration_ms": round(row["duration_ms"], 1),
                "status": "STATUS_CODE_OK" if ok else "STATUS_CODE_ERROR",
            }
        else:
            out = {
                "trace_id": row["trace_id"],
                "span_id": row["span_id"],
                "parent_id": row["parent_id"],
                "service": row["service"],
                "operation": row["operation"],
                "start": datetime.fromtimestamp(row["start"], UTC)
                .isoformat(timespec="microseconds")
                .replace("+00:00", "Z"),
                "duration_ms": round(row["duration_ms"], 1),
                "status": "ok" if ok else "error",
            }
        if "peer.service" in row:
            out["peer.service"] = row["peer.service"]
        return out


def _store_op(role: str, name: str, rng: np.random.Generator) -> str:
    verbs = _STORE_OPS.get(role, ("call",))
    verb = verbs[int(rng.integers(len(verbs)))]
    if role == "db":
        return f"{verb} {name.split('-')[0]}"
    return verb


def write_traces(
    path: Any,
    system: System,
    st: State,
    p: Params,
    rng: np.random.Generator,
    t0: float,
    first: int,
    n_keep: int,
    keep_per_min: int,
    dark: set[str],
    otel: bool,
    drop: float,
) -> None:
    tw = TraceWriter(system, st, p, rng, t0, dark, otel, drop)
    roots = [n for n, s in system.services.items() if s.role in ("edge", "worker")]
    per_min = int(60 / DT)
    rows: list[dict[str, Any]] = []
    for k0 in range(first - first % per_min, n_keep, per_min):
        cum = np.cumsum([st.rps[r][k0] + 1 for r in roots])
        kept_ok = kept_bad = 0
        for _ in range(keep_per_min * 2 + 4):
            root = roots[min(int(np.searchsorted(cum, rng.random() * cum[-1])), len(roots) - 1)]
            spans, failed = tw.request(k0, root, tw._id(32))
            if failed and kept_bad < 3:
                kept_bad += 1
            elif not failed and kept_ok < keep_per_min:
                kept_ok += 1
            else:
                continue
            rows.extend(spans)
    ids = {r["span_id"] for r in rows}
    for r in rows:
        if drop and rng.random() < drop:
            ids.discard(r["span_id"])  # lost in the collector: its children become orphans
    with open(path, "w", encoding="utf-8") as f:
        for r in sorted(rows, key=lambda r: r["start"]):
            if r["span_id"] in ids:
                f.write(json.dumps(tw.render(r), separators=(",", ":")) + "\n")
