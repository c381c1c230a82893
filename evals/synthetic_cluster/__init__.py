"""A labelled suite of incidents in Kubernetes clusters, as the telemetry really sees them.

What is modelled
- Four systems unlike the earlier production-shaped suite: an online shop on an Istio mesh
  (GKE), a B2B SaaS API with a NATS job queue and workers (EKS, OpenTelemetry), a
  ride-booking platform (AKS, Datadog), and a search/ads backend on bare-metal kubeadm
  (Envoy edge, Prometheus half-migrated to OpenTelemetry). 25-34 workloads each with
  databases, caches, a queue, a gateway, CronJobs, a limitless batch job, CoreDNS and the
  third parties they call; 5-8 nodes, each sized so that its pods' normal peak CPU fits in
  70% of its cores (version 2: before, one system's nodes ran at up to five times their
  cores and it failed every request before any fault began), and a batch job of the
  background noise takes a share of the cores its node leaves idle (version 3: a share of
  all its cores, which on a node sized this way was no longer room to spare).
- Pods: Deployments named `name-<rs hash 10>-<5>`, StatefulSets `name-0`, Job pods
  `cronjob-<minute>-<5>`; rollouts replace pod names mid-window; evictions and restarts
  reset counters. Metrics are per pod (cadvisor/kubelet), per workload where the source
  aggregates (mesh, ingress, APM, exporters behind a Service) and per node.
- Placement: every log line carries its node (`node_name` from promtail, `k8s.node.name`
  from the OpenTelemetry collector, `host` from the Datadog agent, `kubernetes_host` from
  fluent-bit); pods created in the window also get a k8s `Scheduled` event ("Successfully
  assigned ns/pod to node"); spans carry `k8s.pod.name`.
- Fourteen fault families (faults.py) and two kinds of control (noise.py), with symptoms
  produced by one model (model.py): traffic down the call graph, latency and errors back
  up it, queueing, timeouts, retries, connection pools, node contention, disk and loss,
  mixed over pods the way a load balancer mixes them, with lags between hops.
- Alerts from Alertmanager (after `for:`), Grafana rules, Datadog monitors (5-minute
  averages), Sentry issue alerts and an SLO burn rate, at thresholds set between normal
  and trouble, fired when the rule would have fired.
- Mess: scrape intervals of 15-60 s, shared scrape gaps, counters with resets, series in
  one modality only, four log formats (some lines with no readable level), chronic benign
  errors, hostile text in logs and span attributes, tail-sampled traces with orphans and
  clock skew, topology full, partial or absent, unrelated deploys and restarts.

Conventions are taken from: cadvisor and kube-state-metrics, node_exporter and the
kube-prometheus recording rules, Istio standard metrics and Envoy stats, the OpenTelemetry
semantic conventions (HTTP, RPC, DB client, JVM runtime, k8s/host receivers), the Datadog
agent's kubernetes/system/APM metric names, postgres/mysql/mongodb/redis/memcached/
rabbitmq/pgbouncer exporters, Alertmanager, Grafana, Datadog monitor and Sentry payloads,
sloth SLO alerts, and Kubernetes event reasons.

What is not modelled: labels beyond the four columns of metrics.csv (so no per-route or
per-status-code breakdown except as separate metric names), histograms (quantiles are
precomputed the way recording rules and APM do), HPA scaling of pod counts, multi-cluster,
network policies, persistent volume events, and faults that heal within the window.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from evals.cases import Suite, by_family, load_suite
from evals.synthetic_cluster.build import build_case
from evals.synthetic_cluster.faults import FAMILIES
from evals.synthetic_cluster.noise import CONTROLS
from evals.synthetic_cluster.systems import SYSTEMS

VERSION = 3
HELDOUT_SEED = 2030


def plan(count: int, seed: int) -> list[tuple[str, int]]:
    """(family, system index) per case, in the order the cases are numbered: one case in
    seven a control, the families dealt round-robin across the four systems, then shuffled
    so a case's position says nothing about it."""
    rng = np.random.default_rng([seed, 0xC1])
    controls = count // 7
    fams = list(FAMILIES)
    rng.shuffle(fams)
    out: list[tuple[str, int]] = []
    for i in range(count - controls):
        fam = fams[i % len(fams)]
        out.append((fam, (i // len(fams) + fams.index(fam)) % len(SYSTEMS)))
    ctl = list(CONTROLS)
    for i in range(controls):
        out.append((ctl[i % len(ctl)], int(rng.integers(0, len(SYSTEMS)))))
    order = rng.permutation(len(out))
    return [out[int(k)] for k in order]


def case_id(seed: int, i: int) -> str:
    return "inc-" + hashlib.sha256(f"cluster/{seed}/{i}".encode()).hexdigest()[:12]


def generate(out: Path, *, seed: int = 7, count: int = 42, name: str = "cluster") -> Suite:
    stamp = {"seed": seed, "count": count, "version": VERSION}
    mark = out / ".generated"
    fresh = mark.is_file() and _read(mark) == stamp and all(
        (out / f"case-{i:04d}" / "case.json").is_file() for i in range(count))
    if not fresh:
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        for i, (family, sys_i) in enumerate(plan(count, seed)):
            rng = np.random.default_rng([seed, i, 0xCA5E])
            build_case(out / f"case-{i:04d}", case_id(seed, i), SYSTEMS[sys_i], family, rng)
        mark.write_text(json.dumps(stamp, sort_keys=True))
    return by_family(load_suite(out, name=name))


def _read(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
