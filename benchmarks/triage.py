"""Triage speed without a model: one case directory, the engine alone.

Each run is a fresh `nightowl triage DIR --json --no-model` process on a busy case (a day of
the actor's activity, other principals' noise, a detonation and its follow-on), so the figure
includes loading the case from disk and the interpreter's start. The in-process figure is the
engine alone. Target: one case in under 1 s.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agents.security.triage import triage_directory
from evals.security.dataset import DATASET
from evals.security.generate import build_suite

RUNS = 5


def main() -> None:
    if not DATASET.is_dir():
        print(f"skipped: the shared security dataset is missing ({DATASET})")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folders = build_suite(DATASET, Path(tmp) / "suite", split="dev", seed=7)
        biggest = max(folders, key=lambda f: (f / "events.jsonl").stat().st_size)
        events = sum(1 for _ in (biggest / "events.jsonl").open())
        print(f"case: {events} events ({biggest.name})")
        walls = []
        for _ in range(RUNS):
            started = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "bot.cli", "--log-level", "ERROR",
                                  "triage", str(biggest), "--json", "--no-model"],
                                 capture_output=True, text=True, check=True)
            walls.append(time.perf_counter() - started)
            json.loads(out.stdout)
        print(f"nightowl triage (process): median {statistics.median(walls):.2f} s, "
              f"max {max(walls):.2f} s over {RUNS} runs")
        inner = []
        for folder in folders:
            started = time.perf_counter()
            asyncio.run(triage_directory(folder))
            inner.append(time.perf_counter() - started)
        print(f"engine in process over {len(folders)} cases: median "
              f"{statistics.median(inner) * 1000:.1f} ms, max {max(inner) * 1000:.1f} ms")
        print("target: one case < 1 s without a model")
