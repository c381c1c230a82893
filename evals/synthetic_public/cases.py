"""One benchmark-shaped case: a run, its fault (or a control's noise), and the files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from evals.synthetic_public.observe import logs, re1_metrics, re2_metrics, traces
from evals.synthetic_public.systems import SYSTEMS, System, language
from evals.synthetic_public.world import KINDS, Fault, World

# Seconds of data before and after inject_time, per benchmark shape and system. RE2/RE3
# ship 720 s either side every second; we keep 600 s before and 360 s after every 2 s, so
# that a suite stays near 300 MB rather than 1 GB (a deliberate, documented deviation).
WINDOWS = {("re1", "OB"): (3600, 600), ("re1", "SS"): (420, 300), ("re1", "TT"): (660, 300),
           ("re2", "OB"): (600, 360), ("re2", "SS"): (600, 360), ("re2", "TT"): (600, 360),
           ("re3", "OB"): (600, 360), ("re3", "SS"): (600, 360), ("re3", "TT"): (600, 360)}
STEP = {"re1": 1.0, "re2": 2.0, "re3": 2.0}
CONTROLS = ["quiet", "entry_blip", "neighbour_burst", "slow_leak_all_window", "error_burst",
            "busy_all_window"]


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_case(folder: Path, rng: np.random.Generator, *, shape: str, label: str | None,
               system_index: int, case_id: str, index: int, totals: bool = False) -> None:
    system = SYSTEMS[system_index]
    pre, post = WINDOWS[(shape, system.short)]
    # RCAEval ran in late 2023 / early 2024; inject_time is whole Unix seconds.
    inject = int(datetime(2024, 1, 10, tzinfo=UTC).timestamp()) + int(rng.integers(0, 40)) \
        * 86400 + int(rng.integers(0, 86400))
    t = np.arange(inject - pre, inject + post + 1, STEP[shape])
    world = World(system, rng, t)
    fault: Fault | None = None
    note = ""
    if label is not None:
        service = str(rng.choice(system.targets))
        fault = Fault(label, KINDS[label], service, float(inject))
        note = world.inject(fault)
    else:
        note = _control(world, CONTROLS[(index // 7) % len(CONTROLS)], float(inject), shape)
    world.settle(fault)

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    nodes = {s: f"k8s-worker-{int(rng.integers(1, 5))}" for s in system.services}
    series = re1_metrics(world) if shape == "re1" else re2_metrics(world, nodes)
    keep = {fault.service} if fault is not None else set()
    _write_metrics(folder / "metrics.csv", t, series, rng, keep | {system.entry}, totals)

    delay = 0 if rng.random() < 0.3 else int(rng.integers(1, 61))
    fired = inject + delay
    metric = {"re1": "latency" if system.short == "OB" else "latency-90",
              "re2": "latency-90" if system.short == "SS" else "istio-latency-90"}.get(
                  shape, "latency-90" if system.short == "SS" else "istio-latency-90")
    alert: dict[str, Any] = {
        "name": "HighLatency", "service": system.entry, "signal": "latency",
        "severity": "critical", "fired_at": _iso(fired), "metric": metric,
        "summary": f"{metric} of {system.entry} is abnormal", "labels": {}}
    if shape == "re3" and system.short != "SS" and rng.random() < 0.5:
        alert.update(name="HighErrorRate", signal="errors", metric="istio-error-total",
                     summary=f"istio-error-total of {system.entry} is abnormal")
    give_topology = shape != "re1" and index % 2 == 0
    topology = [{"caller": a, "callee": b} for a, b, _ in system.edges] if give_topology \
        else []
    spec = {"id": case_id, "alert": alert,
            "window": {"start": _iso(float(t[0])), "end": _iso(float(t[-1]))},
            "topology": topology}
    (folder / "case.json").write_text(json.dumps(spec, indent=1))
    if shape != "re1":
        fmt = {s: _log_style(system, s, rng) for s in system.services}
        (folder / "logs.jsonl").write_text("\n".join(logs(world, fault, fmt)) + "\n")
        every = 1.5 if system.short == "TT" else 1.0
        (folder / "traces.jsonl").write_text("\n".join(traces(world, fault, every)) + "\n")
    family = fault.label if fault is not None else "control"
    truth = {"root_cause": {"service": fault.service if fault else "",
                            "kind": fault.kind if fault else "none"},
             "also_correct": [],
             "notes": f"family={family}; system={system.name}; inject_time={inject}; {note}"}
    (folder / "truth.json").write_text(json.dumps(truth, indent=1))


def _log_style(system: System, s: str, rng: np.random.Generator) -> str:
    lang = language(system, s)
    choices = {"java": ["text", "text", "nolevel", "level"], "go": ["severity", "level"],
               "node": ["nolevel", "level"], "python": ["level", "severity"],
               "csharp": ["nolevel", "text"], "nginx": ["nolevel"]}.get(lang, ["level"])
    return str(rng.choice(choices))


def _control(w: World, variant: str, at: float, shape: str) -> str:
    """No fault. The alert fires on noise; some runs carry loud trouble that is not it."""
    rng, sysm = w.rng, w.system
    others = [s for s in sysm.services if s != sysm.entry]
    victim = str(rng.choice(others))
    if variant == "entry_blip":
        # A few seconds of slow requests at the entry (a GC pause, a burst of big pages).
        start = at + float(rng.uniform(-10, 20))
        blip = (w.t >= start) & (w.t < start + float(rng.uniform(5, 30)))
        w.own[sysm.entry] = w.own[sysm.entry] + blip * float(rng.uniform(0.05, 0.3))
        return f"control: entry latency blip at {start:.0f}"
    if variant == "neighbour_burst":
        # A backup or cron job: a short loud CPU/disk burst somewhere off the request path.
        start = at + float(rng.uniform(-120, 60))
        burst = (w.t >= start) & (w.t < start + float(rng.uniform(20, 60)))
        w.cpu[victim] = w.cpu[victim] + burst * 0.7 * w.limit[victim]
        w.disk[victim] = w.disk[victim] + burst * float(rng.uniform(1e7, 5e7))
        return f"control: {victim} burst at {start:.0f}"
    if variant == "slow_leak_all_window":
        w.mem[victim] = w.mem[victim] * (1 + 0.8 * (w.t - w.t[0]) / (w.t[-1] - w.t[0]))
        return f"control: {victim} memory grows all window"
    if variant == "error_burst":
        start = at + float(rng.uniform(-200, -60))
        burst = (w.t >= start) & (w.t < start + float(rng.uniform(10, 40)))
        w.own_err[victim] = w.own_err[victim] + burst * float(rng.uniform(0.05, 0.3))
        return f"control: {victim} error burst at {start:.0f}"
    if variant == "busy_all_window":
        w.cpu[victim] = np.maximum(w.cpu[victim], 0.9 * w.limit[victim])
        return f"control: {victim} CPU high all window"
    return "control: quiet"


def _write_metrics(path: Path, t: np.ndarray, series: dict[tuple[str, str], np.ndarray],
                   rng: np.random.Generator, keep: set[str], totals: bool = False) -> None:
    """Long form. Some series are missing altogether (an exporter not scraped), others
    miss a few samples; never the ones a case's label or alert stands on. With `totals`,
    every `*-total` series is written as the running total a raw export holds (before
    Prometheus's rate()), one in ten restarting from zero somewhere in the window; its own
    random stream, so the incidents stay those of the suite without it."""
    stamps = [str(int(x)) for x in t]
    rows = ["timestamp,service,metric,value"]
    restarts = np.random.default_rng(int(t[0]))
    for (service, metric), values in series.items():
        if service not in keep and rng.random() < 0.06:
            continue
        gaps = rng.random(t.size) < (0.004 if rng.random() < 0.3 else 0.0)
        if totals and metric.endswith("total"):
            values = _running_total(t, values, restarts)
        text = [("" if gap or not np.isfinite(v) else f"{v:.12g}" if totals else f"{v:.6g}")
                for v, gap in zip(values.tolist(), gaps.tolist(), strict=True)]
        prefix = f",{service},{metric},"
        rows.extend(stamp + prefix + value for stamp, value in zip(stamps, text, strict=True))
    path.write_text("\n".join(rows) + "\n")


def _running_total(t: np.ndarray, rate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    step = np.diff(t, prepend=t[0])
    total = float(rng.uniform(1e3, 1e6)) + np.cumsum(np.nan_to_num(np.maximum(rate, 0)) * step)
    if rng.random() < 0.1:  # the container restarted: its counters start again from 0
        at = int(rng.integers(t.size // 4, t.size))
        total[at:] -= total[at - 1]
    return total
