"""What the monitoring of a `World` ships: metric series named as RCAEval names them, log
lines in the shapes the three applications print, and sampled traces."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from evals.synthetic_public.systems import System, language
from evals.synthetic_public.world import Fault, World

Series = dict[tuple[str, str], np.ndarray]


def _pick(rng: np.random.Generator, items: list[str]) -> str:
    return items[int(rng.integers(len(items)))]  # rng.choice is slow on small lists


def _noisy(rng: np.random.Generator, x: np.ndarray, sigma: float | np.ndarray) -> np.ndarray:
    return x * np.exp(rng.normal(0.0, 1.0, x.size) * sigma)


def _latency_noise(w: World, s: str) -> np.ndarray:
    # A percentile over few requests a second is noisy; a busy service's is steadier.
    out: np.ndarray = 0.06 + 0.5 / np.sqrt(np.maximum(w.work[s], 0.0) + 1.0)
    return out


def _tail(w: World, x: np.ndarray) -> np.ndarray:
    """Heavy tails: a GC pause or a slow outlier request lifts 1% of samples 2-4x."""
    hits = w.rng.random(x.size) < 0.01
    return np.where(hits, x * w.rng.uniform(2, 4, x.size), x)


def re1_metrics(w: World) -> Series:
    """RE1: a handful of series per service. Online Boutique ships cpu, mem, load and
    latency; Sock Shop and Train Ticket ship cpu, mem, workload, latency-50 and
    latency-90; an error series exists for a few services only; stores have no latency.
    CPU is in percent of a core, memory in bytes, latency in seconds, load in requests/s."""
    rng, sysm = w.rng, w.system
    out: Series = {}
    with_errors = {sysm.entry} | {str(s) for s in rng.choice(
        [s for s in sysm.services if s not in sysm.stores], size=3, replace=False)}
    for s in sysm.services:
        out[(s, "cpu")] = np.maximum(w.cpu[s] + rng.normal(0, 0.02 * w.limit[s] / 5, w.t.size),
                                     0)
        out[(s, "mem")] = _noisy(rng, w.mem[s], 0.004)
        if s in sysm.stores:
            if s == "rabbitmq" or rng.random() < 0.3:
                out[(s, "diskio")] = _noisy(rng, w.disk[s], 0.3)
            continue
        work = rng.poisson(np.maximum(w.work[s], 0)).astype(float)
        sigma = _latency_noise(w, s)
        if sysm.short == "OB":
            out[(s, "load")] = work
            out[(s, "latency")] = _tail(w, _noisy(rng, w.lat[s] * 1.8, sigma))
        else:
            out[(s, "workload")] = work
            out[(s, "latency-50")] = _noisy(rng, w.lat[s] * 0.75, sigma)
            out[(s, "latency-90")] = _tail(w, _noisy(rng, w.lat[s] * 1.9, sigma))
        if s in with_errors:
            out[(s, "error")] = rng.poisson(np.maximum(w.work[s] * w.err[s], 0)).astype(float)
    return out


NODE_METRICS = ("node-cpu-seconds-total", "node-memory-MemAvailable-bytes",
                "node-disk-written-bytes-total")


def re2_metrics(w: World, nodes: dict[str, str]) -> Series:
    """RE2: cAdvisor container series per container (rates, as RCAEval stores them),
    istio series per service on the meshed systems (Online Boutique, Train Ticket), a
    latency/workload pair derived from traces on Sock Shop, and node-exporter series per
    node. Sock Shop's containers are named by a prefix (front, queue), as RE2-SS has them."""
    rng, sysm = w.rng, w.system
    out: Series = {}
    n = w.t.size
    hosts = sorted(set(nodes.values()))  # a set's order changes with the hash seed
    node_cpu = {k: np.full(n, float(rng.uniform(0.5, 2.0))) for k in hosts}
    node_mem = {k: np.full(n, float(rng.uniform(6e9, 1.2e10))) for k in hosts}
    node_disk = {k: np.full(n, float(rng.uniform(1e5, 1e6))) for k in hosts}
    for s in sysm.services:
        c = sysm.container_alias.get(s, s)
        cores = w.cpu[s] / 100.0
        out[(c, "container-cpu-usage-seconds-total")] = np.maximum(
            cores + rng.normal(0, 0.004 + 0.02 * cores, n), 0)
        busy = np.clip((w.cpu[s] / w.limit[s] - 0.8) / 0.2, 0, 1)
        out[(c, "container-cpu-cfs-throttled-periods-total")] = rng.poisson(busy * 9 + 0.05
                                                                             ).astype(float)
        out[(c, "container-memory-working-set-bytes")] = _noisy(rng, w.mem[s], 0.003)
        rx = w.work[s] * float(rng.uniform(400, 3000)) + 200
        tx = w.work[s] * float(rng.uniform(800, 20000)) + 200
        out[(c, "container-network-receive-bytes-total")] = _noisy(rng, rx, 0.08)
        # Retransmits under packet loss show as extra packets sent.
        packets = (rx + tx) / 900 * (1 + 1.5 * w.retrans[s])
        out[(c, "container-network-transmit-packets-total")] = _noisy(rng, packets, 0.08)
        out[(c, "container-fs-writes-bytes-total")] = _noisy(rng, w.disk[s], 0.4)
        out[(c, "container-sockets")] = np.round(w.sockets[s] + rng.normal(0, 2, n))
        node = nodes[s]
        node_cpu[node] = node_cpu[node] + cores
        node_mem[node] = node_mem[node] - w.mem[s]
        node_disk[node] = node_disk[node] + w.disk[s]
        if s in sysm.stores:
            continue
        sigma = _latency_noise(w, s)
        if sysm.short == "SS":
            out[(s, "workload")] = rng.poisson(np.maximum(w.work[s], 0)).astype(float)
            out[(s, "latency-50")] = _noisy(rng, w.lat[s] * 0.75, sigma)
            out[(s, "latency-90")] = _tail(w, _noisy(rng, w.lat[s] * 1.9, sigma))
        else:
            out[(s, "istio-request-total")] = _noisy(rng, w.work[s], 0.05)
            out[(s, "istio-latency-90")] = _tail(w, _noisy(rng, w.lat[s] * 1900, sigma))
            out[(s, "istio-error-total")] = rng.poisson(np.maximum(w.work[s] * w.err[s], 0)
                                                        ).astype(float)
    for k in node_cpu:
        out[(k, NODE_METRICS[0])] = np.maximum(node_cpu[k] + rng.normal(0, 0.05, n), 0)
        out[(k, NODE_METRICS[1])] = _noisy(rng, node_mem[k], 0.002)
        out[(k, NODE_METRICS[2])] = _noisy(rng, node_disk[k], 0.2)
    return out


# ---- logs --------------------------------------------------------------------------------

ROUTINE = {
    "java": ["Query for {word} returned {n} results", "[{word}] request handled in {ms} ms",
             "Hibernate: select ... from {word} where id=?"],
    "go": ["request complete", "served {word} in {ms}ms", "GET /{word} 200"],
    "node": ["GET /{word} 200 {ms}ms", "session {n} ok"],
    "python": ["[{word}] handled request", "sending {word} for order {n}"],
    "csharp": ["GetCartAsync called with userId={n}", "Request finished in {ms}ms 200"],
    "nginx": ["\"GET /api/v1/{word} HTTP/1.1\" 200 {n}"],
}
CALLER_ERRORS = ["rpc error: code = Unavailable desc = connection error talking to {callee}",
                 "failed to get response from {callee}: context deadline exceeded",
                 "upstream {callee} returned 500", "error calling {callee}: {callee} failed"]
EXCEPTIONS = {
    "java": ["java.lang.NullPointerException: null\n\tat com.{pkg}.service.Impl.handle",
             "java.lang.IllegalArgumentException: invalid {word} id\n\tat com.{pkg}.controller",
             "Servlet.service() threw exception [Request processing failed] "
             "java.lang.RuntimeException: {word} not found"],
    "go": ["panic recovered: runtime error: invalid memory address or nil pointer dereference",
           "failed to process {word}: rpc error: code = Internal desc = invalid argument"],
    "node": ["TypeError: Cannot read properties of undefined (reading '{word}')",
             "Unhandled exception in {word} handler: RangeError"],
    "python": ["Traceback (most recent call last):\n  File \"server.py\", line 80, in {word}\n"
               "KeyError: '{word}'", "Exception in {word}: ValueError: invalid literal"],
    "csharp": ["System.NullReferenceException: Object reference not set to an instance of "
               "an object. at cartservice.{word}"],
    "nginx": ["upstream prematurely closed connection while reading {word}"],
}
WORDS = ["order", "cart", "product", "currency", "user", "route", "train", "ticket", "seat",
         "price", "station", "payment", "email", "shipment", "token"]


class Logger:
    """Writes one service's lines in that service's own format: JSON with a level, JSON
    with `severity` instead, JSON with no level at all, or a plain text line with the level
    inside the message (a Spring Boot console line)."""

    def __init__(self, w: World, fmt: dict[str, str]) -> None:
        self.w, self.fmt = w, fmt
        self.lines: list[tuple[float, str]] = []

    def emit(self, ts: float, s: str, level: str, message: str) -> None:
        style = self.fmt[s]
        item: dict[str, Any] = {"ts": round(ts, 3), "service": s}
        if style == "level":
            item["level"] = level
        elif style == "severity":
            item["severity"] = level.upper()
        elif style == "text":
            stamp = np.datetime_as_string(np.datetime64(int(ts * 1000), "ms"))
            message = (f"{stamp} {level.upper():>5} 1 --- [nio-8080-exec-{int(ts) % 9 + 1}] "
                       f"{s}: {message}")
        item["message"] = message
        self.lines.append((ts, json.dumps(item)))

    def fill(self, template: str, s: str) -> str:
        rng = self.w.rng
        return template.format(word=_pick(rng, WORDS), n=int(rng.integers(1, 9999)),
                               ms=int(rng.integers(1, 400)), callee="?",
                               pkg=s.replace("-", "."))

    def poisson_times(self, rate: np.ndarray) -> np.ndarray:
        """Event times from a per-second rate (thinned, so a busy service logs a sample)."""
        counts = self.w.rng.poisson(np.clip(rate, 0, 3) * self.w.step)
        idx = np.repeat(np.arange(self.w.t.size), counts)
        return self.w.t[idx] + self.w.rng.random(idx.size) * self.w.step


def logs(w: World, fault: Fault | None, fmt: dict[str, str]) -> list[str]:
    rng, sysm = w.rng, w.system
    log = Logger(w, fmt)
    after = (w.t >= fault.at) if fault is not None else np.zeros(w.t.size, bool)
    for s in sysm.services:
        lang = language(sysm, s)
        if s in sysm.stores:
            continue
        for ts in log.poisson_times(np.minimum(0.03 + 0.01 * w.work[s], 0.5)):
            log.emit(float(ts), s, "info", log.fill(_pick(rng, ROUTINE[lang]), s))
        # Background errors that were there before anything happened.
        for ts in log.poisson_times(np.full(w.t.size, float(rng.uniform(0, 0.01)))):
            msg = _pick(rng, EXCEPTIONS[lang] + ["connection reset by peer"])
            log.emit(float(ts), s, "error", log.fill(msg, s))
        # Errors a service returns: its own failures print exceptions; failures it got from
        # a callee print the callee's name.
        own_extra = np.maximum(w.own_err[s] - w.own_err[s][0], 0)
        if own_extra.any():
            picks = EXCEPTIONS[lang][:2] if fault is None or fault.label != "f3" else \
                EXCEPTIONS[lang]
            for ts in log.poisson_times(w.work[s] * own_extra * 0.5):
                log.emit(float(ts), s, "error", log.fill(_pick(rng, picks), s))
        for callee, _ in sysm.callees(s):
            extra = np.maximum(w.err[callee] - w.err[callee][0], 0)
            if fault is not None and fault.label == "f4" and callee == fault.service:
                extra = extra + after * 0.3
            slow = w.lat[callee] > 4 * w.lat[callee][0] + 0.2
            rate = w.work[s] * extra * 0.3 + slow * 0.2
            if not rate.any():
                continue
            for ts in log.poisson_times(rate):
                msg = _pick(rng, CALLER_ERRORS).replace("{callee}", callee)
                log.emit(float(ts), s, "error" if rng.random() < 0.8 else "warn",
                         log.fill(msg, s))
    if fault is not None and fault.label in ("f4", "f5", "f2"):
        # Code that runs but does the wrong thing leaves lines nobody saw before.
        text = {"f4": "computed {word} total = 0.00 for request {n}",
                "f5": "{word} lookup took {ms}00 ms (no cache)",
                "f2": "skipping {word} update for request {n}"}[fault.label]
        for ts in log.poisson_times(after * np.minimum(0.3 * w.work[fault.service], 1.5)):
            log.emit(float(ts), fault.service, "warn" if fault.label != "f4" else "info",
                     log.fill(text, fault.service))
    log.lines.sort(key=lambda x: x[0])
    return [line for _, line in log.lines]


# ---- traces ------------------------------------------------------------------------------

def traces(w: World, fault: Fault | None, every: float) -> list[str]:
    """One sampled trace every `every` seconds from the entry service down, each span's
    duration its own time that second (noisy) plus its children's, sequentially."""
    rng, sysm = w.rng, w.system
    out: list[str] = []
    counter = [0]

    def visit(s: str, parent: str | None, trace: str, i: int, start: float,
              depth: int) -> tuple[float, bool]:
        counter[0] += 1
        span = f"{counter[0]:x}"
        own = float(w.own[s][i]) * float(np.exp(rng.normal(0, 0.35)))
        failed = bool(rng.random() < w.own_err[s][i])
        children = 0.0
        if depth < 7:
            for callee, m in sysm.callees(s):
                if (s, callee) in w.skipped and fault is not None and w.t[i] >= fault.at:
                    continue
                calls = int(m) + int(rng.random() < m - int(m))
                for _ in range(min(calls, 3)):
                    took, bad = visit(callee, span, trace, i, start + own / 2 + children,
                                      depth + 1)
                    children += took
                    carry = 0.15 if (s, callee) in sysm.tolerant else 0.9
                    if fault is not None and fault.label == "f4" and callee == fault.service \
                            and w.t[i] >= fault.at:
                        bad = bad or rng.random() < 0.3
                    failed = failed or (bad and rng.random() < carry)
        duration = own + children
        out.append(json.dumps({"trace_id": trace, "span_id": span, "parent_id": parent,
                               "service": s, "operation": _operation(sysm, s, rng),
                               "start": round(start, 4), "duration_ms": round(duration * 1000, 3),
                               "status": "error" if failed else "ok"}))
        return duration, failed

    ts = float(w.t[0])
    while ts < w.t[-1]:
        i = min(int(np.searchsorted(w.t, ts)), w.t.size - 1)
        visit(sysm.entry, None, f"{int(ts * 1000):x}{int(rng.integers(1 << 30)):08x}", i, ts, 0)
        ts += float(rng.exponential(every))
    return out


def _operation(sysm: System, s: str, rng: np.random.Generator) -> str:
    if sysm.short == "OB" and s not in sysm.stores:
        name = s.removesuffix("service").capitalize()
        return f"hipstershop.{name}Service/{_pick(rng, ['Get', 'List', 'Convert', 'Send'])}"
    if sysm.short == "TT" and s != sysm.entry:
        return f"{_pick(rng, ['GET', 'POST'])} /api/v1/{s.removeprefix('ts-')}"
    return f"{_pick(rng, ['GET', 'POST'])} /{s}"
