"""Hand-built incidents for tests: one place that writes metrics.csv, one that writes
logs.jsonl, one that writes case.json, and one that reads an investigation back as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.cli import main as cli


def write_metrics(path: Path, series: dict[tuple[str, str], np.ndarray], *, t0: float,
                  step: float) -> None:
    """`series` by (service, metric), one value per `step` seconds from `t0`."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "metrics.csv").write_text("timestamp,service,metric,value\n" + "".join(
        f"{t0 + i * step},{s},{m},{v:.4f}\n" for (s, m), values in series.items()
        for i, v in enumerate(values)))


def write_logs(path: Path, lines: list[dict[str, Any]]) -> None:
    """logs.jsonl: the lines in time order, one JSON object each."""
    (path / "logs.jsonl").write_text("".join(json.dumps(x) + "\n" for x in
                                             sorted(lines, key=lambda x: x["ts"])))


def write_case_json(path: Path, *, t0: float, step: float, samples: int, name: str,
                    service: str, signal: str, fired_at: int,
                    topology: tuple[tuple[str, str], ...] = ()) -> None:
    """case.json: a window of `samples` steps from `t0`, an alert on `service`'s `signal`
    fired at sample `fired_at`, and the call graph as (caller, callee) pairs."""
    (path / "case.json").write_text(json.dumps({
        "id": "c", "window": {"start": t0, "end": t0 + (samples - 1) * step},
        "alert": {"name": name, "service": service, "signal": signal,
                  "fired_at": t0 + fired_at * step},
        "topology": [{"caller": a, "callee": b} for a, b in topology]}))


def caller_and_slow_callee(caller: str, callee: str, *, seed: int, n: int,
                           since: int) -> dict[tuple[str, str], np.ndarray]:
    """`caller` calls `callee`; from sample `since` the callee's CPU saturates and both
    latencies jump."""
    rng = np.random.default_rng(seed)
    series = {(caller, "latency"): 100 + rng.normal(0, 3, n),
              (callee, "latency"): 40 + rng.normal(0, 1.5, n),
              (callee, "cpu"): 30 + rng.normal(0, 1, n)}
    for key, jump in (((callee, "cpu"), 60), ((callee, "latency"), 80),
                      ((caller, "latency"), 85)):
        series[key][since:] += jump
    return series


def steady(bases: dict[str, float], *, n: int, rng: np.random.Generator
           ) -> dict[tuple[str, str], np.ndarray]:
    """Services at rest: each one's latency (ms, around its base, 3% noise), requests and
    CPU share, drawn in that order, service by service."""
    series: dict[tuple[str, str], np.ndarray] = {}
    for service, base in bases.items():
        series[(service, "latency_ms")] = base + rng.normal(0, base * 0.03, n)
        series[(service, "requests")] = 300 + rng.normal(0, 6, n)
        series[(service, "cpu")] = 0.4 + rng.normal(0, 0.02, n)
    return series


def investigate_json(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """`nightowl investigate PATH --json --no-model`, as a responder's script would read it."""
    assert cli(["investigate", str(path), "--json", "--no-model"]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report
