"""Development suites shaped like the public microservice RCA benchmarks (RCAEval RE1-RE3).

Written without reading the investigator, to catch over-fitting to our own generators.
Deterministic by seed; `HELDOUT_SEED` (suite `public-heldout`) is scored once at the end of
a round, never read case by case.

What is modelled, and on what source
------------------------------------
RCAEval (Pham et al., "RCAEval: A Benchmark for Root Cause Analysis of Microservice
Systems with Telemetry Data", WWW 2025; and "Root Cause Analysis for Microservices based on
Causal Inference: How Far Are We?", ASE 2024; github.com/phamquiluan/RCAEval) injects one
fault into one service of Online Boutique, Sock Shop or Train Ticket under a Locust load,
and ships per case the data and a single `inject_time.txt` (Unix seconds). It labels faults,
not alerts; the alert here is what such a benchmark implies: the entry service's latency,
at or up to a minute after inject_time.

- `public-metrics` (RE1: 375 cases, metrics only). A wide table sampled every second, one
  column per `<service>_<metric>`: Online Boutique `cpu, mem, load, latency` (4201 rows,
  49 columns, error columns on 3 services); Sock Shop and Train Ticket `cpu, mem, workload,
  latency-50, latency-90` (721 and 961 rows; error columns on a few services). Stores have
  cpu/mem only (RabbitMQ a `diskio`). Faults cpu, mem, disk, delay, loss. No topology. The
  split of the window around inject_time (OB 60 min + 10, SS 7 + 5, TT 11 + 5) is our
  assumption; the row counts and names come from third-party loaders of the real files.
- `public-multi` (RE2: 270 cases, metrics + logs + traces). `metrics.csv` of RE2 has
  `<entity>_container-<cadvisor metric>` (cpu-usage-seconds-total, memory-working-set-bytes,
  network-*-bytes-total, fs-*-bytes-total, sockets, ...), `<service>_istio-*` series and
  `<node>_node-*` series, sampled every second for 720 s either side of inject_time (here
  every 2 s, 600 s before and 360 s after, to keep a suite near 300 MB); Sock Shop
  containers are named by a prefix (`front`, `queue`). Logs carry container, message
  and a level that is often blank; traces are Jaeger spans with status codes. Faults cpu,
  mem, disk, socket, delay, loss. Topology given in half of the cases.
- `public-counters`: `public-multi`'s incidents, with every `*-total` series written as the
  running total a raw export holds before Prometheus's rate() (one in ten restarts from
  zero in the window). Whether RE2's files hold totals or rates, a suite of each.
- `public-code` (RE3: 90 cases). Code-level faults F1-F5 in one service, as we read the
  paper: F1 a wrong parameter value, F2 a missing function call, F3 a missing exception
  handler, F4 a wrong return value, F5 (our reading) a slow code path. Resources barely
  move; the faulty service logs exceptions or new lines and its spans fail or slow; callers
  see errors or latency. Same telemetry layout as RE2.

Services and call edges are the three applications' own (see `systems.py`); inject targets
are five per system in RCAEval (e.g. carts, catalogue, orders, payment, user on Sock Shop;
ts-auth, ts-order, ts-route, ts-train, ts-travel on Train Ticket). Each suite holds six
no-fault controls: an alert on noise, a brief blip, or loud unrelated trouble elsewhere.
Not modelled: pod restarts, multiple replicas, per-edge istio series, real log volumes
(logs and traces are sampled), RE2's 1269-column breadth.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from evals.cases import Suite, by_family, load_suite
from evals.synthetic_public.cases import write_case

VERSION = 2  # 2: node series drawn in a fixed order (set order varied with the hash seed)
HELDOUT_SEED = 2028
LABELS = {"public-metrics": ["cpu", "mem", "disk", "delay", "loss"],
          "public-multi": ["cpu", "mem", "disk", "socket", "delay", "loss"],
          "public-code": ["f1", "f2", "f3", "f4", "f5"]}
SHAPE = {"public-metrics": "re1", "public-multi": "re2", "public-code": "re3",
         "public-heldout": "re2", "public-counters": "re2"}
# public-multi's incidents with every `*-total` series a running total, as raw exports hold
# them (RE2's names come from cadvisor and istio counters).
TOTALS = {"public-counters"}


def plan(count: int, labels: list[str]) -> list[tuple[str | None, int]]:
    """(fault label or None for a control, system index): one control in seven, labels
    round-robin, systems crossed with labels so each label meets every system."""
    out: list[tuple[str | None, int]] = []
    k = 0
    for i in range(count):
        if i % 7 == 6:
            out.append((None, i // 7 % 3))
            continue
        out.append((labels[k % len(labels)], (k // len(labels) + k % len(labels)) % 3))
        k += 1
    return out


def generate(out: Path, *, seed: int = 7, count: int = 42, name: str = "public-multi") -> Suite:
    shape = SHAPE[name]
    labels = LABELS[name if name in LABELS else "public-multi"]
    totals = name in TOTALS
    stamp = out / ".generated"
    wanted = json.dumps({"seed": seed, "count": count, "version": VERSION, "shape": shape,
                         **({"totals": True} if totals else {})})
    if not (stamp.is_file() and stamp.read_text() == wanted):
        if out.exists():  # a stale case from another count or version must not linger
            shutil.rmtree(out)
        out.mkdir(parents=True)
        for i, (label, system) in enumerate(plan(count, labels)):
            rng = np.random.default_rng([seed, i, {"re1": 1, "re2": 2, "re3": 3}[shape]])
            digest = hashlib.sha1(f"{shape}-{seed}-{i}".encode()).hexdigest()[:12]
            write_case(out / f"case-{i:04d}", rng, shape=shape, label=label,
                       system_index=system, case_id=f"pub-{digest}", index=i,
                       totals=totals)
        stamp.write_text(wanted)
    return by_family(load_suite(out, name=name))
