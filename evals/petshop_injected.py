"""A development suite on PetShop's real normal telemetry: faults injected at every node.

Every root cause in PetShop's `train/` split is the same service, so tuning on it can only
teach "blame PetSearch", and `test/` must never be tuned on. This suite keeps what makes
PetShop hard (real CloudWatch noise at 5-minute resolution, five samples per incident, a
41-component call graph with lambdas, queues and load balancers seen from their clients, a
normal period recorded apart from the incident) and puts the fault anywhere:

- a window of the regime's `noissue/` period, with the baseline taken from another stretch of
  it (as the converter does for real issues); in the `shifted` regimes the baseline comes from
  the other traffic level, as in PetShop's temporal regimes, which borrow a normal period;
- a latency or availability fault, or a request overload, at one node from the third
  sample on, spreading to every transitive caller up to `PetSite` with a random attenuation
  per hop, and to the load balancer through which `PetSite` reaches the faulty service (its
  client-side view);
- and, on a random stream of its own, a few load tests at `PetSite` itself per regime:
  requests rise there and at everything it calls, and one node slows under them (the
  bottleneck, with its callers); the label is `PetSite`, a traffic surge;
- and, on another stream, a few availability drops as small as PetShop's real ones (an error
  rate of a few percent: 1 to 4 points), where the first faults drop 2 to 15;
- and, on a fourth, a few faults while the load changes: from a random sample of the
  incident window on, the telemetry comes from the other traffic level's normal period;
- the alert on `PetSite`, the statistic it would be raised on.

It is a model of fault propagation, not ground truth about PetShop: it tests that the rules
hold on real noise and a real topology away from the one labelled service, never a figure to
report as PetShop accuracy.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from evals.cases import LabelledCase, Suite, load_truth
from evals.errors import SuiteError
from evals.petshop import BASELINE_POINTS, CREDIT, _dataset_root, _graph, _metric, _read_wide

ENTRY = "PetSite"
STEP = 300.0
WINDOW_POINTS = 5
FAULT_FROM = 2  # the fault shows from the third sample, as in PetShop's issue windows
# Which load balancer `PetSite` (and `petlistadoptions`) reaches a service through: X-Ray
# records the call from the client's side under the balancer's name.
BALANCERS = {
    "PetSearch_AWS::ECS::Fargate": ("servi-searc.us-west-2.elb.amazonaws.com_remote",
                                    "Servi-searc.us-west-2.elb.amazonaws.com_remote"),
    "petlistadoptions_AWS::ECS::Fargate": ("servi-lista.us-west-2.elb.amazonaws.com_remote",),
}
# Tail statistics move more than the mean when only part of the requests are hit.
LATENCY_SHAPE = {"Average": 1.0, "p50": 0.5, "p90": 1.5, "p95": 2.0, "p99": 3.0}
REGIMES = {  # name: (baseline from, incident window from)
    "low": ("low_traffic", "low_traffic"),
    "high": ("high_traffic", "high_traffic"),
    "shifted_up": ("low_traffic", "high_traffic"),
    "shifted_down": ("high_traffic", "low_traffic"),
}

Table = dict[tuple[str, str, str], np.ndarray]


def _load(path: Path) -> tuple[np.ndarray, Table]:
    columns, rows = _read_wide(path)
    ts = np.array([float(r[0]) for r in rows])
    table: Table = {}
    for i, column in enumerate(columns):
        values = np.full(len(rows), np.nan)
        for j, row in enumerate(rows):
            cell = row[i + 1] if i + 1 < len(row) else ""
            try:
                values[j] = float(cell) if cell else np.nan
            except ValueError:
                continue
        table[column] = values
    return ts, table


def _median(table: Table, node: str, metric: str, statistic: str) -> float:
    values = table.get((node, metric, statistic))
    if values is None or not np.isfinite(values).any():
        return float("nan")
    return float(np.nanmedian(values))


def _spread(table: Table, node: str, metric: str) -> float:
    values = table.get((node, metric, "Average"))
    if values is None or not np.isfinite(values).any():
        return 0.0
    return float(np.nanstd(values))


def _paths_up(callers: dict[str, set[str]], root: str) -> dict[str, list[str]]:
    """Each transitive caller of `root` that leads to the entry, with one shortest path."""
    paths: dict[str, list[str]] = {root: [root]}
    frontier = [root]
    while frontier:
        node = frontier.pop(0)
        for caller in sorted(callers.get(node, ())):
            if caller not in paths:
                paths[caller] = [*paths[node], caller]
                frontier.append(caller)
    return paths


def _eligible(edges: list[tuple[str, str]], table: Table) -> list[str]:
    callers: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        callers[b].add(a)
    out = []
    for node in sorted({n for e in edges for n in e}):
        if node == ENTRY or ENTRY not in _paths_up(callers, node):
            continue
        if not _median(table, node, "requests", "Sum") >= 5:
            continue
        if not _median(table, node, "latency", "Average") > 0:
            continue
        out.append(node)
    return out


def _live(table: Table, node: str, span: slice) -> bool:
    requests = table.get((node, "requests", "Sum"))
    latency = table.get((node, "latency", "Average"))
    return requests is not None and latency is not None and bool(
        np.all(requests[span] > 0) and np.all(np.isfinite(latency[span])))


def make_case(rng: np.random.Generator, regime: str, dataset: Path, out: Path, *,
              load_at_entry: bool = False, small_drop: bool = False,
              load_change_at: int | None = None, load_drift: bool = False) -> Path:
    """One case. With `load_at_entry`, a load test at `ENTRY` itself: requests rise at it and
    everything it calls, and the node drawn as the root is only where the load hurts (the
    bottleneck, slowing with its callers); the label is the entry, a traffic surge. With
    `small_drop`, an availability fault as small as PetShop's own (1 to 4 points, as from an
    error rate of a few percent), where the node's availability allows one. With
    `load_change_at`, the load changes during the incident: from that sample on, the window
    comes from the other traffic level's normal period (PetShop's temporal regimes vary their
    traffic over time), whatever the fault. With `load_drift`, every request count of the
    window is scaled by a level between 0.75 and 1.2 that drifts by up to 5% a sample, as in
    the temporal regimes' own `train/` windows (0.75 to 1.18 times the borrowed baseline,
    moving by up to 15% from one sample to the next)."""
    base_name, window_name = REGIMES[regime]
    root_dir = _dataset_root(dataset)
    _, base = _load(root_dir / base_name / "noissue" / "metrics.csv")
    _, window = _load(root_dir / window_name / "noissue" / "metrics.csv")
    edges = _graph(root_dir / window_name / "graph.csv")
    callers: dict[str, set[str]] = defaultdict(set)
    callees: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        callers[b].add(a)
        callees[a].add(b)
    length = len(next(iter(window.values())))
    # Baseline and window from different stretches, like a normal period recorded apart.
    base_at = int(rng.integers(0, length - BASELINE_POINTS - WINDOW_POINTS))
    window_at = int(rng.integers(0, length - WINDOW_POINTS))
    if base_name == window_name:
        while abs(window_at - base_at) < BASELINE_POINTS + 24:
            window_at = int(rng.integers(0, length - WINDOW_POINTS))
    # The root must be live in the incident window itself: a fault at a node that served no
    # requests then (no samples) would show at the alert and nowhere else.
    nodes = [n for n in _eligible(edges, window)
             if _live(window, n, slice(window_at, window_at + WINDOW_POINTS))]
    root = str(rng.choice(nodes))
    draw = rng.random()
    kind = "latency" if draw < 0.6 else "availability" if draw < 0.85 else "overload"
    if load_at_entry:
        kind = "overload"
    if small_drop:
        kind = "availability"
    if kind == "availability" and not _median(window, root, "availability", "Average") >= 90:
        # Already failing most calls in normal operation (X-Ray counts the state machine's
        # lambdas so): a drop there is invisible at the root, so the label would be a guess.
        kind = "latency"
    paths = _paths_up(callers, root)
    last = FAULT_FROM + 1 + int(rng.random() < 0.5)  # the fault lasts two or three samples
    intensity = np.zeros(WINDOW_POINTS)
    intensity[FAULT_FROM:last + 1] = 1.0
    intensity[FAULT_FROM] = rng.uniform(0.6, 1.0)  # the fault began between two samples

    incident = {key: values[window_at:window_at + WINDOW_POINTS].copy()
                for key, values in window.items()}
    if load_change_at is not None:
        other_name = "high_traffic" if window_name == "low_traffic" else "low_traffic"
        _, other = _load(root_dir / other_name / "noissue" / "metrics.csv")
        other_at = int(rng.integers(0, len(next(iter(other.values()))) - WINDOW_POINTS))
        for key, values in incident.items():
            if key in other:
                values[load_change_at:] = other[key][other_at + load_change_at:
                                                     other_at + WINDOW_POINTS]
    if load_drift:
        level = rng.uniform(0.75, 1.2)
        slope = rng.uniform(-0.05, 0.05)
        factors = level * (1.0 + slope * (np.arange(WINDOW_POINTS) - FAULT_FROM))
        for (_, metric_name, _), values in incident.items():
            if metric_name == "requests":
                values *= factors
    # Attenuation from the root to each affected node: per hop, the share of the caller's
    # requests that reach the callee, times a random factor (not every request is hit).
    reach: dict[str, float] = {root: 1.0}
    for node in sorted(paths, key=lambda n: len(paths[n])):  # every transitive caller
        child, parent = paths[node][-2:] if len(paths[node]) > 1 else (node, node)
        if parent not in reach:
            share = _median(window, child, "requests", "Sum") / max(
                _median(window, parent, "requests", "Sum"), 1.0)
            reach[parent] = reach[child] * float(np.clip(share, 0.2, 1.5)) * rng.uniform(0.4, 1)
    for balancer in BALANCERS.get(root, ()):
        reach[balancer] = rng.uniform(1.0, 3.0)
    # A fault must stand out of the root's noise, and reach the alert strongly enough to
    # page someone: otherwise the label would be a guess.
    family = "availability" if kind == "availability" else "latency"
    floor = max(4 * _spread(base, root, family),
                4 * _spread(base, ENTRY, family) / max(reach.get(ENTRY, 1.0), 1e-3))
    if kind in ("latency", "overload"):
        severity = rng.uniform(2.0, 10.0)
        delay = max(0.02, floor, severity * _median(window, root, "latency", "Average"))
        if kind == "overload":
            # Requests flood in at the root (a load test, a retry storm from outside) and go
            # on to everything it calls; the root slows under them, and its callers with it.
            load = 1.0 + severity / 4.0
            for node in _paths_up(callees, ENTRY if load_at_entry else root):
                series = incident.get((node, "requests", "Sum"))
                if series is not None:
                    series *= 1.0 + (load - 1.0) * intensity
        for node, factor in reach.items():
            for statistic, shape in LATENCY_SHAPE.items():
                series = incident.get((node, "latency", statistic))
                if series is not None:
                    series += intensity * delay * factor * shape
        metric = ("latency", "Average")
    else:
        drop = max(rng.uniform(1.0, 4.0) if small_drop else rng.uniform(2.0, 15.0), floor)
        for node, factor in reach.items():
            series = incident.get((node, "availability", "Average"))
            if series is not None:
                series[:] = np.maximum(series - intensity * drop * factor, 0.0)
        metric = ("availability", "Average")

    out.mkdir(parents=True, exist_ok=True)
    start = 1.7e9 + float(rng.integers(0, 10_000)) * STEP
    with (out / "metrics.csv").open("w") as handle:
        handle.write("timestamp,service,metric,value\n")
        blocks = ((base, base_at, BASELINE_POINTS, start),
                  (incident, 0, WINDOW_POINTS, start + BASELINE_POINTS * STEP))
        for table, at, count, t0 in blocks:
            for (node, name, statistic), values in sorted(table.items()):
                for k in range(count):
                    value = values[at + k]
                    if np.isfinite(value):
                        quoted = f'"{node}"' if "," in node else node
                        handle.write(f"{t0 + k * STEP:.0f},{quoted},"
                                     f"{_metric(name, statistic)},{value:.6g}\n")
    fired = start + (BASELINE_POINTS + FAULT_FROM) * STEP
    case = {
        "id": out.name,
        "alert": {"name": f"{metric[0]} {metric[1]}".title().replace(" ", ""),
                  "service": ENTRY, "signal": metric[0], "metric": _metric(*metric),
                  "severity": "critical", "fired_at": fired,
                  "summary": f"{metric[0]} ({metric[1]}) of {ENTRY} is abnormal"},
        "window": {"start": start, "end": start + (BASELINE_POINTS + WINDOW_POINTS) * STEP},
        "topology": [{"caller": a, "callee": b} for a, b in edges],
    }
    (out / "case.json").write_text(json.dumps(case, indent=1))
    (out / "truth.json").write_text(json.dumps({
        "root_cause": {"service": ENTRY if load_at_entry else root,
                       "kind": "traffic" if kind == "overload" else "dependency"},
        "also_correct": [],
        "notes": f"{CREDIT} (normal periods); {kind} fault injected by nightowl, {regime}"
                 + (f", load test at {ENTRY} slowing {root}" if load_at_entry else "")}))
    return out


Options = Callable[[np.random.Generator], dict[str, Any]]


def _later_groups(entry_loads: int, small_drops: int, load_changes: int,
                  load_drifts: int) -> list[tuple[int, str, str, int, Options]]:
    """The groups added after the first cases of each regime: (random stream, folder name,
    label, count, the options of `make_case`). Each has a stream of its own, so the cases
    drawn before it stay as they were when it was added."""
    return [
        (1, "entry", "entry load", entry_loads, lambda rng: {"load_at_entry": True}),
        (2, "drop", "small drop", small_drops, lambda rng: {"small_drop": True}),
        (3, "load-change", "load change", load_changes,  # from any sample but the first
         lambda rng: {"load_change_at": int(rng.integers(1, WINDOW_POINTS))}),
        (4, "load-drift", "load drift", load_drifts, lambda rng: {"load_drift": True}),
    ]


def generate(dataset: Path, out: Path, *, seed: int = 11, per_regime: int = 15,
             entry_loads: int = 4, small_drops: int = 4, load_changes: int = 4,
             load_drifts: int = 4) -> Suite:
    if not dataset.is_dir():
        raise SuiteError(f"PetShop dataset not found at {dataset}")
    suite = Suite(f"petshop-injected-seed{seed}", credit=CREDIT + " (normal periods)")
    groups = _later_groups(entry_loads, small_drops, load_changes, load_drifts)
    for r, regime in enumerate(REGIMES):
        rng = np.random.default_rng([seed, r])
        for i in range(per_regime):
            target = make_case(rng, regime, dataset, out / f"{regime}-{i:02d}")
            suite.cases.append(LabelledCase(target, load_truth(target), regime))
        for stream, name, label, count, options in groups:
            rng = np.random.default_rng([seed, r, stream])
            for i in range(count):
                target = make_case(rng, regime, dataset, out / f"{regime}-{name}-{i:02d}",
                                   **options(rng))
                suite.cases.append(LabelledCase(target, load_truth(target),
                                                f"{regime} {label}"))
    return suite
