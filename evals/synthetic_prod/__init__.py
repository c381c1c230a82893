"""A production-shaped labelled suite: three real-world-like systems, twelve fault families
and no-fault controls, written without reading the investigator.

`generate(out, seed=7, count=42)` writes `out/case-0000 ...` (DESIGN.md's scenario format)
and returns the suite, each case grouped by its fault family ("control" for the no-fault
cases). Files are reused while the `.generated` stamp matches seed, count and VERSION.

What is modelled (see the modules): a queueing model of each system (model.py) that faults
perturb locally (faults.py) so symptoms propagate the way they do in production; metric
names, scrape gaps and conventions of real exporters (render.py); sampled, mixed-format
logs with chronic noise and a little hostile text (textlogs.py); tail-sampled traces
(spans.py); Alertmanager-style alerts with thresholds and `for:` durations (build.py).
Not modelled: multiple replicas per service, per-pod series, payload faults.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from evals.cases import Suite, by_family, load_suite
from evals.synthetic_prod.build import write_case
from evals.synthetic_prod.faults import FAMILIES

VERSION = 1
HELDOUT_SEED = 2029  # read once, at the end of a round: never developed on


def plan(count: int, seed: int) -> list[tuple[str, int]]:
    """(family, system index) per case: one control in seven, families round-robin, each
    family's occurrences on different systems; then shuffled, so a case's position says
    nothing about its family."""
    out: list[tuple[str, int]] = []
    k = 0
    for i in range(count):
        if i % 7 == 6:
            out.append(("control", i // 7 % 3))
            continue
        f = k % len(FAMILIES)
        out.append((FAMILIES[f], (f + k // len(FAMILIES)) % 3))
        k += 1
    order = np.random.default_rng([seed, 99]).permutation(count)
    return [out[j] for j in order]


def generate(out: Path, *, seed: int = 7, count: int = 42, name: str = "prod") -> Suite:
    stamp = out / ".generated"
    wanted = json.dumps({"seed": seed, "count": count, "version": VERSION})
    if not (stamp.is_file() and stamp.read_text() == wanted):
        if out.exists():  # a stale case from another count or version must not linger
            shutil.rmtree(out)
        out.mkdir(parents=True)
        for i, (family, system) in enumerate(plan(count, seed)):
            rng = np.random.default_rng([seed, i, 31])
            digest = hashlib.sha1(f"prod-{seed}-{i}".encode()).hexdigest()[:12]
            write_case(
                out / f"case-{i:04d}",
                rng,
                family=family,
                system_index=system,
                case_id=f"inc-{digest}",
            )
        stamp.write_text(wanted)
    return by_family(load_suite(out, name=name))
