"""One case, start to finish: a cluster, a fault or a control, the noise, the model run,
the alert, the window around it, and the six files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from evals.synthetic_cluster.alerts import choose, render
from evals.synthetic_cluster.cluster import STEP, Cluster
from evals.synthetic_cluster.faults import FAMILIES, MIN
from evals.synthetic_cluster.metrics import (
    Writer,
    write_nodes,
    write_pods,
    write_stores,
    write_workloads,
)
from evals.synthetic_cluster.model import Model
from evals.synthetic_cluster.noise import CONTROLS, background
from evals.synthetic_cluster.systems import System
from evals.synthetic_cluster.telemetry import Logs, events, iso, traces

SPAN = 230 * MIN  # simulated steps: room for a 2-hour lead-in, a slow fault and the tail
METRICS_BUDGET = 2_800_000  # bytes; the rest of the 4 MB goes to logs, traces, events


def build_case(path: Path, ident: str, system: System, family: str,
               rng: np.random.Generator) -> None:
    control = family in CONTROLS
    seed = [int(x) for x in rng.integers(0, 2**31, 2)]  # for the retried metrics export
    on = int(rng.integers(125, 140)) * MIN
    # Controls that flap with the daily curve need the onset near the afternoon peak.
    hour_on = float(rng.uniform(15, 19)) if control else float(rng.choice(
        [rng.uniform(0, 24), rng.uniform(8, 22), rng.uniform(9, 18)]))
    hour0 = (hour_on - on * STEP / 3600) % 24
    cluster = Cluster(system, SPAN, rng)
    model = Model(cluster, rng, hour0)
    story = (CONTROLS if control else FAMILIES)[family](model, cluster, rng, on)
    background(model, cluster, rng, story)
    model.run()
    alert = choose(model, story, rng, latest=SPAN - 11 * MIN)
    lead = (alert.step - on) / MIN
    pre = max(float(rng.uniform(45, 120)), lead + 10 if not control else 0)
    lo = max(0, alert.step - int(pre * MIN))
    hi = min(SPAN, alert.step + int(rng.uniform(3, 10) * MIN))
    day = 1_704_067_200 + int(rng.integers(0, 540)) * 86_400
    epoch0 = day + int(hour0 * 3600)

    # Export at the sources' own intervals if it fits, else at a coarser step, else with a
    # shorter lead-in (never shorter than 45 minutes, nor than the fault's own lead).
    for slow, trim in ((1, False), (2, False), (4, False), (4, True)):
        if trim:
            lo = max(lo, alert.step - int(max(45.0, lead + 10) * MIN))
        wr = Writer(model, lo, hi, epoch0, np.random.default_rng([*seed, slow, trim]), slow)
        write_workloads(wr, story)
        write_nodes(wr)
        write_stores(wr)
        write_pods(wr, story, np.random.default_rng([*seed, 1]))
        if sum(map(len, wr.rows)) <= METRICS_BUDGET:
            break
    path.mkdir(parents=True)
    (path / "metrics.csv").write_text("timestamp,service,metric,value\n" + "".join(wr.rows))

    logs = Logs(model, lo, hi, epoch0, rng)
    for spec in story.logs:
        logs.spec(spec, 350)
    logs.routine(story)
    (path / "logs.jsonl").write_text(logs.text())
    (path / "traces.jsonl").write_text(traces(model, story, lo, hi, epoch0, rng))
    ev = events(model, story, lo, hi, epoch0)
    if ev:
        (path / "events.jsonl").write_text(ev)

    card = render(alert, model, rng, system.namespace)
    source = card.pop("source")
    card["labels"]["alert_source"] = source
    card["fired_at"] = iso(epoch0 + alert.step * STEP)
    case: dict[str, Any] = {"id": ident, "alert": card,
            "window": {"start": iso(epoch0 + lo * STEP), "end": iso(epoch0 + hi * STEP)}}
    edges = [{"caller": a, "callee": b} for a, b, _ in system.edges()]
    shape = rng.random()
    if shape < 0.4:
        case["topology"] = edges
    elif shape < 0.75:  # a service catalogue that lags reality: some edges never entered
        keep = rng.random(len(edges)) < 0.6
        case["topology"] = [e for e, k in zip(edges, keep, strict=True) if k]
    (path / "case.json").write_text(json.dumps(case, indent=2) + "\n")
    fam = "control" if control else story.family  # the group name the other suites use
    notes = (f"family={fam}; variant={story.family}; system={system.name}; "
             f"onset={iso(epoch0 + on * STEP)}; "
             f"alert={source}:{alert.service}/{alert.signal}; {story.detail}")
    truth = {"root_cause": {"service": story.truth, "kind": story.kind},
             "also_correct": story.also, "notes": notes}
    (path / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
