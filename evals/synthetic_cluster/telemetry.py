"""logs.jsonl, traces.jsonl and events.jsonl as each stack's pipeline would ship them.

Logs: promtail/Loki and fluent-bit key lines by pod and keep the raw line (JSON, logfmt,
logback text, or a bare line, so the level is sometimes only inside the text and sometimes
nowhere); the OpenTelemetry collector and the Datadog agent key by service and attach the
pod and node. Every shipper attaches the node, which is how placement is known for pods
that were scheduled before the window. Traces are tail-sampled (errors and slow ones kept,
a fraction of the rest), lose a few parents, and one service's clock runs ahead.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np

from evals.synthetic_cluster.cluster import STEP
from evals.synthetic_cluster.faults import LogSpec, Story
from evals.synthetic_cluster.model import Model
from evals.synthetic_cluster.noise import BENIGN, hostile


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


class Logs:
    def __init__(self, m: Model, lo: int, hi: int, epoch0: int, rng: np.random.Generator):
        self.m, self.lo, self.hi, self.epoch0, self.rng = m, lo, hi, epoch0, rng
        self.stack = m.c.system.stack
        self.ns = m.c.system.namespace
        self.lines: list[tuple[float, str]] = []

    def fill(self, text: str) -> str:
        r = self.rng
        return text.replace("{ms}", str(int(r.integers(800, 9000)))).replace(
            "{n}", str(int(r.integers(1, 400)))).replace(
            "{req}", "".join(r.choice(list("0123456789abcdef"), 8)))

    def write(self, step: float, pod_name: str, workload: str, node: str, level: str,
              text: str, node_line: bool = False) -> None:
        ts = self.epoch0 + step * STEP
        stamp = iso(ts)
        lang = self.m.wl[workload].lang if workload in self.m.wl else "native"
        lv = level or ""
        if node_line:
            rec = {"ts": stamp, "service": node, "message": text, "source": "journald",
                   "unit": "kernel"}
        elif self.stack in ("istio", "prommix"):
            raw = self._raw(stamp, lang, lv, text)
            key = "node_name" if self.stack == "istio" else "kubernetes_host"
            rec = {"ts": stamp, "service": pod_name, "message": raw, key: node,
                   "namespace": self.ns, "container": workload}
            if self.stack == "istio" and lang in ("go", "node") and lv:
                rec["level"] = lv  # promtail's json stage lifted it
        else:
            rec = {"ts": stamp, "service": workload, "message": text}
            if self.stack == "otel":
                if lv:
                    rec["level"] = lv
                rec.update({"k8s.pod.name": pod_name, "k8s.node.name": node,
                            "k8s.namespace.name": self.ns})
            else:  # the Datadog agent calls anything it cannot parse "info"
                rec["level"] = lv or "info"
                rec.update({"host": node, "pod_name": pod_name, "kube_namespace": self.ns})
        self.lines.append((ts, json.dumps(rec)))

    def _raw(self, stamp: str, lang: str, lv: str, text: str) -> str:
        if not lv or lang == "native":
            return text
        if lang == "jvm":
            return (f"{stamp[:10]} {stamp[11:23]} {lv.upper():>5} 1 --- "
                    f"[nio-8080-exec-{int(self.rng.integers(1, 40))}] c.a.Handler : {text}")
        if lang == "py":
            return f'level={lv} logger=app.handlers msg="{text}"'
        if lang == "go" and self.stack == "prommix":
            return f'ts={stamp} level={lv} caller=server.go:212 msg="{text}"'
        return json.dumps({"level": lv, "time": stamp, "msg": text})

    def spec(self, s: LogSpec, budget: float) -> None:
        m = self.m
        steps = np.arange(self.lo, self.hi)
        rate = s.rate[self.lo:self.hi]
        total = float(rate.sum())
        if total > budget:
            rate = rate * budget / total
        counts = self.rng.poisson(rate)
        for st, k in zip(steps[counts > 0], counts[counts > 0], strict=True):
            for _ in range(int(k)):
                text = self.fill(s.templates[int(self.rng.integers(0, len(s.templates)))])
                t = st + self.rng.random()
                if s.node:
                    self.write(t, "", "", s.service, s.level, text, node_line=True)
                    continue
                live = [p for p in (s.pods or m.c.of(s.service)) if p.born <= st < p.died]
                if live:
                    p = live[int(self.rng.integers(0, len(live)))]
                    self.write(t, p.name, s.service, p.node, s.level, text)

    def routine(self, story: Story) -> None:
        """Ordinary lines, chronic benign errors, the propagated complaints, hostile text."""
        m, T = self.m, self.m.T
        for p in m.c.pods:
            w = m.wl[p.workload]
            if w.role in ("ext", "dns"):
                continue
            every = float(self.rng.uniform(50, 100))
            text = {"db": "checkpoint complete: wrote {n} buffers", "cache":
                    "DB saved on disk", "queue": "accepting AMQP connection 10.4.{n}.7:5672",
                    "worker": "processed {n} messages", "batch": "progress {n}%",
                    "cron": "job step {n} done"}.get(w.role, "GET /api/v1/items 200 {n}ms")
            self.spec(LogSpec(p.workload, np.full(T, 1 / every), "info", (text,), pods=[p]),
                      1e9)
        apps = [n for n, w in m.wl.items() if w.role in ("api", "web", "worker")]
        for name in self.rng.choice(apps, size=3, replace=False):
            lv, text = BENIGN[int(self.rng.integers(0, len(BENIGN)))]
            self.spec(LogSpec(str(name), np.full(T, float(self.rng.uniform(0.03, 0.12))), lv,
                              (text,)), 1e9)
        complaints = {}
        for (a, b), fail in m.edge_fail.items():
            base = float(np.median(fail[: story.onset])) if story.onset > 10 else 0.0
            extra = np.clip(fail - 2 * base - 0.005, 0, None)
            if extra.max() >= 0.01:
                complaints[(a, b)] = np.minimum(extra * m.rps[a] * STEP * 0.01, 2.0)
        total = sum(float(r[self.lo:self.hi].sum()) for r in complaints.values())
        scale = min(1.0, 700 / total) if total else 1.0  # a shipper's rate limit, in effect
        for (a, b), rate in complaints.items():
            to = m.timeout[(a, b)]
            reasons = (f"call to {b} failed: context deadline exceeded after {to:.0f}ms",
                       f"upstream {b} responded 503 Service Unavailable",
                       f"request to http://{b}:8080 failed: Read timed out")
            self.spec(LogSpec(a, rate * scale, "error", reasons), 1e9)
            if self.stack == "istio":
                self.envoy(a, b, rate * scale * 0.4)
        decoys = [n for n in m.wl if n not in (story.truth, *story.also) and
                  m.wl[n].role in ("api", "web")]
        for _ in range(int(self.rng.integers(1, 4))):
            decoy = str(self.rng.choice(decoys))
            victim = str(self.rng.choice(apps))
            text = f'validation failed for field "comment": "{hostile(self.rng, decoy)[0]}"'
            rate = np.zeros(T)
            rate[int(self.rng.integers(self.lo, self.hi))] = 1.0
            self.spec(LogSpec(victim, rate, "warn", (text,)), 1e9)

    def envoy(self, a: str, b: str, rate: np.ndarray) -> None:
        """The caller's sidecar access log: no level, just Envoy's format and flags."""
        tmpl = (f'[{{ts}}] "POST /{b}.v1/Call HTTP/2" 504 UT upstream_reset_before_response_'
                f'started{{{{timeout}}}} 0 0 {{ms}} - "-" "grpc-go/1.62" '
                f'"outbound|8080||{b}.{self.ns}.svc.cluster.local"')
        steps = np.arange(self.lo, self.hi)
        counts = self.rng.poisson(np.minimum(rate[self.lo:self.hi] * 0.5, 1.0))
        live = self.m.c.of(a)
        for st, k in zip(steps[counts > 0], counts[counts > 0], strict=True):
            for _ in range(int(k)):
                pods = [p for p in live if p.born <= st < p.died]
                if not pods:
                    continue
                p = pods[int(self.rng.integers(0, len(pods)))]
                ts = self.epoch0 + (st + self.rng.random()) * STEP
                rec = {"ts": iso(ts), "service": p.name, "namespace": self.ns,
                       "container": "istio-proxy", "node_name": p.node,
                       "message": self.fill(tmpl.replace("{ts}", iso(ts)))}
                self.lines.append((ts, json.dumps(rec)))

    def text(self) -> str:
        self.lines.sort(key=lambda x: x[0])
        return "".join(line + "\n" for _, line in self.lines)


def traces(m: Model, story: Story, lo: int, hi: int, epoch0: int,
           rng: np.random.Generator) -> str:
    stack = m.c.system.stack
    gw = next(n for n, w in m.wl.items() if w.role == "gateway")
    skew = str(rng.choice([n for n, w in m.wl.items() if w.role in ("api", "web")]))
    skew_ms = float(rng.uniform(120, 700)) * (1 if rng.random() < 0.5 else -1)
    out: list[dict[str, Any]] = []

    def sid() -> str:
        return rng.bytes(8).hex()

    def build(svc: str, i: int, start: float, parent: str, tid: str,
              spans: list[Any]) -> tuple[Any, ...]:
        w = m.wl[svc]
        empty = np.zeros((0, 0))  # no per-pod shares: every index below is the workload's
        pods, alive, plat, perr = m.pod_share.get(svc, ([], empty, empty, empty))
        live = [k for k, p in enumerate(pods) if alive[k][i] > 0]
        k = live[int(rng.integers(0, len(live)))] if live else -1
        mult = float(plat[k][i]) if k >= 0 else 1.0
        own = float(m.own.get(svc, np.full(m.T, w.base_ms))[i]) * mult * math.exp(
            rng.normal(0, m.sigma[svc]))
        fail_p = (float(perr[k][i]) if k >= 0 else 0.0) + (
            float(m.w_err[svc][i]) if svc in m.w_err else 0.0)
        fail_p += max(0.0, 1 - 1 / max(float(m.util[svc][i]), 1e-9)) if m.util[svc][i] > 1 else 0
        me = sid()
        t = start + own * 0.3
        bad = rng.random() < fail_p
        for a, b, kk in m.edges:
            if a != svc or m.consumes(a, b) or len(spans) > 40:
                continue
            n = min(int(rng.poisson(kk)), 3) if kk >= 1 else int(rng.random() < kk)
            role = m.wl[b].role
            for _ in range(n):
                if role in ("db", "cache", "queue", "proxy", "ext"):
                    if role == "cache" and rng.random() < 0.6:
                        continue  # cache calls are rarely worth a span to the sampler
                    d = float(m.p50[b][i]) * math.exp(rng.normal(0, m.sigma[b]))
                    e = rng.random() < float(m.err[b][i])
                    name = b if stack == "datadog" else svc
                    spans.append({"trace_id": tid, "span_id": sid(), "parent_id": me,
                                  "service": name, "operation": op(b, role), "start": t,
                                  "duration_ms": round(min(d, m.timeout[(a, b)]), 3),
                                  "status": "error" if e else "ok"})
                    dur, failed = min(d, m.timeout[(a, b)]), e or d > m.timeout[(a, b)]
                else:
                    dur, failed = build(b, i, t, me, tid, spans)
                    if dur > m.timeout[(a, b)]:
                        dur, failed = m.timeout[(a, b)], True
                if failed and rng.random() < m.crit[(a, b)]:
                    bad = True
                t += dur * m.par[(a, b)]
        total = (t - start) + own * 0.7
        attrs = {"k8s.pod.name": pods[k].name} if k >= 0 else {}
        spans.append({"trace_id": tid, "span_id": me, "parent_id": parent, "service": svc,
                      "operation": op(svc, w.role), "start": start, "duration_ms":
                      round(total, 3), "status": "error" if bad else "ok", "attributes": attrs})
        return total, bad

    roots = [gw] * 6 + [n for n, w in m.wl.items() if w.role == "worker"]
    if story.family == "cron_batch_db":
        roots += [story.truth] * 3
    base = float(np.median(m.p99[gw][lo:max(lo + 1, story.onset)]))
    for _ in range(int((hi - lo) * 1.2)):
        i = int(rng.integers(lo, hi))
        root = str(rng.choice(roots))
        if m.wl[root].role == "cron" and not any(p.born <= i < p.died for p in m.c.of(root)):
            continue
        tid = rng.bytes(16).hex()
        spans: list[dict[str, Any]] = []
        start = (epoch0 + i * STEP + float(rng.uniform(0, STEP))) * 1000
        dur, _bad = build(root, i, start, "", tid, spans)
        keep = any(s["status"] == "error" for s in spans) or (root == gw and dur > 1.5 * base)
        if keep or rng.random() < 0.12:
            if rng.random() < 0.1:
                target = spans[int(rng.integers(0, len(spans)))]
                decoy = str(rng.choice([n for n in m.wl if n != story.truth]))
                target.setdefault("attributes", {})["user.note"] = hostile(rng, decoy)[0]
            out.extend(spans)
        if len(out) > 1100:
            break
    lines = []
    for s in out:
        if s["parent_id"] and rng.random() < 0.015:
            continue  # dropped on the way to the collector: its children become orphans
        start_ms = s["start"] + (skew_ms if s["service"] == skew else 0)
        s["start"] = iso(start_ms / 1000)
        if s.get("attributes") == {}:
            del s["attributes"]
        lines.append(json.dumps(s))
    return "".join(line + "\n" for line in lines)


def op(name: str, role: str) -> str:
    if role == "gateway":
        return "ingress"
    if role == "db":
        return "SELECT" if "redis" not in name else "GET"
    if role == "cache":
        return "GET" if "memcached" in name else "HGETALL"
    if role == "queue":
        return f"{name} publish"
    if role == "ext":
        return f"POST https://{name if '.' in name else name + '.example.com'}/v1"
    if role == "worker":
        return f"{name} process"
    if role == "proxy":
        return "pgbouncer query"
    return f"POST /{name}/v1/handle"


def events(m: Model, story: Story, lo: int, hi: int, epoch0: int) -> str:
    c = m.c
    ns = c.system.namespace
    out: list[tuple[float, dict[str, Any]]] = []
    for e in story.events:
        if lo <= e["step"] < hi:
            rec = {"ts": iso(epoch0 + e["step"] * STEP)}
            rec.update({k: v for k, v in e.items() if k != "step"})
            out.append((e["step"], rec))
    for p in c.pods:
        if lo <= p.born < hi:  # what kube-scheduler and kubelet report for a new pod
            out.append((p.born, {"ts": iso(epoch0 + p.born * STEP), "service": p.name,
                                 "kind": "k8s", "reason": "Scheduled",
                                 "summary": f"Successfully assigned {ns}/{p.name} to {p.node}",
                                 "node": p.node}))
            out.append((p.born + 1, {"ts": iso(epoch0 + (p.born + 1) * STEP),
                                     "service": p.name, "kind": "k8s", "reason": "Started",
                                     "summary": f"Started container {p.workload}"}))
        if lo <= p.died < hi and p.reason:
            out.append((p.died, {"ts": iso(epoch0 + p.died * STEP), "service": p.name,
                                 "kind": "k8s", "reason": "Killing",
                                 "summary": f"Stopping container {p.workload}"}))
    out.sort(key=lambda x: x[0])
    return "".join(json.dumps(r) + "\n" for _, r in out)


